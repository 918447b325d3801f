"""Detector inference speed at the config's test scale (1280x800), fused first.

The tool is mmvanilla.tools.benchmark (its main(argv) runs in-process too); this file
runs it as a program: python tools/benchmark.py --help.
"""
from mmvanilla.cli import run_as_program

if __name__ == '__main__':
    run_as_program('mmvanilla.tools.benchmark')
