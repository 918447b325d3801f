"""Generate the embedded COCO-format shapes dataset (see mmvanilla.datasets.shapes).

The tool is mmvanilla.tools.make_shapes_dataset (its main(argv) runs in-process too); this file
runs it as a program: python tools/make_shapes_dataset.py --help.
"""
from mmvanilla.cli import run_as_program

if __name__ == '__main__':
    run_as_program('mmvanilla.tools.make_shapes_dataset')
