"""Fine-tuning a pretrained encoder: sequence classification, pair classification and token labeling.

- :mod:`~tlcourse.finetuning.pooling`: ``[CLS]``, mean and max pooling over the real tokens.
- :mod:`~tlcourse.finetuning.heads`: the softmax head, :class:`SequenceClassifier` and :class:`TokenClassifier`
  on any :class:`~tlcourse.models.BertModel` (equal to transformers' ``BertFor{Sequence,Token}Classification``).
- :mod:`~tlcourse.finetuning.inputs`: ``[CLS] A [SEP] B [SEP]`` with HF's longest-first truncation, and the
  collators that batch labeled examples; :mod:`~tlcourse.finetuning.alignment`: word labels to sub-words and back.
- :mod:`~tlcourse.finetuning.siamese`: Sentence-BERT's shared encoder, sentence vectors and cosine similarity.
- :mod:`~tlcourse.finetuning.freezing`: which parameters train, with counts.
- :mod:`~tlcourse.finetuning.training`: one training step, a fine-tuning run, predictions.
- :mod:`~tlcourse.finetuning.forgetting`: the pretraining loss before and after fine-tuning.
- :mod:`~tlcourse.finetuning.metrics`: accuracy, macro-F1, token accuracy, entity-level F1.
- :mod:`~tlcourse.finetuning.backbones`: the real MiniLM, the course's world BERT, and both from scratch.
"""

from tlcourse.finetuning.alignment import align_labels, encode_words, word_predictions
from tlcourse.finetuning.backbones import BACKBONES, Backbone, load_backbone
from tlcourse.finetuning.forgetting import Forgetting, measure_forgetting, mlm_loss, world_mlm_batches
from tlcourse.finetuning.freezing import STRATEGIES, ParameterCount, freeze, freeze_except, parameter_count
from tlcourse.finetuning.heads import (
    ClassificationHead,
    ClassifierOutput,
    SequenceClassifier,
    TokenClassifier,
    classification_head,
)
from tlcourse.finetuning.inputs import SequenceCollator, TokenCollator, pair_input, truncate_longest_first
from tlcourse.finetuning.plain_tokenizer import load_tokenizer, plain_tokenizer
from tlcourse.finetuning.pooling import POOLINGS, cls_pooling, max_pooling, mean_pooling, pool
from tlcourse.finetuning.siamese import SentenceEncoder, SiameseClassifier, SiameseCollator, cosine_similarity
from tlcourse.finetuning.training import FineTuneConfig, fine_tune, predict, training_step

__all__ = [
    "BACKBONES", "POOLINGS", "STRATEGIES", "Backbone", "ClassificationHead", "ClassifierOutput", "FineTuneConfig",
    "Forgetting", "ParameterCount", "SentenceEncoder", "SequenceClassifier", "SequenceCollator",
    "SiameseClassifier", "SiameseCollator", "TokenClassifier", "TokenCollator", "align_labels",
    "classification_head", "cls_pooling", "cosine_similarity", "encode_words", "fine_tune", "freeze",
    "freeze_except", "load_backbone", "load_tokenizer", "max_pooling", "mean_pooling", "measure_forgetting",
    "mlm_loss", "pair_input", "parameter_count", "plain_tokenizer", "pool", "predict", "training_step",
    "truncate_longest_first", "word_predictions", "world_mlm_batches",
]
