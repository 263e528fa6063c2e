"""Task heads on a pretrained encoder: the classification head, sequence classification and token labeling.

Fine-tuning puts a small, freshly initialised *downstream model* on top of the pretrained encoder and trains
the two together on labeled examples with cross-entropy:

- :func:`classification_head` is the lecture's softmax layer, ``softmax(W y + b)`` over C classes;
  :class:`ClassificationHead` is the trainable module (dropout then linear, or a small MLP).
- :class:`SequenceClassifier`: one vector per input (``[CLS]``, mean or max pooling, or BERT's own ``pooler``
  ``tanh(dense(h_[CLS]))``) -> head -> one label per input (sentiment; an NLI pair fed as
  ``[CLS] A [SEP] B [SEP]``). With ``pooling="pooler"`` it is transformers' ``BertForSequenceClassification``.
- :class:`TokenClassifier`: the head on every position -> one label per token (POS, NER); labels of -100
  (padding, special tokens, non-first sub-words) are ignored by the loss. It is transformers'
  ``BertForTokenClassification``.

Both take any :class:`~tlcourse.models.BertModel` (the real MiniLM, the course's world BERT, or one with random
weights) and return a :class:`ClassifierOutput` with ``loss`` when labels are given, which is what
:class:`~tlcourse.training.Trainer` trains.

Example:
    >>> from tlcourse.models import BertConfig, BertModel
    >>> _ = torch.manual_seed(0)
    >>> encoder = BertModel(BertConfig(vocab_size=30, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
    ...                                intermediate_size=16, max_position_embeddings=16))
    >>> model = SequenceClassifier(encoder, num_labels=3, pooling="mean").eval()
    >>> out = model(torch.tensor([[2, 5, 7, 0]]), torch.tensor([[1, 1, 1, 0]]), labels=torch.tensor([2]))
    >>> out.logits.shape, out.loss.shape
    (torch.Size([1, 3]), torch.Size([]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tlcourse.checks import reference
from tlcourse.finetuning.pooling import POOLINGS
from tlcourse.models.bert import BertModel, PastKeyValues
from tlcourse.models.validation import check_ids


@reference
def classification_head(features: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """Class probabilities ``softmax(features @ weight.T + bias)``: the softmax layer of a classifier.

    Shapes:
        features (B, H), weight (C, H), bias (C,) -> (B, C), each row summing to 1.

    Example:
        >>> y = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
        >>> classification_head(y, torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), torch.zeros(3)).round(decimals=3)
        tensor([[0.7870, 0.1070, 0.1070],
                [0.3330, 0.3330, 0.3330]])
    """
    if not isinstance(features, Tensor) or features.dim() != 2:
        raise ValueError(f"features: expected a tensor (B, H), got {getattr(features, 'shape', type(features))}")
    H = features.shape[1]
    if not isinstance(weight, Tensor) or weight.dim() != 2 or weight.shape[1] != H:
        raise ValueError(f"weight: expected a tensor (C, {H}), got {getattr(weight, 'shape', type(weight))}")
    if not isinstance(bias, Tensor) or tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"bias: expected a tensor ({weight.shape[0]},), got {getattr(bias, 'shape', type(bias))}")
    logits = features @ weight.T + bias  # (B, C)
    return torch.softmax(logits, dim=-1)


class ClassificationHead(nn.Module):
    """Dropout then ``out = Linear(H, C)``; with ``hidden`` a small MLP: dropout, ``dense = Linear(H, hidden)``,
    tanh, dropout, ``out``. Works on any leading shape.

    Shapes:
        features (..., H) -> logits (..., C).
    """

    def __init__(self, in_features: int, num_labels: int, *, hidden: int | None = None, dropout: float = 0.1):
        super().__init__()
        for name, value in (("in_features", in_features), ("num_labels", num_labels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive int, got {value!r}")
        if hidden is not None and (isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1):
            raise ValueError(f"hidden: expected None or a positive int, got {hidden!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout: expected a float in [0, 1), got {dropout!r}")
        self.dropout = nn.Dropout(dropout)
        self.dense = None if hidden is None else nn.Linear(in_features, hidden)
        self.out = nn.Linear(in_features if hidden is None else hidden, num_labels)
        for linear in (self.dense, self.out):  # BERT's initialisation, as transformers gives a new head
            if linear is not None:
                nn.init.normal_(linear.weight, std=0.02)
                nn.init.zeros_(linear.bias)

    def forward(self, features: Tensor) -> Tensor:
        """Logits (..., C) of features (..., H)."""
        h = self.dropout(features)
        if self.dense is not None:
            h = self.dropout(torch.tanh(self.dense(h)))
        return self.out(h)


@dataclass
class ClassifierOutput:
    """``logits``: (B, C) per sequence or (B, T, C) per token; ``loss``: scalar cross-entropy when labels came."""

    logits: Tensor
    loss: Tensor | None = None


class _EncoderWithHead(nn.Module):
    """A pretrained ``encoder`` and a new :class:`ClassificationHead`; dropout defaults to the encoder's."""

    def __init__(self, encoder: BertModel, num_labels: int, *, hidden: int | None, dropout: float | None):
        super().__init__()
        if not isinstance(encoder, BertModel):
            raise TypeError(f"encoder: expected a tlcourse.models.BertModel, got {type(encoder).__name__}")
        self.encoder = encoder
        p = encoder.config.hidden_dropout_prob if dropout is None else dropout
        self.head = ClassificationHead(encoder.config.hidden_size, num_labels, hidden=hidden, dropout=p)

    @property
    def num_labels(self) -> int:
        return self.head.out.out_features


class SequenceClassifier(_EncoderWithHead):
    """Encoder -> pooling -> :class:`ClassificationHead` -> one label per input; see the module docstring.

    ``pooling``: ``"cls"``, ``"mean"``, ``"max"`` (:mod:`~tlcourse.finetuning.pooling`) or ``"pooler"`` (the
    encoder's pretrained ``tanh(dense(h_[CLS]))``, as ``BertForSequenceClassification``).

    ``inputs_embeds`` (instead of ``input_ids``) and ``past_key_values`` go to the encoder, which is how prompt and
    prefix tuning (:mod:`tlcourse.peft`) feed it; the mask then covers the cached positions too (B, P + T) and
    pooling reads its last T columns.

    Shapes:
        input_ids, attention_mask, token_type_ids (B, T) (or inputs_embeds (B, T, H)); labels (B,) ->
        logits (B, C), loss scalar.
    """

    def __init__(self, encoder: BertModel, num_labels: int, *, pooling: str = "cls", hidden: int | None = None,
                 dropout: float | None = None):
        super().__init__(encoder, num_labels, hidden=hidden, dropout=dropout)
        if pooling not in (*POOLINGS, "pooler"):
            raise ValueError(f"pooling: expected one of {[*POOLINGS, 'pooler']}, got {pooling!r}")
        if pooling == "pooler" and encoder.pooler is None:
            raise ValueError("pooling: 'pooler' needs an encoder with a pooling layer, got one without")
        self.pooling = pooling

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None, labels: Tensor | None = None, *,
                inputs_embeds: Tensor | None = None, past_key_values: PastKeyValues | None = None
                ) -> ClassifierOutput:
        out = self.encoder(input_ids, attention_mask, token_type_ids, inputs_embeds=inputs_embeds,
                           past_key_values=past_key_values)
        hidden = out.last_hidden_state  # (B, T, H): T real positions after any cached (prefix) ones
        B, T = hidden.shape[:2]
        if self.pooling == "pooler":
            features = out.pooler_output  # (B, H)
        else:
            # the mask covers the cached positions too (B, P + T): pool over the last T
            mask = hidden.new_ones(B, T, dtype=torch.long) if attention_mask is None else attention_mask[:, -T:]
            features = POOLINGS[self.pooling](hidden, mask)  # (B, H)
        logits = self.head(features)  # (B, C)
        loss = None
        if labels is not None:
            check_ids("labels", labels, (B,))
            loss = F.cross_entropy(logits, labels)
        return ClassifierOutput(logits, loss)


class TokenClassifier(_EncoderWithHead):
    """Encoder -> :class:`ClassificationHead` on every position -> one label per token (-100: ignored).

    Shapes:
        input_ids, attention_mask, token_type_ids, labels (B, T) -> logits (B, T, C), loss scalar.
    """

    def __init__(self, encoder: BertModel, num_labels: int, *, hidden: int | None = None,
                 dropout: float | None = None):
        super().__init__(encoder, num_labels, hidden=hidden, dropout=dropout)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None, token_type_ids: Tensor | None = None,
                labels: Tensor | None = None) -> ClassifierOutput:
        out = self.encoder(input_ids, attention_mask, token_type_ids)
        logits = self.head(out.last_hidden_state)  # (B, T, C)
        loss = None
        if labels is not None:
            check_ids("labels", labels, tuple(input_ids.shape))
            loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
        return ClassifierOutput(logits, loss)
