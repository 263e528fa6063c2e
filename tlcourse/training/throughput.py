"""How fast training goes: tokens per second and, on a GPU, model FLOPs utilisation (MFU).

Training costs about ``6 * N`` floating-point operations per token for a model of ``N`` parameters (2 for the
forward matmuls, 4 for the backward), the estimate of Kaplan et al. (2020) and PaLM's MFU; the attention scores
add ``12 * n_layer * T * d_model`` per token, small next to ``6 * N`` at the sequence lengths used here and left
out. MFU divides the FLOPs achieved, ``6 * N * tokens/s``, by the GPU's peak dense bf16 rate.

Example:
    >>> mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])                  # the second row is padded
    >>> count_tokens({"input_ids": torch.ones(2, 4, dtype=torch.long), "attention_mask": mask})
    6
    >>> mfu(n_params=1e9, tokens_per_s=1e4, device=torch.device("cpu")) is None       # no peak known on a CPU
    True
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

#: Peak dense bf16 tensor-core FLOP/s, by a substring of ``torch.cuda.get_device_name()``; the first key found in
#: the name wins, so more specific names come first (NVIDIA data sheets, without sparsity).
PEAK_BF16_FLOPS = {
    "H100 PCIe": 756e12,
    "H100": 989e12,
    "H200": 989e12,
    "A100": 312e12,
    "L40S": 362e12,
    "L4": 121e12,
}


def count_tokens(batch: dict[str, Tensor]) -> int:
    """The real tokens of a batch: ``attention_mask.sum()`` when there is a mask, else ``input_ids.numel()``.

    A batch of several inputs per example (a siamese pair: ``input_ids_a`` with ``attention_mask_a``, ...) counts
    the tokens of each ``input_ids*`` key with its own mask.

    Example:
        >>> count_tokens({"input_ids": torch.ones(2, 3), "attention_mask": torch.tensor([[1, 1, 0], [1, 0, 0]])})
        3
        >>> count_tokens({"input_ids_a": torch.ones(2, 3), "input_ids_b": torch.ones(2, 1)})
        8
    """
    keys = [key for key in batch if key.startswith("input_ids")] if isinstance(batch, dict) else []
    if not keys:
        got = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"batch: expected a dict with 'input_ids' (and optionally 'attention_mask'), got {got}")
    total = 0
    for key in keys:
        mask = batch.get(key.replace("input_ids", "attention_mask", 1))
        total += int(mask.sum()) if mask is not None else batch[key].numel()
    return total


def count_parameters(model: nn.Module) -> int:
    """Parameters of ``model``, each tied one counted once."""
    return sum(p.numel() for p in model.parameters())


def peak_flops(device: torch.device) -> float | None:
    """The peak dense bf16 FLOP/s of a known GPU (:data:`PEAK_BF16_FLOPS`); ``None`` on a CPU or an unknown GPU."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((flops for key, flops in PEAK_BF16_FLOPS.items() if key in name), None)


def mfu(n_params: int | float, tokens_per_s: float, device: torch.device) -> float | None:
    """Model FLOPs utilisation, ``6 * n_params * tokens_per_s / peak``, in [0, 1]; ``None`` where no peak is known."""
    peak = peak_flops(device)
    return None if peak is None else 6.0 * n_params * tokens_per_s / peak
