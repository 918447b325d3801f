"""Generate the embedded COCO-format shapes dataset (see mmvanilla.datasets.shapes)."""
import argparse
from typing import List, Optional

from mmvanilla.datasets import make_shapes_dataset
from mmvanilla_runtime.failures import OneLineParser


def main(argv: Optional[List[str]] = None) -> None:
    parser = OneLineParser(description=__doc__)
    parser.add_argument('root', nargs='?', default='data/shapes', help='output folder')
    parser.add_argument('--num-train', type=int, default=160)
    parser.add_argument('--num-val', type=int, default=40)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--size', type=int, nargs=2, default=[320, 256], metavar=('W', 'H'),
                        help='image size (1280 800 gives the COCO configs\' exact test scale)')
    args = parser.parse_args(argv)
    files = make_shapes_dataset(args.root, args.num_train, args.num_val, tuple(args.size),
                                seed=args.seed)
    print('wrote', ', '.join(files.values()))

