"""BERT encoder (``BertModel``), built from :class:`TransformerBlock`, loading and saving Hugging Face checkpoints.

Embeddings ``LN(word[ids] + position[0..T-1] + token_type[tt])`` then dropout; ``num_hidden_layers`` post-LN
blocks with exact GELU and LayerNorm eps 1e-12; an optional pooler ``tanh(dense(h[:, 0]))`` over ``[CLS]``.
Names map to transformers' (``layers.0.attn.query`` <-> ``encoder.layer.0.attention.self.query``), so
``from_pretrained`` reads a transformers ``BertModel`` / ``BertFor*`` directory and ``save_pretrained`` writes one.
The task heads live in :mod:`tlcourse.models.bert_heads`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import Tensor, nn

from tlcourse.attention.block import ACTIVATIONS, BlockConfig, TransformerBlock
from tlcourse.attention.masks import padding_mask
from tlcourse.checks import reference
from tlcourse.models.checkpoint import PretrainedMixin
from tlcourse.models.validation import check_ids, check_ids_or_embeds, check_positive_ints, past_length

PastKeyValues = tuple[tuple[Tensor, Tensor], ...]  # per layer (k, v), each (B, heads, T_past, head_size)


@dataclass
class BertConfig:
    """BERT's sizes and options, with transformers' field names and defaults (bert-base).

    ``from_dict`` reads a transformers ``config.json`` (unknown keys ignored; ``num_labels`` from ``id2label`` when
    absent); ``to_hf_dict`` writes one. ``use_sdpa`` picks the fused attention kernel (ours only, not saved).

    Example:
        >>> config = BertConfig.from_dict({"hidden_size": 32, "num_attention_heads": 4, "unknown_key": 1})
        >>> config.hidden_size, config.layer_norm_eps, config.num_labels
        (32, 1e-12, 2)
        >>> BertConfig.from_dict({"id2label": {"0": "neg", "1": "neu", "2": "pos"}}).num_labels
        3
    """

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    initializer_range: float = 0.02
    num_labels: int = 2
    classifier_dropout: float | None = None
    problem_type: str | None = None
    use_sdpa: bool = True

    def __post_init__(self) -> None:
        check_positive_ints(self, ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                   "intermediate_size", "max_position_embeddings", "type_vocab_size", "num_labels"))
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(f"hidden_size: expected a multiple of num_attention_heads={self.num_attention_heads}, "
                             f"got {self.hidden_size}")
        if self.hidden_act not in ACTIVATIONS:
            raise ValueError(f"hidden_act: expected one of {ACTIVATIONS}, got {self.hidden_act!r}")
        if self.problem_type not in (None, "regression", "single_label_classification", "multi_label_classification"):
            raise ValueError(f"problem_type: expected None, 'regression', 'single_label_classification' or "
                             f"'multi_label_classification', got {self.problem_type!r}")

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> BertConfig:
        """Build from a transformers config dict, ignoring keys that are not fields."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in config.items() if k in known}
        if "num_labels" not in values and config.get("id2label"):
            values["num_labels"] = len(config["id2label"])
        return cls(**values)

    def to_hf_dict(self) -> dict[str, Any]:
        """The transformers ``config.json`` content: fields, ``model_type`` and ``id2label`` / ``label2id``."""
        values = asdict(self)
        values.pop("use_sdpa")
        num_labels = values.pop("num_labels")
        labels = {str(i): f"LABEL_{i}" for i in range(num_labels)}
        return {**values, "model_type": "bert", "id2label": labels, "label2id": {v: int(k) for k, v in labels.items()}}


@dataclass
class BertOutput:
    """What a BERT model returns; fields a model does not compute are ``None``.

    Shapes:
        last_hidden_state: (B, T, H); pooler_output: (B, H); logits: (B, T, V) for MLM, (B, num_labels) for
        sequence classification, (B, T, num_labels) for token classification; loss: scalar;
        hidden_states (``output_hidden_states=True``): L + 1 tensors (B, T, H), the embeddings then each layer's
        output; attentions (``output_attentions=True``): L tensors (B, H_heads, T, T), each layer's weights.
    """

    last_hidden_state: Tensor
    pooler_output: Tensor | None = None
    logits: Tensor | None = None
    loss: Tensor | None = None
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


@reference
class BertEmbeddings(nn.Module):
    """``dropout(LN(word[ids] + position[0..T-1] + token_type[tt]))``; (B, T) ids -> (B, T, H)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        H = config.hidden_size
        self.word_embeddings = nn.Embedding(config.vocab_size, H, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, H)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, H)
        self.norm = nn.LayerNorm(H, eps=config.layer_norm_eps)
        self.drop = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor) -> Tensor:
        """Embed; ``token_type_ids`` has the shape of ``input_ids``."""
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)  # (T,)
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)  # (B, T, H)
        return self.drop(self.norm(x + self.position_embeddings(positions)))  # (B, T, H)


_BERT_NAMES = [  # (our name pattern, transformers name), applied in order, first match wins
    (r"^embeddings\.norm\.", "embeddings.LayerNorm."),
    (r"^layers\.(\d+)\.attn\.(query|key|value)\.", r"encoder.layer.\1.attention.self.\2."),
    (r"^layers\.(\d+)\.attn\.out\.", r"encoder.layer.\1.attention.output.dense."),
    (r"^layers\.(\d+)\.ln_1\.", r"encoder.layer.\1.attention.output.LayerNorm."),
    (r"^layers\.(\d+)\.fc_in\.", r"encoder.layer.\1.intermediate.dense."),
    (r"^layers\.(\d+)\.fc_out\.", r"encoder.layer.\1.output.dense."),
    (r"^layers\.(\d+)\.ln_2\.", r"encoder.layer.\1.output.LayerNorm."),
    (r"^pooler\.", "pooler.dense."),
]


def bert_hf_name(name: str) -> str:
    """Transformers' name for a :class:`BertModel` state-dict name.

    Example:
        >>> bert_hf_name("layers.3.attn.query.weight")
        'encoder.layer.3.attention.self.query.weight'
        >>> bert_hf_name("embeddings.word_embeddings.weight")
        'embeddings.word_embeddings.weight'
    """
    for pattern, replacement in _BERT_NAMES:
        if re.match(pattern, name):
            return re.sub(pattern, replacement, name)
    return name


class BertPretrained(PretrainedMixin, nn.Module):
    """Shared by BERT models: config class and the ``bert`` prefix (initialisation from :class:`PretrainedMixin`)."""

    config_class = BertConfig
    base_prefix = "bert"


class BertModel(BertPretrained):
    """The BERT encoder: embeddings, post-LN blocks and an optional ``[CLS]`` pooler.

    Two extra inputs serve prompt and prefix tuning (:mod:`tlcourse.peft`): ``inputs_embeds`` replaces
    ``input_ids`` by word vectors (the embeddings then add token types and positions to them), and
    ``past_key_values`` puts ``T_past`` given keys and values before each layer's own, as transformers does:
    every query attends to them too (the mask covers ``T_past + T`` keys) and positions start at ``T_past``.

    Shapes:
        input_ids, token_type_ids: (B, T), integer; inputs_embeds: (B, T, H), float, instead of input_ids;
        past_key_values: one (k, v) pair per layer, each (B, heads, T_past, head_size); attention_mask
        (1 = token, 0 = padding): (B, T_past + T); returns :class:`BertOutput` with last_hidden_state (B, T, H),
        pooler_output (B, H) or ``None``, and on request attentions (L x (B, heads, T, T_past + T)) and
        hidden_states (L + 1 x (B, T, H)).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> config = BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        ...                     intermediate_size=16, max_position_embeddings=16)
        >>> model = BertModel(config).eval()
        >>> out = model(torch.tensor([[2, 7, 9, 0]]), attention_mask=torch.tensor([[1, 1, 1, 0]]))
        >>> out.last_hidden_state.shape, out.pooler_output.shape
        (torch.Size([1, 4, 8]), torch.Size([1, 8]))
        >>> out = model(torch.tensor([[2, 7, 9, 0]]), torch.tensor([[1, 1, 1, 0]]), output_attentions=True)
        >>> len(out.attentions), out.attentions[0].shape                   # per layer: (B, heads, T, T)
        (1, torch.Size([1, 2, 4, 4]))
        >>> bool(model.embeddings.word_embeddings.weight[0].eq(0).all())     # the padding row starts at zero
        True
        >>> ids = torch.tensor([[2, 7, 9]])
        >>> words = model.embeddings.word_embeddings(ids)                      # word vectors instead of ids
        >>> torch.allclose(model(inputs_embeds=words).last_hidden_state, model(ids).last_hidden_state)
        True
    """

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        super().__init__()
        if not isinstance(config, BertConfig):
            raise ValueError(f"config: expected a BertConfig, got {type(config).__name__}")
        self.config = config
        self.embeddings = BertEmbeddings(config)
        block = BlockConfig(config.hidden_size, config.num_attention_heads, config.intermediate_size,
                            dropout=config.hidden_dropout_prob, layer_norm_eps=config.layer_norm_eps,
                            activation=config.hidden_act, pre_ln=False, use_sdpa=config.use_sdpa,
                            attn_dropout=config.attention_probs_dropout_prob)
        self.layers = nn.ModuleList(TransformerBlock(block) for _ in range(config.num_hidden_layers))
        self.pooler = nn.Linear(config.hidden_size, config.hidden_size) if add_pooling_layer else None
        self.apply(self.init_weights)

    def hf_name(self, name: str) -> str:
        """Transformers' name of one of this model's state-dict names; see :func:`bert_hf_name`."""
        return bert_hf_name(name)

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        *,
        inputs_embeds: Tensor | None = None,
        past_key_values: PastKeyValues | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> BertOutput:
        """Encode a batch; see the class docstring for shapes.

        ``output_attentions`` also returns each layer's attention weights (computed on the explicit path) and
        ``output_hidden_states`` the embeddings and every layer's output, as transformers'.
        """
        B, T = check_ids_or_embeds(input_ids, inputs_embeds, self.config.hidden_size)
        T_past = past_length(past_key_values, self.config.num_hidden_layers)
        if T_past + T > self.config.max_position_embeddings:
            name = "input_ids" if inputs_embeds is None else "inputs_embeds"
            raise ValueError(f"{name}: expected T_past + T <= max_position_embeddings="
                             f"{self.config.max_position_embeddings} positions, got {T_past} + {T}")
        check_ids("attention_mask", attention_mask, (B, T_past + T))
        check_ids("token_type_ids", token_type_ids, (B, T))
        if token_type_ids is None:
            device = (input_ids if inputs_embeds is None else inputs_embeds).device
            token_type_ids = torch.zeros(B, T, dtype=torch.long, device=device)
        mask = None if attention_mask is None else padding_mask(attention_mask)  # (B, 1, 1, T_past + T)
        h = self._embed(input_ids, token_type_ids, inputs_embeds, T_past)  # (B, T, H)
        hidden_states, attentions = [h], []
        for layer, past_kv in zip(self.layers, past_key_values or (None,) * len(self.layers)):
            # past_kv only when there is one: a block written in notebook 02 (swapped in) need not take it
            extra = {} if past_kv is None else {"past_kv": past_kv}
            if output_attentions:
                h, weights = layer(h, mask, return_weights=True, **extra)  # (B, T, H), (B, heads, T, T_past + T)
                attentions.append(weights)
            else:
                h = layer(h, mask, **extra)  # (B, T, H)
            hidden_states.append(h)
        pooled = None if self.pooler is None else torch.tanh(self.pooler(h[:, 0]))  # (B, H)
        return BertOutput(last_hidden_state=h, pooler_output=pooled,
                          hidden_states=tuple(hidden_states) if output_hidden_states else None,
                          attentions=tuple(attentions) if output_attentions else None)

    def _embed(self, input_ids: Tensor | None, token_type_ids: Tensor, inputs_embeds: Tensor | None,
               T_past: int) -> Tensor:
        """:class:`BertEmbeddings`, or its formula on given word vectors and/or at positions ``T_past ..``.

        Prompt tuning passes ``inputs_embeds`` (the prompt before the words); prefix tuning passes ``T_past``
        prefix keys and values, and transformers (5.x) then numbers the real tokens from ``T_past`` on, as for a
        decoder's cache.
        """
        emb = self.embeddings
        if inputs_embeds is None and T_past == 0:
            return emb(input_ids, token_type_ids)  # (B, T, H)
        words = emb.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds  # (B, T, H)
        positions = torch.arange(T_past, T_past + words.shape[1], device=words.device)  # (T,)
        x = words + emb.token_type_embeddings(token_type_ids)  # (B, T, H)
        return emb.drop(emb.norm(x + emb.position_embeddings(positions)))  # (B, T, H)
