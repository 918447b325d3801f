"""Fuse a trained detector's backbone and write a deploy checkpoint and config.

The tool is mmvanilla.tools.reparameterize (its main(argv) runs in-process too); this file
runs it as a program: python tools/reparameterize.py --help.
"""
from mmvanilla.cli import run_as_program

if __name__ == '__main__':
    run_as_program('mmvanilla.tools.reparameterize')
