"""Where and in what precision training runs: one device string and one dtype name, resolved once.

No ``.cuda()`` anywhere else: the trainer moves the model and each batch to :func:`resolve_device`'s answer and
wraps forward passes in :func:`autocast`. Under torchrun each process takes the GPU of its ``LOCAL_RANK``.

Example:
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_dtype("auto", torch.device("cpu"))          # bf16 autocast only on a GPU, unless asked for
    torch.float32
    >>> with autocast(torch.device("cpu"), torch.bfloat16):
    ...     (torch.ones(2, 2) @ torch.ones(2, 2)).dtype
    torch.bfloat16
"""

from __future__ import annotations

import contextlib

import torch


def resolve_device(device: str, local_rank: int = 0) -> torch.device:
    """``"auto"``: ``cuda:<local_rank>`` when CUDA is available, else the CPU; ``"cuda"``: ``cuda:<local_rank>``;
    anything else: ``torch.device(device)``. Raises ``ValueError`` for CUDA on a machine without it."""
    if not isinstance(device, str):
        raise TypeError(f"device: expected a str such as 'auto', 'cpu' or 'cuda', got {type(device).__name__}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    resolved = torch.device(f"cuda:{local_rank}" if device == "cuda" else device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: expected a device this machine has, got {device!r} (torch.cuda.is_available() "
                         "is False); use 'auto' or 'cpu'")
    return resolved


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """The autocast dtype for a ``TrainConfig.dtype``: ``"auto"`` is bf16 on a GPU that supports it, else float32."""
    if dtype == "auto":
        on_bf16_gpu = device.type == "cuda" and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if on_bf16_gpu else torch.float32
    names = {"float32": torch.float32, "bf16": torch.bfloat16}
    if dtype not in names:
        raise ValueError(f"dtype: expected 'auto', 'float32' or 'bf16', got {dtype!r}")
    return names[dtype]


def autocast(device: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager:
    """``torch.autocast`` to ``dtype`` on ``device`` for bf16; a no-op context for float32 (plain float32 math)."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
