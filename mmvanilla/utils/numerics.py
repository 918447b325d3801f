"""How far two sets of outputs are apart (torch alone: the backbone's
benchmark compares fused and unfused without importing mmdet)."""
from typing import List

from torch import Tensor


def max_rel_err(got: List[Tensor], expected: List[Tensor]) -> float:
    """Largest ``max|g - e| / max|e|`` over matching tensors."""
    return max(((g - e).abs().max() / e.abs().max().clamp_min(1e-12)).item()
               for g, e in zip(got, expected))
