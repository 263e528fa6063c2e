"""GPT-2 (``GPT2Model``, ``GPT2LMHeadModel``) from :class:`TransformerBlock`, with a KV cache, loading and saving
Hugging Face checkpoints.

``h = drop(wte[ids] + wpe[positions])``, then ``n_layer`` pre-LN blocks under a causal mask (tanh GELU, LayerNorm
eps 1e-5), then ``ln_f``; the LM head is ``h @ wte^T`` (tied, no bias). As in transformers, positions default to
``T_past .. T_past + T - 1`` and are **not** derived from ``attention_mask``: with left padding, pass
``position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)``.

**KV cache.** ``use_cache=True`` returns ``past_key_values``, a tuple with one ``(k, v)`` pair per layer, each
``(B, n_head, T_past + T, head_size)``. Passing it back with only the new tokens (and, if padding, an
``attention_mask`` over past and new positions) continues the sequence: the new queries attend over the cached
keys under a bottom-right aligned :func:`causal_mask`.

**Checkpoint layout.** transformers stores attention as one ``Conv1D`` ``c_attn`` whose output splits into
query | key | value, and every ``Conv1D`` weight as ``(in, out)``, the transpose of ``nn.Linear``'s. Here
``hf_name`` maps names (``h.0.attn.query`` -> ``h.0.attn.c_attn``, ``attn.out`` -> ``attn.c_proj``, ``fc_in`` /
``fc_out`` -> ``mlp.c_fc`` / ``mlp.c_proj``) and ``to_hf_state`` / ``from_hf_state`` fuse or split ``c_attn`` and
transpose. Old checkpoints' ``attn.bias`` / ``attn.masked_bias`` buffers are ignored.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tlcourse.attention.block import ACTIVATIONS, BlockConfig, TransformerBlock
from tlcourse.attention.lm_head import LMHead
from tlcourse.attention.masks import causal_mask, combine_masks, padding_mask
from tlcourse.models.checkpoint import PretrainedMixin
from tlcourse.models.validation import check_ids, check_ids_or_embeds, check_positive_ints, past_length

PastKeyValues = tuple[tuple[Tensor, Tensor], ...]


@dataclass
class GPT2Config:
    """GPT-2's sizes and options, with transformers' field names and defaults (gpt2 small).

    ``n_inner=None`` means ``4 * n_embd``. ``from_dict`` reads a transformers ``config.json`` (unknown keys ignored);
    ``to_hf_dict`` writes one. ``use_sdpa`` picks the fused attention kernel (ours only, not saved).

    Example:
        >>> config = GPT2Config.from_dict({"n_embd": 32, "n_head": 4, "n_layer": 2, "unknown_key": 1})
        >>> config.n_embd, config.inner_size, config.layer_norm_epsilon, config.activation_function
        (32, 128, 1e-05, 'gelu_new')
    """

    vocab_size: int = 50257
    n_positions: int = 1024
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    n_inner: int | None = None
    activation_function: str = "gelu_new"
    resid_pdrop: float = 0.1
    embd_pdrop: float = 0.1
    attn_pdrop: float = 0.1
    layer_norm_epsilon: float = 1e-5
    initializer_range: float = 0.02
    bos_token_id: int = 50256
    eos_token_id: int = 50256
    tie_word_embeddings: bool = True
    use_sdpa: bool = True

    def __post_init__(self) -> None:
        optional = ("n_inner",) if self.n_inner is not None else ()
        check_positive_ints(self, ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head", *optional))
        if self.n_embd % self.n_head != 0:
            raise ValueError(f"n_embd: expected a multiple of n_head={self.n_head}, got {self.n_embd}")
        if self.activation_function not in ACTIVATIONS:
            raise ValueError(f"activation_function: expected one of {ACTIVATIONS}, got {self.activation_function!r}")
        for name in ("resid_pdrop", "embd_pdrop", "attn_pdrop"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name}: expected a probability in [0, 1), got {getattr(self, name)!r}")
        if self.tie_word_embeddings is not True:
            raise ValueError("tie_word_embeddings: expected True (the LM head is the token embedding), "
                             f"got {self.tie_word_embeddings!r}")

    @property
    def inner_size(self) -> int:
        """The MLP's hidden size: ``n_inner``, or ``4 * n_embd`` when it is ``None``."""
        return 4 * self.n_embd if self.n_inner is None else self.n_inner

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> GPT2Config:
        """Build from a transformers config dict, ignoring keys that are not fields.

        Raises ``ValueError`` for options that would change the outputs and are not implemented here
        (cross-attention, unscaled or layer-scaled attention).
        """
        for key, supported in (("add_cross_attention", False), ("scale_attn_weights", True),
                               ("scale_attn_by_inverse_layer_idx", False)):
            if config.get(key, supported) != supported:
                raise ValueError(f"{key}: expected {supported} (the only setting implemented), got {config[key]!r}")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in config.items() if k in known})

    def to_hf_dict(self) -> dict[str, Any]:
        """The transformers ``config.json`` content: the fields (``use_sdpa`` aside) and ``model_type``."""
        values = asdict(self)
        values.pop("use_sdpa")
        return {**values, "model_type": "gpt2"}


@dataclass
class GPT2Output:
    """What a GPT-2 model returns; fields a model does not compute are ``None``.

    Shapes:
        last_hidden_state: (B, T, n_embd), after ``ln_f``; logits: (B, T, vocab_size); loss: scalar;
        past_key_values (``use_cache=True``): one (k, v) pair per layer, each (B, n_head, T_past + T, head_size).
    """

    last_hidden_state: Tensor
    logits: Tensor | None = None
    loss: Tensor | None = None
    past_key_values: PastKeyValues | None = None


def causal_lm_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Next-token cross-entropy: position ``t`` is scored against ``labels[:, t + 1]``; labels of -100 are ignored.

    As transformers' ``ForCausalLMLoss``: pass ``labels = input_ids`` (the shift happens here), the logits are
    upcast to float32, and the mean is over the targets that are not -100.

    Shapes:
        logits: (B, T, V); labels: (B, T), integer; returns a scalar.

    Example:
        >>> logits = torch.zeros(1, 3, 4)                             # uniform over V = 4 tokens
        >>> causal_lm_loss(logits, torch.tensor([[1, 2, 3]]))          # two targets, each costs log 4
        tensor(1.3863)
        >>> causal_lm_loss(logits, torch.tensor([[1, -100, 3]]))       # only the target 3 counts
        tensor(1.3863)
    """
    V = logits.shape[-1]
    shifted = logits[:, :-1].float().reshape(-1, V)  # (B * (T - 1), V): positions 0 .. T-2 predict 1 .. T-1
    return F.cross_entropy(shifted, labels[:, 1:].reshape(-1), ignore_index=-100)


_QKV = ("query", "key", "value")  # the order of c_attn's output
_QKV_NAME = re.compile(r"\.attn\.(query|key|value)\.")
_GPT2_NAMES = [  # (our name pattern, transformers name), each applied to the whole name
    (_QKV_NAME, ".attn.c_attn."),
    (r"\.attn\.out\.", ".attn.c_proj."),
    (r"\.fc_in\.", ".mlp.c_fc."),
    (r"\.fc_out\.", ".mlp.c_proj."),
]
_CONV1D_WEIGHT = re.compile(r"\.(c_attn|c_proj|c_fc)\.weight$")


def gpt2_hf_name(name: str) -> str:
    """Transformers' name of the tensor that holds a GPT-2 parameter (q, k and v all live in ``c_attn``).

    Example:
        >>> gpt2_hf_name("transformer.h.3.attn.key.bias")
        'transformer.h.3.attn.c_attn.bias'
        >>> gpt2_hf_name("h.0.fc_out.weight"), gpt2_hf_name("wte.weight")
        ('h.0.mlp.c_proj.weight', 'wte.weight')
    """
    for pattern, replacement in _GPT2_NAMES:
        name = re.sub(pattern, replacement, name)
    return name


def _transpose_conv1d(hf_state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Swap ``Conv1D`` (in, out) and ``nn.Linear`` (out, in) weights; the same function both ways."""
    return {key: t.T if _CONV1D_WEIGHT.search(key) else t for key, t in hf_state.items()}


class GPT2Pretrained(PretrainedMixin, nn.Module):
    """Shared by GPT-2 models: config class, ``transformer`` prefix, checkpoint layout and initialisation."""

    config_class = GPT2Config
    base_prefix = "transformer"

    def hf_name(self, name: str) -> str:
        """Transformers' name of one of this model's state-dict names; see :func:`gpt2_hf_name`."""
        return gpt2_hf_name(name)

    def to_hf_state(self, state: dict[str, Tensor]) -> dict[str, Tensor]:
        """Rename, fuse query | key | value into ``c_attn`` and transpose the ``Conv1D`` weights to (in, out)."""
        hf_state = super().to_hf_state({name: t for name, t in state.items() if not _QKV_NAME.search(name)})
        for name in state:
            if ".attn.query." in name:
                parts = [state[name.replace(".query.", f".{part}.")] for part in _QKV]
                hf_state[self.hf_name(name)] = torch.cat(parts, dim=0)  # (3 * n_embd, n_embd) or (3 * n_embd,)
        return _transpose_conv1d(hf_state)

    def from_hf_state(self, hf_state: dict[str, Tensor]) -> dict[str, Tensor]:
        """Transpose the ``Conv1D`` weights to (out, in) and split ``c_attn``'s output into query | key | value."""
        state = super().from_hf_state(_transpose_conv1d(hf_state))
        for name, t in state.items():
            match = _QKV_NAME.search(name)
            if match:
                state[name] = t.chunk(3, dim=0)[_QKV.index(match[1])]  # (n_embd, n_embd) or (n_embd,)
        return state

    def init_weights(self, module: nn.Module) -> None:
        """transformers' GPT-2 init: N(0, initializer_range), and N(0, initializer_range / sqrt(2 * n_layer)) for
        the projections that write into the residual stream (``attn.c_proj`` and ``mlp.c_proj``)."""
        super().init_weights(module)
        if isinstance(module, TransformerBlock):  # visited after its Linear layers, so this scaling wins
            std = self.config.initializer_range / math.sqrt(2 * self.config.n_layer)
            for linear in (module.attn.out, module.fc_out):
                nn.init.normal_(linear.weight, mean=0.0, std=std)


class GPT2Model(GPT2Pretrained):
    """The GPT-2 decoder: token and position embeddings, pre-LN causal blocks, final LayerNorm ``ln_f``.

    Shapes:
        input_ids: (B, T), integer, or inputs_embeds: (B, T, n_embd), float; attention_mask: (B, T_past + T),
        1 = token, 0 = padding; position_ids: (B, T); past_key_values: as returned with ``use_cache=True`` (or
        prefix tuning's per-layer prefixes); returns :class:`GPT2Output` with
        last_hidden_state (B, T, n_embd) and past_key_values (when ``use_cache``).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> config = GPT2Config(vocab_size=50, n_positions=16, n_embd=8, n_layer=2, n_head=2)
        >>> model = GPT2Model(config).eval()
        >>> out = model(torch.tensor([[5, 7, 9]]), use_cache=True)
        >>> out.last_hidden_state.shape, len(out.past_key_values), out.past_key_values[0][0].shape
        (torch.Size([1, 3, 8]), 2, torch.Size([1, 2, 3, 4]))
    """

    def __init__(self, config: GPT2Config):
        super().__init__()
        if not isinstance(config, GPT2Config):
            raise ValueError(f"config: expected a GPT2Config, got {type(config).__name__}")
        self.config = config
        H = config.n_embd
        self.wte = nn.Embedding(config.vocab_size, H)
        self.wpe = nn.Embedding(config.n_positions, H)
        self.drop = nn.Dropout(config.embd_pdrop)
        block = BlockConfig(H, config.n_head, config.inner_size, dropout=config.resid_pdrop,
                            layer_norm_eps=config.layer_norm_epsilon, activation=config.activation_function,
                            pre_ln=True, use_sdpa=config.use_sdpa, attn_dropout=config.attn_pdrop)
        self.h = nn.ModuleList(TransformerBlock(block) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(H, eps=config.layer_norm_epsilon)
        self.apply(self.init_weights)

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        position_ids: Tensor | None = None,
        past_key_values: PastKeyValues | None = None,
        use_cache: bool = False,
        *,
        inputs_embeds: Tensor | None = None,
    ) -> GPT2Output:
        """Run the decoder on the new tokens ``input_ids`` (after the cached ones); see the class docstring.

        ``inputs_embeds`` (B, T, n_embd) replaces ``input_ids`` by token vectors (prompt tuning puts its prompt
        before the words'); the positions are added to them.
        """
        B, T = check_ids_or_embeds(input_ids, inputs_embeds, self.config.n_embd)
        T_past = past_length(past_key_values, self.config.n_layer)
        if T_past + T > self.config.n_positions:
            name = "input_ids" if inputs_embeds is None else "inputs_embeds"
            raise ValueError(f"{name}: expected T_past + T <= n_positions={self.config.n_positions}, "
                             f"got {T_past} + {T}")
        check_ids("attention_mask", attention_mask, (B, T_past + T))
        check_ids("position_ids", position_ids, (B, T))
        device = (input_ids if inputs_embeds is None else inputs_embeds).device
        if position_ids is None:
            position_ids = torch.arange(T_past, T_past + T, device=device)[None]  # (1, T), not from the mask
        # Without padding or a cache, the kernel applies the causal mask itself (flash attention on a GPU);
        # one new query sees every key; otherwise an explicit (B|1, 1, T, T_past + T) mask.
        is_causal = attention_mask is None and past_key_values is None  # not from shapes: a plain bool under compile
        mask = None if is_causal or (attention_mask is None and T == 1) else causal_mask(T, T_past + T, device=device)
        if attention_mask is not None:
            mask = combine_masks(padding_mask(attention_mask), mask)  # (B, 1, T, T_past + T)
        words = self.wte(input_ids) if inputs_embeds is None else inputs_embeds  # (B, T, n_embd)
        h = self.drop(words + self.wpe(position_ids))  # (B, T, n_embd)
        presents = []
        for block, past_kv in zip(self.h, past_key_values or (None,) * len(self.h)):
            # h: (B, T, n_embd); present: 2 x (B, nh, T_past + T, hs)
            h, present = block(h, mask, past_kv=past_kv, use_cache=True, is_causal=is_causal)
            presents.append(present)
        return GPT2Output(last_hidden_state=self.ln_f(h), past_key_values=tuple(presents) if use_cache else None)


class GPT2LMHeadModel(GPT2Pretrained):
    """GPT-2 with the language-model head, whose weight is the token embedding ``transformer.wte`` (tied).

    ``labels`` (usually ``input_ids``, with -100 where no loss is wanted) are shifted inside, as transformers'.

    Shapes:
        input_ids, labels: (B, T), integer; inputs_embeds: (B, T, n_embd) instead of input_ids;
        attention_mask: (B, T_past + T); position_ids: (B, T);
        returns :class:`GPT2Output` with last_hidden_state (B, T, n_embd), logits (B, T, vocab_size),
        loss (scalar, when ``labels`` is given) and past_key_values (when ``use_cache``).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> config = GPT2Config(vocab_size=50, n_positions=16, n_embd=8, n_layer=2, n_head=2)
        >>> model = GPT2LMHeadModel(config).eval()
        >>> model.lm_head.weight is model.transformer.wte.weight
        True
        >>> ids = torch.tensor([[5, 7, 9, 11]])
        >>> full = model(ids, labels=ids)
        >>> full.logits.shape, full.loss.shape
        (torch.Size([1, 4, 50]), torch.Size([]))
        >>> prefix = model(ids[:, :3], use_cache=True)                       # KV cache: 3 tokens, then 1
        >>> step = model(ids[:, 3:], past_key_values=prefix.past_key_values)
        >>> torch.allclose(step.logits[:, 0], full.logits[:, 3], atol=1e-5)
        True
    """

    def __init__(self, config: GPT2Config):
        super().__init__()
        self.config = config
        self.transformer = GPT2Model(config)
        self.lm_head = LMHead(self.transformer.wte)  # tied, no bias

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        position_ids: Tensor | None = None,
        labels: Tensor | None = None,
        past_key_values: PastKeyValues | None = None,
        use_cache: bool = False,
        *,
        inputs_embeds: Tensor | None = None,
    ) -> GPT2Output:
        """Next-token logits for every position and, given ``labels``, the loss; see the class docstring and
        :meth:`GPT2Model.forward` for ``inputs_embeds``."""
        out = self.transformer(input_ids, attention_mask, position_ids, past_key_values, use_cache,
                               inputs_embeds=inputs_embeds)
        check_ids("labels", labels, tuple(out.last_hidden_state.shape[:2]))
        out.logits = self.lm_head(out.last_hidden_state)  # (B, T, vocab_size)
        if labels is not None:
            out.loss = causal_lm_loss(out.logits, labels)
        return out
