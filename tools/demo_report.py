"""Summarise a training run: a table, AP/loss curves and a grid of detections.

The tool is mmvanilla.tools.demo_report (its main(argv) runs in-process too); this file
runs it as a program: python tools/demo_report.py --help.
"""
from mmvanilla.cli import run_as_program

if __name__ == '__main__':
    run_as_program('mmvanilla.tools.demo_report')
