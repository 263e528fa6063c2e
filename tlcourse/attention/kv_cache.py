"""The KV cache of one attention layer: the keys and values of the positions already processed.

A causal decoder's keys and values for earlier positions never change, so generation keeps them and computes
only the new position's query, key and value at each step; :func:`update_kv_cache` appends the new ones.
:class:`~tlcourse.attention.MultiHeadAttention` uses it with ``past_kv``; :mod:`tlcourse.decoding` drives it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from tlcourse.checks import reference

KV = tuple[Tensor, Tensor]  # one layer's (keys, values), each (B, H, T, hs)


@reference
def update_kv_cache(past_kv: KV | None, k_new: Tensor, v_new: Tensor) -> KV:
    """Append the new positions' keys and values to one layer's cache along the time axis.

    Shapes:
        past_kv: None or two (B, H, T_past, hs); k_new, v_new: (B, H, T_new, hs); returns two (B, H, T_past + T_new,
        hs).

    Example:
        >>> k, v = torch.zeros(1, 2, 3, 4), torch.ones(1, 2, 3, 4)
        >>> k2, v2 = update_kv_cache((k, v), torch.zeros(1, 2, 1, 4), torch.ones(1, 2, 1, 4))
        >>> k2.shape, update_kv_cache(None, k, v)[1] is v
        (torch.Size([1, 2, 4, 4]), True)
    """
    if past_kv is None:
        return k_new, v_new
    k_past, v_past = past_kv
    return torch.cat([k_past, k_new], dim=2), torch.cat([v_past, v_new], dim=2)  # (B, H, T_past + T_new, hs)
