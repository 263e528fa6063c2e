"""Freezing keeps frozen tensors bit-identical through optimisation; the strategies' counts are what they claim;
fine-tuning runs; the forgetting measurement is reproducible and zero for a frozen encoder."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pytest
import torch

from tlcourse.finetuning import (
    FineTuneConfig,
    SequenceClassifier,
    TokenClassifier,
    fine_tune,
    freeze,
    freeze_except,
    measure_forgetting,
    parameter_count,
    predict,
    training_step,
)
from tlcourse.models import BertConfig, BertForMaskedLM, BertModel
from tlcourse.training import make_optimizer, TrainConfig

CONFIG = dict(vocab_size=60, hidden_size=16, num_hidden_layers=3, num_attention_heads=2, intermediate_size=32,
              max_position_embeddings=16)


def _classifier(seed: int = 0) -> SequenceClassifier:
    torch.manual_seed(seed)
    return SequenceClassifier(BertModel(BertConfig(**CONFIG)), 3, pooling="mean")


def _batch(seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"input_ids": torch.randint(5, 60, (4, 10), generator=g),
            "attention_mask": torch.ones(4, 10, dtype=torch.long), "labels": torch.randint(0, 3, (4,), generator=g)}


@pytest.mark.parametrize("strategy,k", [("head", 1), ("top_k", 1), ("top_k", 2), ("embeddings", 1)])
def test_frozen_tensors_stay_bit_identical_after_optimisation_steps(strategy, k):
    model = _classifier()
    freeze(model, strategy, k)
    before = copy.deepcopy(model.state_dict())
    optimizer = make_optimizer(model, TrainConfig(lr=1e-2, weight_decay=0.1), torch.device("cpu"))
    for step in range(3):
        training_step(model, _batch(step), optimizer)
    after = model.state_dict()
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            assert not torch.equal(after[name], before[name]), f"{name} is trainable but did not move"
        else:
            assert torch.equal(after[name], before[name]), f"{name} is frozen but changed"


def test_strategy_counts_match_the_parts_they_train():
    model = _classifier()
    total = sum(p.numel() for p in model.parameters())
    head = sum(p.numel() for p in model.head.parameters())
    layer = sum(p.numel() for p in model.encoder.layers[2].parameters())
    pooler = sum(p.numel() for p in model.encoder.pooler.parameters())
    embeddings = sum(p.numel() for p in model.encoder.embeddings.parameters())
    # mean pooling never reads BERT's pooler: it stays frozen
    assert freeze(model, "none").trainable == total - pooler
    assert freeze(model, "head").trainable == head
    assert freeze(model, "top_k", 1).trainable == head + layer
    assert freeze(model, "top_k", 0).trainable == head
    counts = freeze(model, "embeddings")
    assert (counts.trainable, counts.total) == (total - embeddings - pooler, total)
    assert counts.share == pytest.approx((total - embeddings - pooler) / total)
    assert parameter_count(model) == counts
    model.pooling = "pooler"  # a model that reads it trains it
    assert freeze(model, "top_k", 1).trainable == head + pooler + layer


def test_freeze_except_counts_a_tied_weight_once():
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(**CONFIG))
    embedding = model.bert.embeddings.word_embeddings.weight
    assert model.decoder.weight is embedding
    n = freeze_except(model, ["decoder."])  # the tied weight is named bert.embeddings... by named_parameters
    assert n == model.decoder.bias.numel()
    assert freeze_except(model, ["bert.embeddings.word_embeddings."]) == embedding.numel()


def test_bad_freezing_arguments_are_clear_errors():
    model = _classifier()
    with pytest.raises(ValueError, match="strategy: expected one of"):
        freeze(model, "bottom")
    with pytest.raises(ValueError, match=r"k: expected an int in \[0, 3\]"):
        freeze(model, "top_k", 4)
    with pytest.raises(TypeError, match="trainable_prefixes: expected a list of str"):
        freeze_except(model, "head.")
    with pytest.raises(TypeError, match="model: expected a classifier with .encoder"):
        freeze(torch.nn.Linear(2, 2), "head")


@dataclass
class Text:
    text: str
    label: int


class WordCollator:
    """Texts of digits as ids: enough to train a tiny classifier without a tokenizer."""

    def __call__(self, examples):
        ids = torch.tensor([[int(c) + 5 for c in e.text] for e in examples])
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids),
                "labels": torch.tensor([e.label for e in examples])}


def test_fine_tune_learns_a_separable_task_and_predict_reads_it():
    # label 1 for texts of low digits, 0 for high ones: a 3-layer BERT from scratch learns it in a few epochs
    import random

    rng = random.Random(0)
    examples = []
    for _ in range(64):
        label = rng.randint(0, 1)
        examples.append(Text("".join(rng.choice("01234" if label else "56789") for _ in range(8)), label))
    model = _classifier()
    history = fine_tune(model, examples, WordCollator(), FineTuneConfig(epochs=6, lr=3e-3, progress=False))
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    predictions = predict(model, examples, WordCollator())
    assert predictions.shape == (64,)
    assert (predictions == torch.tensor([e.label for e in examples])).float().mean() > 0.9


def test_forgetting_is_reproducible_and_zero_for_a_frozen_encoder():
    torch.manual_seed(0)
    pretrained = BertForMaskedLM(BertConfig(**CONFIG)).eval()
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 60, (8, 10), generator=g)
    labels = torch.where(torch.rand(8, 10, generator=g) < 0.3, ids, torch.full_like(ids, -100))
    batches = [{"input_ids": ids, "labels": labels}]
    classifier = TokenClassifier(copy.deepcopy(pretrained.bert), 4)
    freeze(classifier, "head")
    optimizer = torch.optim.AdamW([p for p in classifier.parameters() if p.requires_grad], lr=1e-2)
    token_batch = {"input_ids": ids, "labels": torch.randint(0, 4, ids.shape, generator=g)}
    training_step(classifier, token_batch, optimizer)
    frozen = measure_forgetting(pretrained, classifier.encoder, batches)
    assert frozen.before == frozen.after

    freeze(classifier, "none")
    optimizer = torch.optim.AdamW(classifier.parameters(), lr=1e-2)
    for _ in range(5):
        training_step(classifier, token_batch, optimizer)
    tuned = measure_forgetting(pretrained, classifier.encoder, batches)
    assert tuned.before == frozen.before
    assert tuned.after != tuned.before
    assert measure_forgetting(pretrained, classifier.encoder, batches) == tuned  # same numbers again
