"""Deploy a trained detector as one end-to-end model file (ONNX) and a JSON description.

The tool is mmvanilla.tools.deploy (its main(argv) runs in-process too); this file
runs it as a program: python tools/deploy.py --help.
"""
from mmvanilla.cli import run_as_program

if __name__ == '__main__':
    run_as_program('mmvanilla.tools.deploy')
