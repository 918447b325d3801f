"""Quantize a trained detector to INT8 (ONNX Runtime static quantization to a

The tool is mmvanilla.tools.quantize (its main(argv) runs in-process too); this file
runs it as a program: python tools/quantize.py --help.
"""
from mmvanilla.cli import run_as_program

if __name__ == '__main__':
    run_as_program('mmvanilla.tools.quantize')
