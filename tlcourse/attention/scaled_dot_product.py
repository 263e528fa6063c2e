"""Scaled dot-product attention (Vaswani et al. 2017), written out for teaching and through PyTorch's fast kernel.

``attention(Q, K, V) = softmax(Q K^T / sqrt(d) + mask) V``

Masks are boolean, ``True`` = *may attend*, and broadcast to ``(B, H, Tq, Tk)`` (see :mod:`tlcourse.attention.masks`).
A masked score is set to ``torch.finfo(dtype).min``, as transformers' eager attention does, so a masked key gets a
weight of exactly 0 after the softmax.

**Fully masked rows.** A query that may attend to no key at all (for example a padding query under a combined
padding and causal mask) would give a softmax of 0/0. Both paths here define its result as **zeros**: its
attention weights are all 0 and its output is the zero vector. Neither path ever returns NaN.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from tlcourse.checks import reference


def _check_qkv(q: Tensor, k: Tensor, v: Tensor) -> None:
    """Raise unless q, k, v are float tensors shaped (B, H, Tq, d), (B, H, Tk, d) and (B, H, Tk, dv)."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(f"{name}: expected a floating-point tensor, got dtype {t.dtype}")
        if t.dim() != 4:
            raise ValueError(f"{name}: expected a 4-D tensor (B, H, T, d), got shape {tuple(t.shape)}")
    if k.shape[:2] != q.shape[:2] or k.shape[-1] != q.shape[-1]:
        raise ValueError(
            f"k: expected shape (B, H, Tk, d) = ({q.shape[0]}, {q.shape[1]}, Tk, {q.shape[-1]}) to match q "
            f"{tuple(q.shape)}, got {tuple(k.shape)}"
        )
    if v.shape[:3] != k.shape[:3]:
        raise ValueError(
            f"v: expected shape (B, H, Tk, dv) with (B, H, Tk) = {tuple(k.shape[:3])} as in k, got {tuple(v.shape)}"
        )


def _check_mask(mask: Tensor, q: Tensor, k: Tensor) -> None:
    """Raise unless ``mask`` is a bool tensor that broadcasts to (B, H, Tq, Tk)."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"mask: expected a bool torch.Tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(f"mask: expected dtype torch.bool (True = may attend), got {mask.dtype}")
    target = (q.shape[0], q.shape[1], q.shape[2], k.shape[2])
    try:
        ok = mask.dim() <= 4 and torch.broadcast_shapes(mask.shape, target) == torch.Size(target)
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(
            f"mask: expected a shape that broadcasts to (B, H, Tq, Tk) = {target}, got {tuple(mask.shape)}"
        )


def _check_inputs(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, dropout_p: float) -> None:
    """The checks both attention functions make: q/k/v shapes, the mask (when given) and the dropout rate."""
    _check_qkv(q, k, v)
    if mask is not None:
        _check_mask(mask, q, k)
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p: expected a probability in [0, 1), got {dropout_p}")


@reference
def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    *,
    dropout_p: float = 0.0,
    training: bool = False,
) -> tuple[Tensor, Tensor]:
    """Attention written out step by step; returns the output and the attention weights.

    Steps: ``scores = q @ k^T / sqrt(d)``; masked scores set to ``finfo(dtype).min``; softmax over the keys;
    weights of masked keys set to exactly 0 (this zeroes fully masked rows); dropout on the weights (only when
    ``training``); ``output = weights @ v``.

    Shapes:
        q: (B, H, Tq, d); k: (B, H, Tk, d); v: (B, H, Tk, dv);
        mask: bool, broadcastable to (B, H, Tq, Tk), True = may attend (None = attend everywhere);
        returns output (B, H, Tq, dv) and weights (B, H, Tq, Tk).

    Example:
        >>> q = torch.tensor([[[[1.0, 0.0]]]])               # (1, 1, 1, 2)
        >>> k = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])   # (1, 1, 2, 2)
        >>> v = torch.tensor([[[[1.0], [3.0]]]])             # (1, 1, 2, 1)
        >>> out, w = scaled_dot_product_attention(q, k, v)
        >>> w                                                # softmax([1/sqrt(2), 0])
        tensor([[[[0.6698, 0.3302]]]])
        >>> out                                              # 0.6698 * 1 + 0.3302 * 3
        tensor([[[[1.6605]]]])
        >>> out, w = scaled_dot_product_attention(q, k, v, torch.tensor([False, True]))
        >>> w, out
        (tensor([[[[0., 1.]]]]), tensor([[[[3.]]]]))
        >>> out, w = scaled_dot_product_attention(q, k, v, torch.tensor([False, False]))  # fully masked row
        >>> w, out
        (tensor([[[[0., 0.]]]]), tensor([[[[0.]]]]))
    """
    _check_inputs(q, k, v, mask, dropout_p)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, Tq, Tk)
    if mask is not None:
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=-1)  # (B, H, Tq, Tk)
    if mask is not None:
        # Only changes fully masked rows: softmax of equal finfo.min scores is uniform; we define it as zeros.
        weights = weights.masked_fill(~mask, 0.0)
    weights = F.dropout(weights, p=dropout_p, training=training)
    return weights @ v, weights  # (B, H, Tq, dv), (B, H, Tq, Tk)


def sdpa_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    *,
    dropout_p: float = 0.0,
    training: bool = False,
    is_causal: bool = False,
) -> Tensor:
    """The fast path: :func:`torch.nn.functional.scaled_dot_product_attention`, with fully masked rows as zeros.

    ``is_causal=True`` (with ``mask=None`` and ``Tq == Tk``) applies the plain causal mask inside the kernel, without
    reading a mask tensor: on a GPU that allows flash attention, which an explicit mask rules out.

    Same semantics as :func:`scaled_dot_product_attention` (which it equals to float32 round-off when there is no
    dropout) but returns only the output: fused kernels never build the weights. Fully masked rows are made
    NaN-free on every backend by letting them attend everywhere inside the kernel and zeroing their output after.

    Shapes:
        q: (B, H, Tq, d); k: (B, H, Tk, d); v: (B, H, Tk, dv);
        mask: bool, broadcastable to (B, H, Tq, Tk), True = may attend; returns (B, H, Tq, dv).

    Example:
        >>> q = torch.tensor([[[[1.0, 0.0]]]])
        >>> k = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
        >>> v = torch.tensor([[[[1.0], [3.0]]]])
        >>> sdpa_attention(q, k, v)
        tensor([[[[1.6605]]]])
        >>> sdpa_attention(q, k, v, torch.tensor([False, False]))
        tensor([[[[0.]]]])
    """
    _check_inputs(q, k, v, mask, dropout_p)
    if is_causal and (mask is not None or q.shape[-2] != k.shape[-2]):
        raise ValueError(f"is_causal: expected mask=None and as many queries as keys, got "
                         f"{'a mask' if mask is not None else 'no mask'} and {q.shape[-2]} queries, {k.shape[-2]} keys")
    p = dropout_p if training else 0.0
    if mask is None:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=is_causal)  # (B, H, Tq, dv)
    # Work on the mask as given (e.g. (B, 1, 1, Tk)), not expanded to every head: 12x less mask work per layer.
    mask = mask[(None,) * (4 - mask.dim())]  # 4-D view, e.g. (Tk,) -> (1, 1, 1, Tk)
    row_has_key = mask.any(dim=-1, keepdim=True)  # broadcastable to (B, H, Tq, 1)
    safe_mask = mask | ~row_has_key  # a fully masked row attends everywhere inside the kernel
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=safe_mask, dropout_p=p)  # (B, H, Tq, dv)
    return out.masked_fill(~row_has_key, 0.0)
