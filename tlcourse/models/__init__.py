"""Models that load and save Hugging Face checkpoints: BERT (encoder, masked LM, sequence and token classification).

``BertForMaskedLM.from_pretrained(path)`` reads a transformers checkpoint directory; ``save_pretrained(path)``
writes one that ``transformers.BertForMaskedLM.from_pretrained`` loads with the same weights. The differential
tests in ``tests/models`` prove the outputs, losses and gradients equal to transformers'.
"""

from tlcourse.models.bert import BertConfig, BertModel, BertOutput
from tlcourse.models.bert_heads import BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification
from tlcourse.models.checkpoint import PretrainedMixin, read_checkpoint, write_checkpoint

__all__ = [
    "BertConfig",
    "BertForMaskedLM",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertModel",
    "BertOutput",
    "PretrainedMixin",
    "read_checkpoint",
    "write_checkpoint",
]
