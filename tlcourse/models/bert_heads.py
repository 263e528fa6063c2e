"""BERT with task heads: masked LM, sequence classification and token classification, as in transformers.

- :class:`BertForMaskedLM`: ``dense -> gelu -> LayerNorm``, then a decoder whose weight *is* the word embedding
  (tied) plus a bias; CE loss over labels != -100. No pooler.
- :class:`BertForSequenceClassification`: pooled ``[CLS]`` -> dropout -> ``classifier``; MSE loss when
  ``num_labels == 1``, CE for integer labels, BCE-with-logits for float multi-labels (``problem_type``).
- :class:`BertForTokenClassification`: hidden states -> dropout -> ``classifier``; CE loss over labels != -100.

Each keeps the encoder as ``self.bert`` and maps its names to transformers' (``cls.predictions.*``,
``classifier.*``) for ``from_pretrained`` / ``save_pretrained``. Each forward takes
``(input_ids, attention_mask=None, token_type_ids=None, labels=None, *, inputs_embeds=None, past_key_values=None,
output_attentions=False, output_hidden_states=False)`` and returns a :class:`BertOutput`.
"""

from __future__ import annotations

from typing import ClassVar

import torch.nn.functional as F
from torch import Tensor, nn

from tlcourse.attention.lm_head import LMHead
from tlcourse.models.bert import BertConfig, BertModel, BertOutput, BertPretrained, PastKeyValues, bert_hf_name
from tlcourse.models.validation import check_ids

_MLM_NAMES = {
    "transform.weight": "cls.predictions.transform.dense.weight",
    "transform.bias": "cls.predictions.transform.dense.bias",
    "transform_norm.weight": "cls.predictions.transform.LayerNorm.weight",
    "transform_norm.bias": "cls.predictions.transform.LayerNorm.bias",
    "decoder.bias": "cls.predictions.bias",
}


class _BertWithHead(BertPretrained):
    """An encoder under ``self.bert`` plus a head: ``forward`` runs the encoder, ``head`` turns its output into
    logits and ``loss`` (per-token cross-entropy over labels != -100 unless overridden) scores them."""

    head_names: ClassVar[dict[str, str]] = {}

    def hf_name(self, name: str) -> str:
        """Transformers' name: ``bert.<encoder name>`` or the head's own mapping."""
        if name.startswith("bert."):
            return "bert." + bert_hf_name(name[len("bert."):])
        return self.head_names.get(name, name)

    def head(self, out: BertOutput) -> Tensor:
        """The logits computed from the encoder's output."""
        raise NotImplementedError

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Cross-entropy of every position's logits (B, T, n) against labels (B, T), ignoring labels of -100."""
        check_ids("labels", labels, tuple(logits.shape[:2]))
        return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        labels: Tensor | None = None,
        *,
        inputs_embeds: Tensor | None = None,
        past_key_values: PastKeyValues | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> BertOutput:
        """Encode, apply the head and, given ``labels``, the loss; see the class docstring for shapes and
        :class:`BertModel` for ``inputs_embeds`` and ``past_key_values`` (prompt and prefix tuning)."""
        out = self.bert(input_ids, attention_mask, token_type_ids, inputs_embeds=inputs_embeds,
                        past_key_values=past_key_values, output_attentions=output_attentions,
                        output_hidden_states=output_hidden_states)
        out.logits = self.head(out)
        if labels is not None:
            out.loss = self.loss(out.logits, labels)
        return out


class BertForMaskedLM(_BertWithHead):
    """BERT with the masked-LM head; the decoder weight is the word-embedding Parameter.

    Shapes:
        input_ids, attention_mask, token_type_ids, labels (-100 = ignored): (B, T), integer;
        returns :class:`BertOutput` with last_hidden_state (B, T, H), logits (B, T, V) and loss (scalar) when
        ``labels`` is given.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> config = BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        ...                     intermediate_size=16, max_position_embeddings=16)
        >>> model = BertForMaskedLM(config).eval()
        >>> model.decoder.weight is model.bert.embeddings.word_embeddings.weight
        True
        >>> out = model(torch.tensor([[2, 7, 9]]), labels=torch.tensor([[-100, 7, -100]]))
        >>> out.logits.shape, out.loss.shape
        (torch.Size([1, 3, 50]), torch.Size([]))
    """

    head_names = _MLM_NAMES

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config, add_pooling_layer=False)
        self.transform = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = nn.GELU(approximate="tanh" if config.hidden_act == "gelu_new" else "none")
        self.transform_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = LMHead(self.bert.embeddings.word_embeddings, bias=True)
        self.apply(self.init_weights)

    def head(self, out: BertOutput) -> Tensor:
        """Every position's vocabulary logits: ``decoder(LN(gelu(transform(h))))``, (B, T, V)."""
        return self.decoder(self.transform_norm(self.act(self.transform(out.last_hidden_state))))  # (B, T, V)


class _BertClassifier(_BertWithHead):
    """Dropout then a linear ``classifier`` on the pooled ``[CLS]`` state (``pooled``) or on every position."""

    pooled: ClassVar[bool]

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config, add_pooling_layer=self.pooled)
        p = config.hidden_dropout_prob if config.classifier_dropout is None else config.classifier_dropout
        self.drop = nn.Dropout(p)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.apply(self.init_weights)

    def head(self, out: BertOutput) -> Tensor:
        """``classifier(dropout(features))``: (B, num_labels) from the pooler, or (B, T, num_labels)."""
        return self.classifier(self.drop(out.pooler_output if self.pooled else out.last_hidden_state))


class BertForSequenceClassification(_BertClassifier):
    """BERT with a classifier (or regressor, ``num_labels == 1``) on the pooled ``[CLS]`` state.

    Shapes:
        input_ids, attention_mask, token_type_ids: (B, T), integer; labels: (B,) integer class ids, (B,) or
        (B, 1) floats for regression, (B, num_labels) floats for multi-label; returns :class:`BertOutput` with
        last_hidden_state (B, T, H), pooler_output (B, H), logits (B, num_labels) and loss when ``labels`` is given.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> config = BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        ...                     intermediate_size=16, max_position_embeddings=16, num_labels=3)
        >>> out = BertForSequenceClassification(config).eval()(torch.tensor([[2, 7, 9]]), labels=torch.tensor([1]))
        >>> out.logits.shape, out.loss.shape
        (torch.Size([1, 3]), torch.Size([]))
    """

    pooled = True

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """transformers' rule: MSE if ``num_labels == 1``, CE for integer labels, else BCE-with-logits."""
        B, n = logits.shape
        problem = self.config.problem_type
        if problem is None:
            problem = ("regression" if n == 1 else
                       "single_label_classification" if not labels.is_floating_point() else
                       "multi_label_classification")
        expected = {"regression": ((B,), (B, 1)), "single_label_classification": ((B,),),
                    "multi_label_classification": ((B, n),)}[problem]
        if not isinstance(labels, Tensor) or tuple(labels.shape) not in expected:
            got = tuple(labels.shape) if isinstance(labels, Tensor) else type(labels).__name__
            raise ValueError(f"labels: expected shape {' or '.join(map(str, expected))} for {problem}, got {got}")
        if problem == "regression":
            return F.mse_loss(logits.squeeze(-1), labels.float().reshape(B))
        if problem == "single_label_classification":
            return F.cross_entropy(logits, labels)
        return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))


class BertForTokenClassification(_BertClassifier):
    """BERT with a classifier on every position (NER, POS); labels of -100 are ignored by the loss.

    Shapes:
        input_ids, attention_mask, token_type_ids, labels: (B, T), integer; returns :class:`BertOutput` with
        last_hidden_state (B, T, H), logits (B, T, num_labels) and loss (scalar) when ``labels`` is given.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> config = BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        ...                     intermediate_size=16, max_position_embeddings=16, num_labels=5)
        >>> out = BertForTokenClassification(config).eval()(torch.tensor([[2, 7]]), labels=torch.tensor([[-100, 4]]))
        >>> out.logits.shape, out.loss.shape
        (torch.Size([1, 2, 5]), torch.Size([]))
    """

    pooled = False
