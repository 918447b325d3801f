"""Deployment in reduced precision: bf16/fp16 in PyTorch, INT8 via OpenVINO."""
from .network import DetectorNetwork, check_single_stage
from .precision import DESCRIPTIONS, PRECISIONS, add_precision_arg, resolve_precision
from .reduced_precision import to_reduced_precision

__all__ = ['DESCRIPTIONS', 'PRECISIONS', 'DetectorNetwork', 'add_precision_arg',
           'check_single_stage', 'resolve_precision',
           'to_reduced_precision']
