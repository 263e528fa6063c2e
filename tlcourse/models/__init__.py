"""Models that load and save Hugging Face checkpoints: BERT (encoder, masked LM, sequence and token
classification) and GPT-2 (decoder and causal LM, with a KV cache).

``BertForMaskedLM.from_pretrained(path)`` / ``GPT2LMHeadModel.from_pretrained(path)`` read a transformers
checkpoint directory; ``save_pretrained(path)`` writes one that transformers' class of the same name loads with
the same weights. The differential tests in ``tests/models`` prove the outputs, losses, gradients (and, for GPT-2,
cached decoding) equal to transformers'.
"""

from tlcourse.models.bert import BertConfig, BertModel, BertOutput
from tlcourse.models.bert_heads import BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification
from tlcourse.models.bert_pretraining import BertForPreTraining, BertPreTrainingOutput
from tlcourse.models.checkpoint import PretrainedMixin, read_checkpoint, write_checkpoint
from tlcourse.models.gpt2 import GPT2Config, GPT2LMHeadModel, GPT2Model, GPT2Output, causal_lm_loss

__all__ = [
    "BertConfig",
    "BertForMaskedLM",
    "BertForPreTraining",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertModel",
    "BertOutput",
    "BertPreTrainingOutput",
    "GPT2Config",
    "GPT2LMHeadModel",
    "GPT2Model",
    "GPT2Output",
    "PretrainedMixin",
    "causal_lm_loss",
    "read_checkpoint",
    "write_checkpoint",
]
