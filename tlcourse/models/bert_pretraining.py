"""BERT with both pretraining heads: masked LM and next-sentence prediction, as transformers' ``BertForPreTraining``.

The masked-LM head is :class:`~tlcourse.models.bert_heads.BertForMaskedLM`'s (tied decoder, ``cls.predictions.*``);
the NSP head ``cls.seq_relationship`` is a ``Linear(H, 2)`` on the pooled ``[CLS]`` state, so this model keeps the
pooler that the masked-LM model drops. Class 0 means "B continues A" (*IsNext*), 1 "B is random" (*NotNext*).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch.nn.functional as F
from torch import Tensor, nn

from tlcourse.models.bert import BertConfig, BertOutput
from tlcourse.models.bert_heads import BertForMaskedLM
from tlcourse.models.validation import check_ids


@dataclass
class BertPreTrainingOutput(BertOutput):
    """:class:`BertOutput` plus the NSP logits and both losses; ``logits`` holds the masked-LM logits, also
    readable under transformers' name ``prediction_logits``.

    Shapes:
        logits / prediction_logits: (B, T, V); seq_relationship_logits: (B, 2); mlm_loss, nsp_loss, loss: scalars.
        ``loss = mlm_loss + nsp_loss`` when both labels are given, else whichever one is (transformers returns no
        loss unless it has both).
    """

    seq_relationship_logits: Tensor | None = None
    mlm_loss: Tensor | None = None
    nsp_loss: Tensor | None = None

    @property
    def prediction_logits(self) -> Tensor | None:
        """The masked-LM logits (B, T, V), under transformers' field name."""
        return self.logits


class BertForPreTraining(BertForMaskedLM):
    """BERT with the masked-LM head (tied to the word embeddings) and the NSP head on the pooler.

    Shapes:
        input_ids, attention_mask, token_type_ids, labels (-100 = ignored): (B, T), integer;
        next_sentence_label: (B,), 0 = IsNext, 1 = NotNext; returns :class:`BertPreTrainingOutput` with
        last_hidden_state (B, T, H), pooler_output (B, H), logits (B, T, V), seq_relationship_logits (B, 2) and
        the losses of the labels given.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> config = BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        ...                     intermediate_size=16, max_position_embeddings=16)
        >>> model = BertForPreTraining(config).eval()
        >>> ids, types = torch.tensor([[2, 7, 3, 9, 3]]), torch.tensor([[0, 0, 0, 1, 1]])   # [CLS] A [SEP] B [SEP]
        >>> out = model(ids, token_type_ids=types, labels=torch.tensor([[-100, 7, -100, -100, -100]]),
        ...             next_sentence_label=torch.tensor([0]))
        >>> out.prediction_logits.shape, out.seq_relationship_logits.shape
        (torch.Size([1, 5, 50]), torch.Size([1, 2]))
        >>> torch.allclose(out.loss, out.mlm_loss + out.nsp_loss)
        True
    """

    head_names = {
        **BertForMaskedLM.head_names,
        "seq_relationship.weight": "cls.seq_relationship.weight",
        "seq_relationship.bias": "cls.seq_relationship.bias",
    }

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert.pooler = nn.Linear(config.hidden_size, config.hidden_size)  # the masked-LM model has none
        self.seq_relationship = nn.Linear(config.hidden_size, 2)
        self.init_weights(self.bert.pooler)
        self.init_weights(self.seq_relationship)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        labels: Tensor | None = None,
        next_sentence_label: Tensor | None = None,
        *,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> BertPreTrainingOutput:
        """Both heads and, given labels, their cross-entropy losses; see the class docstring for shapes."""
        out = super().forward(input_ids, attention_mask, token_type_ids, labels,
                              output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        check_ids("next_sentence_label", next_sentence_label, (input_ids.shape[0],))
        nsp_logits = self.seq_relationship(out.pooler_output)  # (B, 2)
        nsp_loss = None if next_sentence_label is None else F.cross_entropy(nsp_logits, next_sentence_label)
        losses = [loss for loss in (out.loss, nsp_loss) if loss is not None]
        encoder = {f.name: getattr(out, f.name) for f in fields(BertOutput) if f.name != "loss"}
        return BertPreTrainingOutput(**encoder, loss=sum(losses) if losses else None,
                                     seq_relationship_logits=nsp_logits, mlm_loss=out.loss, nsp_loss=nsp_loss)
