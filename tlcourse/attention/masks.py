"""Boolean attention masks: ``True`` = *may attend*, ``False`` = blocked.

Every mask here is meant to broadcast against attention scores of shape ``(B, H, Tq, Tk)``, following PyTorch's
broadcasting rules (shapes are aligned from the right):

- **key padding**, the tokenizer's ``attention_mask`` of shape ``(B, Tk)`` (1 = real token, 0 = padding), must
  first go through :func:`padding_mask`, which makes it ``(B, 1, 1, Tk)``: the same for every head and every query.
  Broadcasting would read a raw ``(B, Tk)`` tensor as ``(Tq, Tk)``, silently wrong, which is why every 2-D mask
  here means ``(Tq, Tk)``.
- **causal**, :func:`causal_mask` of shape ``(Tq, Tk)``, broadcasts as ``(1, 1, Tq, Tk)``: the same for every
  sequence and head. Query ``i`` may attend to keys ``0..i``; after ``T_past`` cached keys, to ``0..T_past + i``.
- **general**, ``(B, 1, Tq, Tk)`` (one per sequence, shared by the heads) or ``(B, H, Tq, Tk)`` (one per head).

:func:`combine_masks` ANDs any of these into one ``(B|1, H|1, Tq|1, Tk)`` mask. Transformers (v5) builds the same
bool mask for its sdpa path (``masking_utils.create_bidirectional_mask`` / ``create_causal_mask``) and, for its
eager path, turns it into an additive ``0 / finfo(dtype).min`` mask.
"""

from __future__ import annotations

import torch
from torch import Tensor

from tlcourse.checks import reference


@reference
def padding_mask(attention_mask: Tensor) -> Tensor:
    """Turn a tokenizer's ``attention_mask`` (1 = token, 0 = padding) into a bool key-padding mask.

    Shapes:
        attention_mask: (B, Tk), integer or bool, values 0/1; returns bool (B, 1, 1, Tk).

    Example:
        >>> padding_mask(torch.tensor([[1, 1, 0]]))
        tensor([[[[ True,  True, False]]]])
        >>> padding_mask(torch.tensor([[1, 1, 0]])).shape
        torch.Size([1, 1, 1, 3])
    """
    if not isinstance(attention_mask, Tensor):
        raise TypeError(f"attention_mask: expected a torch.Tensor, got {type(attention_mask).__name__}")
    if attention_mask.dim() != 2:
        raise ValueError(f"attention_mask: expected a 2-D tensor (B, Tk), got shape {tuple(attention_mask.shape)}")
    if attention_mask.dtype != torch.bool:
        if attention_mask.is_floating_point() or attention_mask.is_complex():
            raise TypeError(
                f"attention_mask: expected an integer or bool tensor of 0/1, got dtype {attention_mask.dtype}"
            )
        # A check of the values reads the data: skipped inside torch.compile, which cannot branch on it.
        if not torch.compiler.is_compiling() and not ((attention_mask == 0) | (attention_mask == 1)).all():
            raise ValueError(
                f"attention_mask: expected only 0 and 1, got values {torch.unique(attention_mask).tolist()}"
            )
    return attention_mask.bool()[:, None, None, :]  # (B, 1, 1, Tk)


@reference
def causal_mask(Tq: int, Tk: int | None = None, *, device: torch.device | str | None = None) -> Tensor:
    """Causal bool mask, bottom-right aligned: query ``i`` sits at position ``Tk - Tq + i`` and sees keys up to it.

    With ``Tk = Tq`` (the default) it is lower-triangular: query ``i`` may attend to keys ``j <= i``. With a KV
    cache of ``T_past`` keys, the ``Tq`` new queries sit at positions ``T_past .. T_past + Tq - 1`` of
    ``Tk = T_past + Tq`` keys, so the mask is the *last* ``Tq`` rows of ``causal_mask(Tk)`` (unlike the
    top-left alignment of ``scaled_dot_product_attention(is_causal=True)`` when ``Tq != Tk``).

    Shapes:
        returns bool (Tq, Tk), broadcasting as (1, 1, Tq, Tk).

    Example:
        >>> causal_mask(3)
        tensor([[ True, False, False],
                [ True,  True, False],
                [ True,  True,  True]])
        >>> causal_mask(2, 4)                                 # 2 new queries after 2 cached keys
        tensor([[ True,  True,  True, False],
                [ True,  True,  True,  True]])
    """
    for name, value in (("Tq", Tq), ("Tk", Tq if Tk is None else Tk)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if Tq < 1:
        raise ValueError(f"Tq: expected a positive sequence length, got {Tq}")
    Tk = Tq if Tk is None else Tk
    if Tk < Tq:
        raise ValueError(f"Tk: expected at least Tq={Tq} keys (the queries are the last Tq positions), got {Tk}")
    return torch.ones(Tq, Tk, dtype=torch.bool, device=device).tril(diagonal=Tk - Tq)  # (Tq, Tk)


def combine_masks(*masks: Tensor | None) -> Tensor | None:
    """AND several bool masks into one that broadcasts to ``(B, H, Tq, Tk)``; ``None`` entries are skipped.

    Each mask must be bool and either 2-D ``(Tq, Tk)`` (such as :func:`causal_mask`) or 4-D
    ``(B|1, H|1, Tq|1, Tk)`` (such as :func:`padding_mask`). Returns ``None`` when every mask is ``None``.

    Shapes:
        masks: each (Tq, Tk) or (B|1, H|1, Tq|1, Tk); returns the broadcast shape, always 4-D.

    Example:
        >>> pad = padding_mask(torch.tensor([[1, 1, 0]]))    # (1, 1, 1, 3)
        >>> m = combine_masks(pad, causal_mask(3))
        >>> m.shape
        torch.Size([1, 1, 3, 3])
        >>> m[0, 0]
        tensor([[ True, False, False],
                [ True,  True, False],
                [ True,  True, False]])
        >>> combine_masks(None) is None
        True
    """
    present = [m for m in masks if m is not None]
    for i, m in enumerate(present):
        if not isinstance(m, Tensor):
            raise TypeError(f"masks[{i}]: expected a bool torch.Tensor, got {type(m).__name__}")
        if m.dtype != torch.bool:
            raise TypeError(f"masks[{i}]: expected dtype torch.bool (True = may attend), got {m.dtype}")
        if m.dim() not in (2, 4):
            raise ValueError(
                f"masks[{i}]: expected a 2-D (Tq, Tk) or 4-D (B, H, Tq, Tk) mask, got shape {tuple(m.shape)}; "
                "turn a (B, Tk) key-padding mask into (B, 1, 1, Tk) with padding_mask()"
            )
    if not present:
        return None
    try:
        shape = torch.broadcast_shapes(*(m.shape for m in present))
    except RuntimeError:
        raise ValueError(
            f"masks: expected shapes that broadcast together, got {[tuple(m.shape) for m in present]}"
        ) from None
    combined = torch.ones(shape, dtype=torch.bool, device=present[0].device)
    for m in present:
        combined = combined & m
    return combined.reshape((1,) * (4 - combined.dim()) + tuple(combined.shape))  # (B|1, H|1, Tq|1, Tk)
