"""Sentence-BERT: our SentenceEncoder on the real all-MiniLM-L6-v2 gives sentence-transformers' vectors; the siamese
classifier shares one encoder between both sentences."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from sentence_transformers import SentenceTransformer

from tlcourse.finetuning import (
    SentenceEncoder,
    SiameseClassifier,
    SiameseCollator,
    cosine_similarity,
    load_backbone,
)

SENTENCES = ["Anna lives in Oslo.", "Anna does not live in Oslo.", "The soup was not fresh and the staff were rude.",
             "I would give it five stars.", "Tom bought a red lamp at Marco's shop in Rome last Friday."]


@pytest.fixture(scope="module")
def minilm(minilm_dir):
    return load_backbone("minilm")


def test_sentence_vectors_equal_sentence_transformers(minilm, minilm_dir):
    reference = SentenceTransformer(str(minilm_dir), device="cpu")
    expected = reference.encode(SENTENCES, convert_to_tensor=True)
    actual = SentenceEncoder(minilm.encoder, "mean", normalize=True).encode(SENTENCES, minilm.tokenizer)
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=0)
    expected_cosine = torch.nn.functional.cosine_similarity(expected[:1], expected[1:])
    torch.testing.assert_close(cosine_similarity(actual[:1].expand(4, -1), actual[1:]), expected_cosine,
                               atol=1e-5, rtol=0)


def test_batching_and_padding_do_not_change_a_sentence_vector(minilm):
    encoder = SentenceEncoder(minilm.encoder, "mean", normalize=True)
    together = encoder.encode(SENTENCES, minilm.tokenizer)
    alone = torch.cat([encoder.encode([s], minilm.tokenizer) for s in SENTENCES])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=0)


@dataclass
class Pair:
    premise: str
    hypothesis: str
    label: int


def test_the_siamese_classifier_shares_one_encoder_and_is_symmetric_in_its_features(minilm):
    model = SiameseClassifier(minilm.encoder, 3).eval()
    assert model.sentence.encoder is minilm.encoder
    n_encoder = sum(p.numel() for p in minilm.encoder.parameters())
    assert sum(p.numel() for p in model.parameters()) == n_encoder + (3 * 384 + 1) * 3  # one encoder, one head
    batch = SiameseCollator(minilm.tokenizer)([Pair(SENTENCES[0], SENTENCES[1], 2), Pair(SENTENCES[2], SENTENCES[3], 0)])
    out = model(**batch)
    assert out.logits.shape == (2, 3) and out.loss.shape == ()
    u = model.sentence(batch["input_ids_a"], batch["attention_mask_a"])
    v = model.sentence(batch["input_ids_b"], batch["attention_mask_b"])
    torch.testing.assert_close(out.logits, model.head(torch.cat([u, v, (u - v).abs()], -1)))


def test_bad_arguments_are_clear_errors(minilm):
    with pytest.raises(ValueError, match="u, v: expected two tensors of one shape"):
        cosine_similarity(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="pooling: expected one of"):
        SentenceEncoder(minilm.encoder, "pooler")
