"""Export the fused backbone (or the detector's network) to ONNX and verify it.

The tool is mmvanilla.tools.export_onnx (its main(argv) runs in-process too); this file
runs it as a program: python tools/export_onnx.py --help.
"""
from mmvanilla.cli import run_as_program

if __name__ == '__main__':
    run_as_program('mmvanilla.tools.export_onnx')
