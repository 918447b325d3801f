"""Test a detector (mmdet's tools/test.py interface, plus --deploy).

The tool is mmvanilla.tools.test (its main(argv) runs in-process too); this file
runs it as a program: python tools/test.py --help.
"""
from mmvanilla.cli import run_as_program

if __name__ == '__main__':
    run_as_program('mmvanilla.tools.test')
