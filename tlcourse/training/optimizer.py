"""AdamW with weight decay on the >= 2-D weights only.

Decoupled weight decay pulls every decayed weight towards 0. It is meant for the matrices that mix features
(linear layers, embeddings); biases and LayerNorm gains/shifts (1-D) are left alone, since pulling a LayerNorm
gain to 0 or a bias to 0 fights what they are for. The rule here is nanoGPT's: **decay exactly the parameters
with ``dim() >= 2``**. Embeddings are 2-D, so they are decayed, as transformers' ``Trainer`` does too (it excludes
only biases and LayerNorm weights, which for BERT and GPT-2 are exactly the 1-D parameters); some recipes also
spare embeddings, which this rule does not.

Example:
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Embedding(10, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    >>> [(len(g["params"]), g["weight_decay"]) for g in optimizer_groups(model, 0.1)]   # 2 matrices; 3 vectors
    [(2, 0.1), (3, 0.0)]
"""

from __future__ import annotations

import torch
from torch import nn

from tlcourse.training.config import TrainConfig


def optimizer_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two AdamW parameter groups: the trainable >= 2-D parameters with ``weight_decay``, the rest with 0.

    A tied parameter (GPT-2's embedding is its LM head) appears once: ``model.parameters()`` yields each
    Parameter once. Frozen parameters (``requires_grad=False``) are left out.

    Shapes:
        returns ``[{"params": [...], "weight_decay": weight_decay}, {"params": [...], "weight_decay": 0.0}]``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or weight_decay < 0:
        raise ValueError(f"weight_decay: expected a float >= 0, got {weight_decay!r}")
    trainable = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in trainable if p.dim() >= 2], "weight_decay": float(weight_decay)},
        {"params": [p for p in trainable if p.dim() < 2], "weight_decay": 0.0},
    ]


def make_optimizer(model: nn.Module, config: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """``torch.optim.AdamW`` over :func:`optimizer_groups` with the config's lr, betas and eps; on a GPU the fused
    kernel (one launch for all parameters), elsewhere PyTorch's default implementation."""
    return torch.optim.AdamW(optimizer_groups(model, config.weight_decay), lr=config.lr, betas=config.betas,
                             eps=config.eps, fused=True if device.type == "cuda" else None)
