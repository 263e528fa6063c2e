"""One vector per sequence from the encoder's token vectors: ``[CLS]``, mean or max pooling.

- **[CLS]** takes the first position, the token BERT puts in front of every input and whose final vector
  pretraining (NSP) already used for a decision about the whole input.
- **Mean pooling** averages the vectors of the real tokens, ignoring padding (Sentence-BERT's default and
  all-MiniLM-L6-v2's; T5-style encoders have no ``[CLS]`` at all). Padding must not count: a sentence's
  vector would otherwise change with the length of the longest sentence in its batch.
- **Max pooling** takes each feature's maximum over the real tokens.

Example:
    >>> h = torch.tensor([[[1.0, 0.0], [3.0, 2.0], [9.0, 9.0]]])        # (B=1, T=3, H=2), last position padding
    >>> mask = torch.tensor([[1, 1, 0]])
    >>> cls_pooling(h, mask), mean_pooling(h, mask), max_pooling(h, mask)
    (tensor([[1., 0.]]), tensor([[2., 1.]]), tensor([[3., 2.]]))
"""

from __future__ import annotations

from typing import Callable

import torch  # noqa: F401  (the docstring examples use it)
from torch import Tensor

from tlcourse.checks import reference


def _check(hidden_states: Tensor, attention_mask: Tensor) -> None:
    if not isinstance(hidden_states, Tensor) or hidden_states.dim() != 3 or not hidden_states.is_floating_point():
        got = tuple(hidden_states.shape) if isinstance(hidden_states, Tensor) else type(hidden_states).__name__
        raise ValueError(f"hidden_states: expected a float tensor (B, T, H), got {got}")
    shape = tuple(hidden_states.shape[:2])
    if not isinstance(attention_mask, Tensor) or tuple(attention_mask.shape) != shape:
        got = tuple(attention_mask.shape) if isinstance(attention_mask, Tensor) else type(attention_mask).__name__
        raise ValueError(f"attention_mask: expected a tensor of shape {shape} (1 = token, 0 = padding), got {got}")


def cls_pooling(hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
    """The vector of the first position (``[CLS]``); the mask is accepted for a common signature.

    Shapes:
        hidden_states (B, T, H), attention_mask (B, T) -> (B, H).
    """
    _check(hidden_states, attention_mask)
    return hidden_states[:, 0]  # (B, H)


@reference
def mean_pooling(hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
    """The average of the vectors of the real tokens (``attention_mask == 1``), padding ignored.

    As sentence-transformers' ``Pooling(pooling_mode="mean")``: ``sum(h * m) / max(sum(m), 1e-9)``, so an
    all-padding row gives zeros rather than NaN.

    Shapes:
        hidden_states (B, T, H) float, attention_mask (B, T) of 0/1 -> (B, H).

    Example:
        >>> h = torch.tensor([[[2.0], [4.0], [100.0]], [[1.0], [1.0], [1.0]]])
        >>> mean_pooling(h, torch.tensor([[1, 1, 0], [1, 1, 1]]))
        tensor([[3.],
                [1.]])
    """
    _check(hidden_states, attention_mask)
    mask = attention_mask.unsqueeze(-1).to(hidden_states.dtype)  # (B, T, 1)
    total = (hidden_states * mask).sum(dim=1)  # (B, H)
    count = mask.sum(dim=1).clamp(min=1e-9)  # (B, 1)
    return total / count


def max_pooling(hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
    """Each feature's maximum over the real tokens (padding set to -inf first; all-padding rows give -inf).

    Shapes:
        hidden_states (B, T, H), attention_mask (B, T) -> (B, H).
    """
    _check(hidden_states, attention_mask)
    padding = (attention_mask == 0).unsqueeze(-1)  # (B, T, 1)
    return hidden_states.masked_fill(padding, float("-inf")).amax(dim=1)  # (B, H)


POOLINGS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "cls": cls_pooling,
    "mean": mean_pooling,
    "max": max_pooling,
}


def pool(hidden_states: Tensor, attention_mask: Tensor, how: str) -> Tensor:
    """Pool by name: ``"cls"``, ``"mean"`` or ``"max"`` (see :data:`POOLINGS`).

    Shapes:
        hidden_states (B, T, H), attention_mask (B, T) -> (B, H).
    """
    if how not in POOLINGS:
        raise ValueError(f"how: expected one of {sorted(POOLINGS)}, got {how!r}")
    return POOLINGS[how](hidden_states, attention_mask)
