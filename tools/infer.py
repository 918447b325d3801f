"""Run a detector on your own images and draw what it finds.

The tool is mmvanilla.tools.infer (its main(argv) runs in-process too); this file
runs it as a program: python tools/infer.py --help.
"""
from mmvanilla.cli import run_as_program

if __name__ == '__main__':
    run_as_program('mmvanilla.tools.infer')
