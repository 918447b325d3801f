"""Train a detector (mmdet's tools/train.py interface, with mmvanilla's checks).

The tool is mmvanilla.tools.train (its main(argv) runs in-process too); this file
runs it as a program: python tools/train.py --help.
"""
from mmvanilla.cli import run_as_program

if __name__ == '__main__':
    run_as_program('mmvanilla.tools.train')
