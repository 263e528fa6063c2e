"""Checks shared by the models, each a clear ``ValueError`` before any work: config sizes and the tensors a model
is called with.

Example:
    >>> check_input_ids(torch.tensor([[5, 7, 9]]))
    >>> check_input_ids(torch.tensor([[0.5, 1.0]]))
    Traceback (most recent call last):
    ...
    ValueError: input_ids: expected an integer tensor (B, T) with T >= 1, got torch.float32 tensor of shape (1, 2)
"""

from __future__ import annotations

import torch
from torch import Tensor

_INTEGER_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


def _describe(value: object) -> str:
    return f"{value.dtype} tensor of shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__


def check_positive_ints(config: object, names: tuple[str, ...]) -> None:
    """Raise ``ValueError`` naming the first of the fields ``names`` of ``config`` that is not a positive int."""
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected a positive int, got {value!r}")


def check_input_ids(input_ids: Tensor) -> None:
    """Raise ``ValueError`` unless ``input_ids`` is a 2-D integer tensor (B, T) with at least one position."""
    is_ids = isinstance(input_ids, Tensor) and input_ids.dim() == 2 and input_ids.dtype in _INTEGER_DTYPES
    if not is_ids or input_ids.shape[1] == 0:
        raise ValueError(f"input_ids: expected an integer tensor (B, T) with T >= 1, got {_describe(input_ids)}")


def check_ids(name: str, value: Tensor | None, shape: tuple[int, ...]) -> None:
    """Raise ``ValueError`` unless ``value`` is ``None`` or an integer/bool tensor of ``shape`` (masks, labels)."""
    if value is None:
        return
    if not isinstance(value, Tensor) or tuple(value.shape) != tuple(shape) or value.is_floating_point():
        raise ValueError(f"{name}: expected an integer tensor of shape {tuple(shape)}, got {_describe(value)}")
