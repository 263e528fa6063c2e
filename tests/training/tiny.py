"""A tiny GPT-2 and token data for the training tests (imported by the tests and by the torchrun worker)."""

from __future__ import annotations

import torch

from tlcourse.models import GPT2Config, GPT2LMHeadModel

GPT2 = dict(vocab_size=61, n_positions=16, n_embd=32, n_layer=2, n_head=4, bos_token_id=0, eos_token_id=0)


def tiny_gpt2(seed: int = 0, dropout: float = 0.0) -> GPT2LMHeadModel:
    """Our GPT2LMHeadModel, seeded; ``dropout`` sets all three dropout probabilities."""
    torch.manual_seed(seed)
    return GPT2LMHeadModel(GPT2Config(**GPT2, resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout))


def token_data(n: int, seq: int = 12, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    """``n`` examples of ``seq`` random tokens with ``labels = input_ids`` (every row the same length, so every
    micro-batch holds as many loss targets)."""
    ids = torch.randint(1, GPT2["vocab_size"], (n, seq), generator=torch.Generator().manual_seed(seed))
    return [{"input_ids": row, "labels": row.clone()} for row in ids]


def params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Detached copies of the parameters, by name."""
    return {name: p.detach().clone() for name, p in model.named_parameters()}
