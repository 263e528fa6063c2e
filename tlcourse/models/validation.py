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


def check_ids_or_embeds(input_ids: Tensor | None, inputs_embeds: Tensor | None, hidden_size: int) -> tuple[int, int]:
    """``(B, T)`` of the model's input: exactly one of ``input_ids`` (B, T) or ``inputs_embeds`` (B, T, H, float).

    Example:
        >>> check_ids_or_embeds(None, torch.zeros(2, 5, 8), 8)
        (2, 5)
        >>> check_ids_or_embeds(torch.tensor([[1, 2]]), torch.zeros(1, 2, 8), 8)
        Traceback (most recent call last):
        ...
        ValueError: input_ids, inputs_embeds: expected exactly one of them, got both
    """
    if (input_ids is None) == (inputs_embeds is None):
        raise ValueError(f"input_ids, inputs_embeds: expected exactly one of them, got "
                         f"{'both' if input_ids is not None else 'neither'}")
    if input_ids is not None:
        check_input_ids(input_ids)
        return tuple(input_ids.shape)
    ok = isinstance(inputs_embeds, Tensor) and inputs_embeds.is_floating_point() and inputs_embeds.dim() == 3
    if not ok or inputs_embeds.shape[1] == 0 or inputs_embeds.shape[2] != hidden_size:
        raise ValueError(f"inputs_embeds: expected a float tensor (B, T, {hidden_size}) with T >= 1, "
                         f"got {_describe(inputs_embeds)}")
    return tuple(inputs_embeds.shape[:2])


def past_length(past_key_values: tuple | None, num_layers: int) -> int:
    """``T_past``, the positions before the new ones (a KV cache, or prefix tuning's prefixes); raise unless
    ``past_key_values`` is ``num_layers`` pairs (k, v) of (B, heads, T_past, head_size) tensors.

    Example:
        >>> past_length(((torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 4)),), num_layers=1)
        3
    """
    if past_key_values is None:
        return 0
    ok = isinstance(past_key_values, (tuple, list)) and len(past_key_values) == num_layers and all(
        isinstance(pair, (tuple, list)) and len(pair) == 2 and all(isinstance(t, Tensor) and t.dim() == 4 for t in pair)
        for pair in past_key_values)
    if not ok:
        raise ValueError(f"past_key_values: expected {num_layers} pairs (k, v) of (B, heads, T_past, head_size) "
                         f"tensors, one per layer, got {type(past_key_values).__name__}")
    return past_key_values[0][0].shape[2]
