"""Sentence-BERT: one encoder, shared by both sentences of a pair (a *siamese* network), and sentence vectors.

Feeding ``[CLS] A [SEP] B [SEP]`` through BERT (a *cross-encoder*, :class:`~tlcourse.finetuning.SequenceClassifier`)
lets every token of A attend to every token of B, but gives no vector per sentence: comparing 10,000 sentences
with each other takes 50 million forward passes. Sentence-BERT (Reimers and Gurevych, 2019) encodes each
sentence **separately** with the same weights, mean-pools the token vectors into one sentence vector, and trains
so that the vectors can be compared directly:

- :class:`SentenceEncoder`: encoder -> pooling (-> L2 normalisation): all-MiniLM-L6-v2 is exactly this, with mean
  pooling and normalisation, and its vectors equal sentence-transformers' (tested);
- :func:`cosine_similarity` compares two vectors; on normalised vectors it is a dot product;
- :class:`SiameseClassifier`: Sentence-BERT's classification objective for NLI, ``softmax(W [u; v; |u - v|])``
  over the two sentence vectors u and v; the "encode each sentence separately and concatenate" alternative to
  the ``[SEP]`` input.

Example:
    >>> u, v = torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 1.0]])
    >>> cosine_similarity(u, v)
    tensor([0.7071])
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from torch import Tensor, nn

from tlcourse.finetuning.heads import ClassificationHead, ClassifierOutput
from tlcourse.finetuning.inputs import SequenceCollator
from tlcourse.finetuning.pooling import POOLINGS
from tlcourse.models.bert import BertModel
from tlcourse.models.validation import check_ids


def cosine_similarity(u: Tensor, v: Tensor) -> Tensor:
    """Row-wise cosine of two batches of vectors.

    Shapes:
        u, v (B, H) -> (B,).
    """
    if not isinstance(u, Tensor) or not isinstance(v, Tensor) or u.shape != v.shape or u.dim() != 2:
        raise ValueError(f"u, v: expected two tensors of one shape (B, H), got {getattr(u, 'shape', type(u))} "
                         f"and {getattr(v, 'shape', type(v))}")
    return F.cosine_similarity(u, v, dim=-1)


class SentenceEncoder(nn.Module):
    """Sentence vectors: ``encoder`` -> ``pooling`` (``"mean"``, ``"cls"`` or ``"max"``) -> optional L2 norm.

    Shapes:
        input_ids, attention_mask (B, T) -> (B, H).
    """

    def __init__(self, encoder: BertModel, pooling: str = "mean", normalize: bool = False):
        super().__init__()
        if not isinstance(encoder, BertModel):
            raise TypeError(f"encoder: expected a tlcourse.models.BertModel, got {type(encoder).__name__}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling: expected one of {sorted(POOLINGS)}, got {pooling!r}")
        self.encoder, self.pooling, self.normalize = encoder, pooling, normalize

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None) -> Tensor:
        mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
        h = self.encoder(input_ids, mask, token_type_ids).last_hidden_state  # (B, T, H)
        vectors = POOLINGS[self.pooling](h, mask)  # (B, H)
        return F.normalize(vectors, dim=-1) if self.normalize else vectors

    @torch.no_grad()
    def encode(self, texts: Sequence[str], tokenizer: Tokenizer, *, max_length: int = 128,
               batch_size: int = 64) -> Tensor:
        """Vectors of ``texts`` in eval mode, in batches. Shapes: N texts -> (N, H)."""
        self.eval()
        collator = SequenceCollator(tokenizer, max_length)
        device = next(self.parameters()).device
        vectors = []
        for start in range(0, len(texts), batch_size):
            batch = collator.encode([_Text(t) for t in texts[start:start + batch_size]])
            vectors.append(self(batch["input_ids"].to(device), batch["attention_mask"].to(device)).cpu())
        return torch.cat(vectors)


class _Text:
    """A text without a label, for :meth:`SequenceCollator.encode`."""

    def __init__(self, text: str):
        self.text = text


class SiameseClassifier(nn.Module):
    """Sentence-BERT's NLI classifier: u, v from one shared :class:`SentenceEncoder`, then a
    :class:`ClassificationHead` on ``[u; v; |u - v|]`` (3H features).

    Shapes:
        input_ids_a, attention_mask_a (B, Ta); input_ids_b, attention_mask_b (B, Tb); labels (B,) ->
        logits (B, C), loss scalar.
    """

    def __init__(self, encoder: BertModel, num_labels: int, *, pooling: str = "mean", dropout: float | None = None):
        super().__init__()
        self.sentence = SentenceEncoder(encoder, pooling)
        p = encoder.config.hidden_dropout_prob if dropout is None else dropout
        self.head = ClassificationHead(3 * encoder.config.hidden_size, num_labels, dropout=p)

    @property
    def encoder(self) -> BertModel:
        return self.sentence.encoder

    def forward(self, input_ids_a: Tensor, attention_mask_a: Tensor, input_ids_b: Tensor, attention_mask_b: Tensor,
                labels: Tensor | None = None) -> ClassifierOutput:
        u = self.sentence(input_ids_a, attention_mask_a)  # (B, H)
        v = self.sentence(input_ids_b, attention_mask_b)  # (B, H)
        logits = self.head(torch.cat([u, v, (u - v).abs()], dim=-1))  # (B, 3H) -> (B, C)
        loss = None
        if labels is not None:
            check_ids("labels", labels, (input_ids_a.shape[0],))
            loss = F.cross_entropy(logits, labels)
        return ClassifierOutput(logits, loss)


class SiameseCollator:
    """``collate_fn`` for :class:`SiameseClassifier`: each pair's premise and hypothesis encoded separately.

    Shapes:
        returns input_ids_a, attention_mask_a (B, Ta), input_ids_b, attention_mask_b (B, Tb), labels (B,).
    """

    def __init__(self, tokenizer: Tokenizer, max_length: int = 128):
        self.sequences = SequenceCollator(tokenizer, max_length)

    def __call__(self, examples: Sequence[Any]) -> dict[str, Tensor]:
        a = self.sequences.encode([_Text(e.premise) for e in examples])
        b = self.sequences.encode([_Text(e.hypothesis) for e in examples])
        return {"input_ids_a": a["input_ids"], "attention_mask_a": a["attention_mask"],
                "input_ids_b": b["input_ids"], "attention_mask_b": b["attention_mask"],
                "labels": torch.tensor([e.label for e in examples], dtype=torch.long)}
