"""One transformer block: multi-head self-attention and a feed-forward MLP, each wrapped in a residual and LayerNorm.

Two layouts, selected by ``BlockConfig.pre_ln``:

- **post-LN** (BERT, ``BertLayer``): ``x = LN(x + drop(attn(x)))``, then ``x = LN(x + drop(W2 act(W1 x)))``.
- **pre-LN** (GPT-2, ``GPT2Block``): ``x = x + drop(attn(LN(x)))``, then ``x = x + drop(W2 act(W1 LN(x)))``.

The layers are ``attn`` (:class:`MultiHeadAttention`), ``ln_1`` (the LayerNorm of the attention sub-layer),
``fc_in`` / ``fc_out`` (the MLP's ``d_model -> d_ff -> d_model`` projections) and ``ln_2`` (the LayerNorm of the
MLP sub-layer), whatever the layout.

A post-LN block has two insertion points for bottleneck adapters (:mod:`tlcourse.peft.adapters`), ``attn_adapters``
and ``mlp_adapters``: ``None`` by default; a module put there is called as ``adapters(h, x, norm)`` in place of
``norm(x + h)``, with ``h`` the sub-layer's output after dropout and ``x`` its input.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from tlcourse.attention.multi_head import MultiHeadAttention
from tlcourse.checks import reference

ACTIVATIONS = ("gelu", "gelu_new")


@dataclass
class BlockConfig:
    """Sizes and layout of a :class:`TransformerBlock`.

    ``activation`` is ``"gelu"`` (exact erf form, BERT) or ``"gelu_new"`` (tanh approximation, GPT-2). ``dropout``
    applies to each sub-layer's output before the residual add and, unless ``attn_dropout`` gives it another rate
    (BERT's ``attention_probs_dropout_prob``, GPT-2's ``attn_pdrop``), to the attention weights (training only).
    The defaults are GPT-2's; :meth:`bert` and :meth:`gpt2` fill in each model's conventions.

    Example:
        >>> bert = BlockConfig.bert(d_model=32, n_heads=4, d_ff=64)
        >>> bert.pre_ln, bert.activation, bert.layer_norm_eps
        (False, 'gelu', 1e-12)
        >>> BlockConfig.gpt2(d_model=32, n_heads=4).d_ff                 # GPT-2's inner size is 4 * d_model
        128
    """

    d_model: int
    n_heads: int
    d_ff: int
    dropout: float = 0.0
    layer_norm_eps: float = 1e-5
    activation: str = "gelu_new"
    pre_ln: bool = True
    use_sdpa: bool = True
    attn_dropout: float | None = None

    def __post_init__(self) -> None:
        for name in ("d_model", "n_heads", "d_ff"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive int, got {value!r}")
        if self.d_model % self.n_heads != 0:
            raise ValueError(f"d_model: expected a multiple of n_heads={self.n_heads}, got {self.d_model}")
        attn_dropout = self.dropout if self.attn_dropout is None else self.attn_dropout
        for name, value in (("dropout", self.dropout), ("attn_dropout", attn_dropout)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name}: expected a probability in [0, 1), got {value!r}")
        if not self.layer_norm_eps > 0:
            raise ValueError(f"layer_norm_eps: expected a positive float, got {self.layer_norm_eps!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation: expected one of {ACTIVATIONS}, got {self.activation!r}")

    @classmethod
    def bert(cls, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0, use_sdpa: bool = True) -> BlockConfig:
        """BERT's block: post-LN, exact GELU, LayerNorm eps 1e-12."""
        return cls(d_model, n_heads, d_ff, dropout, layer_norm_eps=1e-12, activation="gelu", pre_ln=False,
                   use_sdpa=use_sdpa)

    @classmethod
    def gpt2(
        cls, d_model: int, n_heads: int, d_ff: int | None = None, dropout: float = 0.0, use_sdpa: bool = True
    ) -> BlockConfig:
        """GPT-2's block: pre-LN, tanh GELU (``gelu_new``), LayerNorm eps 1e-5, ``d_ff`` defaulting to 4 * d_model."""
        return cls(d_model, n_heads, 4 * d_model if d_ff is None else d_ff, dropout, layer_norm_eps=1e-5,
                   activation="gelu_new", pre_ln=True, use_sdpa=use_sdpa)


@reference
class TransformerBlock(nn.Module):
    """Self-attention plus MLP with residuals and LayerNorms, post-LN (BERT) or pre-LN (GPT-2); see the module doc.

    ``past_kv``, ``use_cache`` and ``return_weights`` go to the attention layer, and the block returns what it
    does: ``y`` alone by default, else ``y`` followed by the attention ``weights`` (if ``return_weights``) and
    the ``present`` keys and values (if ``use_cache``); see :class:`MultiHeadAttention`.

    Shapes:
        x: (B, T, d_model); mask: bool broadcastable to (B, H, T, T_past + T), True = may attend
        (e.g. :func:`padding_mask` or :func:`causal_mask`); past_kv: two (B, H, T_past, hs);
        returns y (B, T, d_model), weights (B, H, T, T_past + T), present: two (B, H, T_past + T, hs).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> block = TransformerBlock(BlockConfig.gpt2(d_model=8, n_heads=2))
        >>> x = torch.randn(2, 5, 8)
        >>> block(x).shape
        torch.Size([2, 5, 8])
        >>> from tlcourse.attention.masks import causal_mask
        >>> y = block(x, causal_mask(5))
        >>> torch.allclose(block(x[:, :3], causal_mask(3)), y[:, :3], atol=1e-6)   # the future does not leak back
        True
        >>> _, present = block(x[:, :4], causal_mask(4), use_cache=True)       # KV cache: 4 positions, then 1
        >>> torch.allclose(block(x[:, 4:], causal_mask(1, 5), past_kv=present), y[:, 4:], atol=1e-6)
        True
    """

    def __init__(self, config: BlockConfig):
        super().__init__()
        if not isinstance(config, BlockConfig):
            raise ValueError(f"config: expected a BlockConfig, got {type(config).__name__}")
        self.config = config
        d, eps = config.d_model, config.layer_norm_eps
        attn_dropout = config.dropout if config.attn_dropout is None else config.attn_dropout
        self.attn = MultiHeadAttention(d, config.n_heads, dropout=attn_dropout, use_sdpa=config.use_sdpa)
        self.ln_1 = nn.LayerNorm(d, eps=eps)
        self.fc_in = nn.Linear(d, config.d_ff)
        self.act = nn.GELU(approximate="tanh" if config.activation == "gelu_new" else "none")
        self.fc_out = nn.Linear(config.d_ff, d)
        self.ln_2 = nn.LayerNorm(d, eps=eps)
        self.drop = nn.Dropout(config.dropout)
        self.attn_adapters: nn.Module | None = None  # post-LN only: adapters(h, x, ln_1) replaces ln_1(x + h)
        self.mlp_adapters: nn.Module | None = None  # post-LN only: adapters(h, x, ln_2) replaces ln_2(x + h)

    def mlp(self, x: Tensor) -> Tensor:
        """The feed-forward sub-layer without residual or LayerNorm: ``W2 act(W1 x)``; (B, T, d) -> (B, T, d)."""
        return self.fc_out(self.act(self.fc_in(x)))  # (B, T, d_ff) -> (B, T, d_model)

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
        """Run the block; see the class docstring for shapes, and :class:`MultiHeadAttention` for the extras."""
        attn_in = self.ln_1(x) if self.config.pre_ln else x
        attended = self.attn(attn_in, mask, past_kv=past_kv, use_cache=use_cache, return_weights=return_weights,
                             is_causal=is_causal)
        a, *extras = attended if (use_cache or return_weights) else (attended,)  # a: (B, T, d_model)
        if self.config.pre_ln:
            x = x + self.drop(a)  # (B, T, d_model)
            y = x + self.drop(self.mlp(self.ln_2(x)))  # (B, T, d_model)
        else:
            h = self.drop(a)  # (B, T, d_model)
            x = self.ln_1(x + h) if self.attn_adapters is None else self.attn_adapters(h, x, self.ln_1)
            h = self.drop(self.mlp(x))  # (B, T, d_model)
            y = self.ln_2(x + h) if self.mlp_adapters is None else self.mlp_adapters(h, x, self.ln_2)
        return (y, *extras) if extras else y
