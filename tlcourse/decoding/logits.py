"""Turning next-token logits into a choice: greedy, temperature, top-k and top-p, as transformers does.

For sampling, transformers' ``generate`` applies its warpers in this order: temperature, then top-k, then top-p
(each only when it changes something), then a softmax and ``torch.multinomial``. A filter sets the logits of the
tokens it removes to ``-inf``, so the softmax gives them probability 0:

- **top-k** keeps every token whose logit is at least the k-th largest: ties with the k-th value are kept, so
  more than k tokens can survive;
- **top-p** (nucleus) keeps the smallest set of most probable tokens whose probability reaches ``p``, including
  the token that crosses ``p``.

Both keep at least ``min_tokens_to_keep`` tokens. The tests compare each with transformers' ``TopKLogitsWarper``
and ``TopPLogitsWarper`` on crafted distributions (ties, boundaries such as p = 0.8 = 0.5 + 0.3, -inf entries).

Example:
    >>> logits = torch.tensor([[2.0, 1.0, 1.0, 0.0]])
    >>> top_k_filter(logits, 2)                                    # the tie with the 2nd value survives
    tensor([[2., 1., 1., -inf]])
    >>> top_p_filter(torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log(), 0.8).exp()
    tensor([[0.5000, 0.3000, 0.0000, 0.0000]])
"""

from __future__ import annotations

import torch
from torch import Tensor

from tlcourse.checks import reference


def _check_logits(logits: Tensor) -> None:
    if not isinstance(logits, Tensor) or logits.dim() < 1 or not logits.is_floating_point():
        got = f"{logits.dtype} tensor of shape {tuple(logits.shape)}" if isinstance(logits, Tensor) else (
            type(logits).__name__)
        raise ValueError(f"logits: expected a floating-point tensor (..., V), got {got}")


def _check_min_tokens(min_tokens_to_keep: int) -> None:
    if isinstance(min_tokens_to_keep, bool) or not isinstance(min_tokens_to_keep, int) or min_tokens_to_keep < 1:
        raise ValueError(f"min_tokens_to_keep: expected a positive int, got {min_tokens_to_keep!r}")


@reference
def greedy_step(logits: Tensor) -> Tensor:
    """The most probable next token of each row: ``argmax`` over the vocabulary (the first on a tie).

    Shapes:
        logits: (B, V); returns (B,), int64.

    Example:
        >>> greedy_step(torch.tensor([[0.1, 2.0, -1.0], [3.0, 3.0, 0.0]]))
        tensor([1, 0])
    """
    _check_logits(logits)
    return logits.argmax(dim=-1)


@reference
def apply_temperature(logits: Tensor, temperature: float) -> Tensor:
    """``logits / temperature``: below 1 sharpens the distribution towards greedy, above 1 flattens it.

    Shapes:
        logits: (..., V); returns the same shape.

    Example:
        >>> apply_temperature(torch.tensor([2.0, 1.0]), 0.5)
        tensor([4., 2.])
    """
    _check_logits(logits)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature: expected a number > 0, got {temperature!r}")
    return logits / temperature


@reference
def top_k_filter(logits: Tensor, k: int, min_tokens_to_keep: int = 1) -> Tensor:
    """Keep the tokens whose logit is at least the k-th largest of their row (ties kept); the rest get ``-inf``.

    ``k`` is raised to ``min_tokens_to_keep`` and capped at V, as transformers' ``TopKLogitsWarper``.

    Shapes:
        logits: (..., V); returns the same shape.

    Example:
        >>> top_k_filter(torch.tensor([1.0, 2.0, 2.0, 2.0, 0.0]), 2)
        tensor([-inf, 2., 2., 2., -inf])
    """
    _check_logits(logits)
    _check_min_tokens(min_tokens_to_keep)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k: expected a positive int, got {k!r}")
    k = min(max(k, min_tokens_to_keep), logits.shape[-1])
    kth_largest = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth_largest, float("-inf"))


@reference
def top_p_filter(logits: Tensor, p: float, min_tokens_to_keep: int = 1) -> Tensor:
    """Nucleus filtering: keep the most probable tokens up to and including the one whose cumulative probability
    reaches ``p``; the rest get ``-inf``. At least ``min_tokens_to_keep`` tokens are kept.

    As transformers' ``TopPLogitsWarper``: sort the logits ascending, take the cumulative softmax, remove the
    tokens where it is ``<= 1 - p``.

    Shapes:
        logits: (..., V); returns the same shape.

    Example:
        >>> probs = torch.tensor([0.05, 0.5, 0.15, 0.3])
        >>> top_p_filter(probs.log(), 0.81).exp()                     # 0.5 + 0.3 < 0.81: 0.15 crosses, kept
        tensor([0.0000, 0.5000, 0.1500, 0.3000])
    """
    _check_logits(logits)
    _check_min_tokens(min_tokens_to_keep)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 < p <= 1.0:
        raise ValueError(f"p: expected a probability in (0, 1], got {p!r}")
    sorted_logits, order = torch.sort(logits, dim=-1)  # ascending, (..., V)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove_sorted = cumulative <= 1 - p
    remove_sorted[..., -min_tokens_to_keep:] = False  # the most probable tokens always stay
    remove = remove_sorted.scatter(-1, order, remove_sorted)  # back to vocabulary order
    return logits.masked_fill(remove, float("-inf"))


def warp_logits(logits: Tensor, *, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                min_tokens_to_keep: int = 1) -> Tensor:
    """Temperature, then top-k (``top_k > 0``), then top-p (``top_p < 1``): transformers' sampling order.

    Shapes:
        logits: (..., V), float32; returns the same shape.

    Example:
        >>> warp_logits(torch.tensor([[3.0, 2.0, 1.0, 0.0]]), temperature=0.5, top_k=3)
        tensor([[6., 4., 2., -inf]])
    """
    if temperature != 1.0:
        logits = apply_temperature(logits, temperature)
    if top_k != 0:
        logits = top_k_filter(logits, top_k, min_tokens_to_keep)
    if top_p < 1.0:
        logits = top_p_filter(logits, top_p, min_tokens_to_keep)
    return logits
