"""The token-level cross-entropy behind both pretraining losses (MLM and CLM): -100 ignored, float32 logits."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from tlcourse.models.validation import check_ids


def token_cross_entropy(logits: Tensor, labels: Tensor, *, name: str = "labels") -> Tensor:
    """Mean cross-entropy of each position's logits against its label, over the labels that are not -100.

    ``name`` is the labels' argument name in error messages.

    Shapes:
        logits: (B, T, V); labels: (B, T), integer; returns a scalar.

    Example:
        >>> import torch
        >>> token_cross_entropy(torch.zeros(1, 2, 4), torch.tensor([[3, -100]]))    # uniform over 4: log 4
        tensor(1.3863)
    """
    if not isinstance(logits, Tensor) or logits.dim() != 3:
        got = f"shape {tuple(logits.shape)}" if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"logits: expected a tensor (B, T, V), got {got}")
    check_ids(name, labels, tuple(logits.shape[:2]))
    return F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=-100)  # over B*T positions
