"""SpanBERT's span masking: mask contiguous spans of geometric length until 15 % of the tokens are chosen.

Joshi et al. (2020) sample a span length ``l ~ Geo(p = 0.2)`` clipped at 10 (SpanBERT's code renormalises the
geometric distribution over 1..10, mean 3.8), pick a uniformly random start, and repeat until the budget
``ceil(0.15 * n)`` of a sequence of ``n`` tokens is used; the 80/10/10 replacement is decided once per span (the
whole span becomes [MASK], or random tokens, or stays). SpanBERT counts span lengths in whole words; here they
count tokens, and spans never cross special tokens (padding included) or another span.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor

from tlcourse.models.validation import check_input_ids
from tlcourse.pretraining.masking import _check_probability, special_tokens_mask


def span_length_distribution(p: float = 0.2, max_span_length: int = 10) -> Tensor:
    """SpanBERT's span-length probabilities: ``Geo(p)`` over ``1..max_span_length``, renormalised to sum to 1.

    Shapes:
        returns (max_span_length,): entry ``i`` is the probability of length ``i + 1``.

    Example:
        >>> probs = span_length_distribution()
        >>> round(float(probs.sum()), 6), round(float((torch.arange(1, 11) * probs).sum()), 2)  # mean length
        (1.0, 3.8)
    """
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 < p <= 1.0:
        raise ValueError(f"p: expected a probability in (0, 1], got {p!r}")
    if isinstance(max_span_length, bool) or not isinstance(max_span_length, int) or max_span_length < 1:
        raise ValueError(f"max_span_length: expected a positive int, got {max_span_length!r}")
    lengths = torch.arange(1, max_span_length + 1, dtype=torch.float64)  # (max_span_length,)
    probs = p * (1 - p) ** (lengths - 1)
    return probs / probs.sum()


def mask_spans(
    input_ids: Tensor,
    *,
    mask_token_id: int,
    vocab_size: int,
    special_token_ids: Iterable[int],
    mask_ratio: float = 0.15,
    p: float = 0.2,
    max_span_length: int = 10,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Span masking (SpanBERT, see the module docstring), row by row.

    For each row with ``n`` non-special tokens the budget is ``ceil(mask_ratio * n)``. Repeat until it is used:
    draw a length ``l`` from :func:`span_length_distribution` and a start among the non-special positions; a start
    already chosen is drawn again; the span runs right from the start over at most ``l`` non-special, not yet chosen
    tokens and stops at the budget. Each span is then replaced as a whole: with probability 0.8 by ``[MASK]``, 0.1 by
    random ids in ``[0, vocab_size)``, 0.1 left as it is. Labels are the original ids of chosen tokens, -100 elsewhere.
    Exactly ``ceil(mask_ratio * n)`` tokens of each row are chosen.

    Shapes:
        input_ids: (B, T), integer; returns (masked_input_ids, labels), both (B, T), integer.

    Example:
        >>> ids = torch.tensor([[2] + list(range(10, 40)) + [3]])                 # [CLS] 30 tokens [SEP]
        >>> g = torch.Generator().manual_seed(5)
        >>> masked, labels = mask_spans(ids, mask_token_id=4, vocab_size=40, special_token_ids=[0, 2, 3],
        ...                             generator=g)
        >>> labels[labels != -100].tolist()                    # ceil(0.15 * 30) = 5 tokens, in two spans
        [19, 20, 34, 35, 36]
        >>> masked[labels != -100].tolist()                    # both spans drew [MASK]
        [4, 4, 4, 4, 4]
    """
    check_input_ids(input_ids)
    _check_probability("mask_ratio", mask_ratio)
    length_probs = span_length_distribution(p, max_span_length)
    ids = input_ids.cpu()
    maskable = ~special_tokens_mask(ids, special_token_ids)  # (B, T)
    masked, labels = ids.clone(), torch.full_like(ids, -100)
    for row in range(ids.shape[0]):
        positions = maskable[row].nonzero().flatten()  # (n,)
        budget = math.ceil(mask_ratio * len(positions))
        chosen, count = torch.zeros(ids.shape[1], dtype=torch.bool), 0  # (T,), its number of True
        while count < budget:
            length = int(torch.multinomial(length_probs, 1, generator=generator)) + 1
            start = int(positions[torch.randint(len(positions), (1,), generator=generator)])
            if chosen[start]:
                continue
            end = start
            while (end - start < length and end < ids.shape[1] and maskable[row, end] and not chosen[end]
                   and count < budget):
                chosen[end] = True
                end, count = end + 1, count + 1
            labels[row, start:end] = ids[row, start:end]
            decision = float(torch.rand((), generator=generator))
            if decision < 0.8:
                masked[row, start:end] = mask_token_id
            elif decision < 0.9:
                masked[row, start:end] = torch.randint(vocab_size, (end - start,), generator=generator)
    return masked.to(input_ids.device), labels.to(input_ids.device)
