"""FLOPs and parameters of a detector and its backbone, fused and unfused.

The tool is mmvanilla.tools.get_flops (its main(argv) runs in-process too); this file
runs it as a program: python tools/get_flops.py --help.
"""
from mmvanilla.cli import run_as_program

if __name__ == '__main__':
    run_as_program('mmvanilla.tools.get_flops')
