"""Deployment: the precision table (``precision``), the end-to-end graph and
its artefact folder (``end_to_end``, ``artefact``; tools/deploy.py), INT8
quantization, and the artefact inside mmengine (``deployed_detector``)."""
from .network import DetectorNetwork, check_single_stage
from .precision import DESCRIPTIONS, PRECISIONS, add_precision_arg, resolve_precision
from .reduced_precision import to_reduced_precision

__all__ = ['DESCRIPTIONS', 'PRECISIONS', 'DetectorNetwork', 'add_precision_arg',
           'check_single_stage', 'resolve_precision',
           'to_reduced_precision']
