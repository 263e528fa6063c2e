"""Attention from scratch: scaled dot-product attention (explicit and fused), masks, multi-head attention, positions,
transformer blocks (post-LN and pre-LN), the KV cache and a tied LM head.

The explicit path is proven equal to ``torch.nn.functional.scaled_dot_product_attention`` and
``MultiHeadAttention`` to transformers' ``BertSelfAttention`` by the tests in ``tests/attention``.
"""

from tlcourse.attention.block import BlockConfig, TransformerBlock
from tlcourse.attention.kv_cache import KV, update_kv_cache
from tlcourse.attention.lm_head import LMHead
from tlcourse.attention.masks import causal_mask, combine_masks, padding_mask
from tlcourse.attention.multi_head import MultiHeadAttention, merge_heads, split_heads
from tlcourse.attention.positions import LearnedPositions, sinusoidal_positions
from tlcourse.attention.scaled_dot_product import scaled_dot_product_attention, sdpa_attention

__all__ = [
    "BlockConfig",
    "KV",
    "LMHead",
    "LearnedPositions",
    "MultiHeadAttention",
    "TransformerBlock",
    "causal_mask",
    "combine_masks",
    "merge_heads",
    "padding_mask",
    "scaled_dot_product_attention",
    "sdpa_attention",
    "sinusoidal_positions",
    "split_heads",
    "update_kv_cache",
]
