"""Multi-head attention: project, split into heads, attend in each head, merge, project back.

The layout equals BERT's ``BertSelfAttention`` (separate ``query``/``key``/``value`` ``nn.Linear`` layers, heads
split with ``view(B, T, H, hs).transpose(1, 2)``) followed by an output projection ``out`` (BERT's
``attention.output.dense``, GPT-2's ``attn.c_proj``), so BERT weights copy over key for key.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tlcourse.attention.kv_cache import update_kv_cache
from tlcourse.attention.masks import causal_mask
from tlcourse.attention.scaled_dot_product import scaled_dot_product_attention, sdpa_attention
from tlcourse.checks import reference


@reference
def split_heads(x: Tensor, n_heads: int) -> Tensor:
    """Split the last dimension into ``n_heads`` heads and move the head axis before time.

    Shapes:
        x: (B, T, H*hs); returns (B, H, T, hs).

    Example:
        >>> x = torch.arange(8.0).reshape(1, 2, 4)     # (B=1, T=2, C=4)
        >>> split_heads(x, 2)[0, 1]                   # head 1: the last two channels of each step
        tensor([[2., 3.],
                [6., 7.]])
    """
    if isinstance(n_heads, bool) or not isinstance(n_heads, int) or n_heads < 1:
        raise ValueError(f"n_heads: expected a positive int, got {n_heads!r}")
    if not isinstance(x, Tensor) or x.dim() != 3:
        raise ValueError(f"x: expected a 3-D tensor (B, T, H*hs), got {_shape_of(x)}")
    B, T, C = x.shape
    if C % n_heads != 0:
        raise ValueError(f"x: expected a last dimension divisible by n_heads={n_heads}, got {C}")
    return x.view(B, T, n_heads, C // n_heads).transpose(1, 2)  # (B, T, H, hs) -> (B, H, T, hs)


@reference
def merge_heads(x: Tensor) -> Tensor:
    """Inverse of :func:`split_heads`: concatenate the heads back into channels.

    Shapes:
        x: (B, H, T, hs); returns (B, T, H*hs).

    Example:
        >>> x = torch.arange(8.0).reshape(1, 2, 4)
        >>> torch.equal(merge_heads(split_heads(x, 2)), x)
        True
    """
    if not isinstance(x, Tensor) or x.dim() != 4:
        raise ValueError(f"x: expected a 4-D tensor (B, H, T, hs), got {_shape_of(x)}")
    B, H, T, hs = x.shape
    return x.transpose(1, 2).reshape(B, T, H * hs)  # (B, T, H, hs) -> (B, T, H*hs)


def _shape_of(x: object) -> str:
    return f"shape {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__


@reference
class MultiHeadAttention(nn.Module):
    """Multi-head self-attention with separate ``query``, ``key``, ``value`` and ``out`` projections, and a KV cache.

    ``use_sdpa=True`` runs :func:`sdpa_attention` (the fused kernel); ``False`` runs the explicit
    :func:`scaled_dot_product_attention`. Asking for the weights (``return_weights=True``) always takes the
    explicit path, since fused kernels do not build them. ``dropout`` is applied to the attention weights in
    training mode, as BERT's ``attention_probs_dropout_prob``.

    **KV cache.** ``past_kv = (k_past, v_past)``, the keys and values of the ``T_past`` earlier positions (already
    split into heads), are put before the new ones along time, so the ``T`` new queries attend over
    ``T_past + T`` keys; the mask must then be ``(.., T, T_past + T)``, such as ``causal_mask(T, T_past + T)``.
    ``use_cache=True`` also returns ``present = (k, v)``, those ``T_past + T`` keys and values, to pass as
    ``past_kv`` at the next step.

    **Returns** ``y`` alone by default; with ``return_weights`` and/or ``use_cache``, the tuple ``y`` followed by
    ``weights`` (if ``return_weights``) and then ``present`` (if ``use_cache``).

    Shapes:
        x: (B, T, d_model); mask: bool broadcastable to (B, H, T, T_past + T), True = may attend;
        past_kv: two (B, H, T_past, hs); returns y (B, T, d_model), weights (B, H, T, T_past + T) and present,
        two (B, H, T_past + T, hs).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> mha = MultiHeadAttention(d_model=8, n_heads=2)
        >>> x = torch.randn(2, 5, 8)
        >>> y, w = mha(x, return_weights=True)
        >>> y.shape, w.shape
        (torch.Size([2, 5, 8]), torch.Size([2, 2, 5, 5]))
        >>> torch.allclose(w.sum(-1), torch.ones(2, 2, 5))
        True
        >>> from tlcourse.attention.masks import causal_mask
        >>> _, present = mha(x[:, :3], causal_mask(3), use_cache=True)     # prefill 3 positions
        >>> [t.shape for t in present]                                       # (B, H, T_past, hs)
        [torch.Size([2, 2, 3, 4]), torch.Size([2, 2, 3, 4])]
        >>> y_new = mha(x[:, 3:], causal_mask(2, 5), past_kv=present)       # then 2 more
        >>> torch.allclose(y_new, mha(x, causal_mask(5))[:, 3:], atol=1e-6)
        True
    """

    def __init__(self, d_model: int, n_heads: int, bias: bool = True, dropout: float = 0.0, use_sdpa: bool = True):
        super().__init__()
        for name, value in (("d_model", d_model), ("n_heads", n_heads)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive int, got {value!r}")
        if d_model % n_heads != 0:
            raise ValueError(f"d_model: expected a multiple of n_heads={n_heads}, got {d_model}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout: expected a probability in [0, 1), got {dropout}")
        self.d_model = d_model
        self.n_heads = n_heads
        self.head_size = d_model // n_heads
        self.dropout = dropout
        self.use_sdpa = use_sdpa
        self.query = nn.Linear(d_model, d_model, bias=bias)
        self.key = nn.Linear(d_model, d_model, bias=bias)
        self.value = nn.Linear(d_model, d_model, bias=bias)
        self.out = nn.Linear(d_model, d_model, bias=bias)

    def forward(
        self,
        x: Tensor,
        mask: Tensor | None = None,
        *,
        past_kv: tuple[Tensor, Tensor] | None = None,
        use_cache: bool = False,
        return_weights: bool = False,
        is_causal: bool = False,
    ) -> Tensor | tuple[Tensor, ...]:
        """Attend over ``x`` (after the cached ``past_kv``); see the class docstring for shapes and returns.

        ``is_causal=True`` (no ``mask``, no ``past_kv``) means the causal mask: the fused path applies it inside the
        kernel, the explicit path builds it.
        """
        if not isinstance(x, Tensor) or x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"x: expected a 3-D tensor (B, T, {self.d_model}), got {_shape_of(x)}")
        q = split_heads(self.query(x), self.n_heads)  # (B, H, T, hs)
        k = split_heads(self.key(x), self.n_heads)  # (B, H, T, hs)
        v = split_heads(self.value(x), self.n_heads)  # (B, H, T, hs)
        if past_kv is not None:
            k, v = update_kv_cache(self._check_past(past_kv, x.shape[0]), k, v)  # (B, H, T_past + T, hs)
        options = {"dropout_p": self.dropout, "training": self.training}
        if return_weights or not self.use_sdpa:
            if is_causal:
                mask = causal_mask(q.shape[2], k.shape[2], device=x.device)  # (T, T)
            context, weights = scaled_dot_product_attention(q, k, v, mask, **options)  # (B, H, T, hs)
        else:
            context = sdpa_attention(q, k, v, mask, is_causal=is_causal, **options)  # (B, H, T, hs)
        y = self.out(merge_heads(context))  # (B, T, d_model)
        extras = ((weights,) if return_weights else ()) + (((k, v),) if use_cache else ())
        return (y, *extras) if extras else y

    def _check_past(self, past_kv: tuple[Tensor, Tensor], batch_size: int) -> tuple[Tensor, Tensor]:
        """Raise unless ``past_kv`` is a pair of (B, H, T_past, hs) tensors with this batch and these heads."""
        expected = f"(B, H, T_past, hs) = ({batch_size}, {self.n_heads}, T_past, {self.head_size})"
        if not isinstance(past_kv, (tuple, list)) or len(past_kv) != 2:
            raise ValueError(f"past_kv: expected a pair (k_past, v_past), got {type(past_kv).__name__}")
        k_past, v_past = past_kv
        ok = all(isinstance(t, Tensor) and t.dim() == 4 for t in past_kv) and k_past.shape == v_past.shape
        if not ok or k_past.shape[:2] != (batch_size, self.n_heads) or k_past.shape[-1] != self.head_size:
            raise ValueError(f"past_kv: expected two tensors of shape {expected}, got "
                             f"{[_shape_of(t) for t in past_kv]}")
        return k_past, v_past
