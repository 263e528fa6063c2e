"""The fine-tuning metrics equal scikit-learn's and seqeval's on the same inputs, ill-formed and empty cases too."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
import torch
from seqeval.metrics import f1_score as seqeval_f1
from seqeval.metrics import precision_score as seqeval_precision
from seqeval.metrics import recall_score as seqeval_recall
from seqeval.metrics.sequence_labeling import get_entities
from sklearn.metrics import accuracy_score, f1_score

from tlcourse.finetuning.metrics import (
    IGNORE_INDEX,
    EntityScores,
    accuracy,
    entity_f1,
    entity_spans,
    macro_f1,
    token_accuracy,
)

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


def class_cases(count: int = 300):
    """(predictions, labels, num_labels): random ids, some classes missing from one side or from both."""
    rng = random.Random(0)
    for _ in range(count):
        num_labels = rng.randint(1, 6)
        n = rng.randint(1, 40)
        used = rng.sample(range(num_labels), rng.randint(1, num_labels))  # a subset of the classes occurs
        labels = [rng.choice(used) for _ in range(n)]
        predictions = [t if rng.random() < 0.5 else rng.choice(used) for t in labels]
        yield predictions, labels, num_labels


def tag_cases(count: int = 400):
    """(true, predicted) tag sentences: random IOB tags, so I- after O or after another type happens often."""
    rng = random.Random(1)
    for case in range(count):
        tags = rng.sample(TAGS, rng.randint(1, len(TAGS))) if case % 10 else ["O"]  # every 10th: no entity at all
        true, predicted = [], []
        for _ in range(rng.randint(1, 6)):
            length = rng.randint(0, 10)
            sentence = rng.choices(tags, k=length)
            true.append(sentence)
            predicted.append([t if rng.random() < 0.6 else rng.choice(tags) for t in sentence])
        yield true, predicted


def test_accuracy_equals_sklearn():
    for predictions, labels, _ in class_cases():
        expected = accuracy_score(labels, predictions)
        assert accuracy(predictions, labels) == pytest.approx(expected, abs=1e-12)
        assert accuracy(torch.tensor(predictions), torch.tensor(labels)) == pytest.approx(expected, abs=1e-12)


def test_macro_f1_equals_sklearn():
    for predictions, labels, num_labels in class_cases():
        expected = f1_score(labels, predictions, average="macro", zero_division=0)
        assert macro_f1(predictions, labels) == pytest.approx(expected, abs=1e-12), (predictions, labels)
        expected = f1_score(labels, predictions, average="macro", labels=range(num_labels), zero_division=0)
        got = macro_f1(torch.tensor(predictions), np.array(labels), num_labels=num_labels)
        assert got == pytest.approx(expected, abs=1e-12), (predictions, labels, num_labels)


def test_macro_f1_counts_a_class_absent_from_both_sides_as_zero():
    assert macro_f1([0, 1], [0, 1]) == 1.0
    assert macro_f1([0, 1], [0, 1], num_labels=3) == pytest.approx(2 / 3)
    assert f1_score([0, 1], [0, 1], average="macro", labels=range(3), zero_division=0) == pytest.approx(2 / 3)


def test_token_accuracy_equals_sklearn_on_the_labeled_positions():
    rng = random.Random(2)
    for _ in range(200):
        batch, length = rng.randint(1, 4), rng.randint(1, 12)
        labels = torch.tensor([[rng.choice([IGNORE_INDEX, 0, 1, 2]) for _ in range(length)] for _ in range(batch)])
        labels[0, 0] = 1  # at least one position counts
        generator = torch.Generator().manual_seed(rng.randrange(2**31))
        predictions = torch.randint(0, 3, (batch, length), generator=generator)
        keep = labels != IGNORE_INDEX
        expected = accuracy_score(labels[keep].numpy(), predictions[keep].numpy())
        assert token_accuracy(predictions, labels) == pytest.approx(expected, abs=1e-12)
        assert token_accuracy(predictions.tolist(), labels.tolist()) == pytest.approx(expected, abs=1e-12)
        assert token_accuracy(predictions.flatten(), labels.flatten()) == pytest.approx(expected, abs=1e-12)
    assert token_accuracy([[1, 2], [3]], [[1, 5], [-1]], ignore_index=-1) == 0.5  # rows of their own lengths


def test_entity_spans_are_seqevals_entities():
    for true, predicted in tag_cases():
        for sentence in true + predicted:
            expected = [(kind, start, end + 1) for kind, start, end in get_entities(sentence)]
            assert entity_spans(sentence) == expected, sentence


def test_entity_f1_equals_seqeval():
    for true, predicted in tag_cases():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # seqeval warns where it divides by zero (and gives 0)
            expected = (seqeval_precision(true, predicted), seqeval_recall(true, predicted),
                        seqeval_f1(true, predicted))  # fmt: skip
        scores = entity_f1(true, predicted)
        assert (scores.precision, scores.recall, scores.f1) == pytest.approx(expected, abs=1e-12), (true, predicted)


def test_entity_f1_counts_and_ill_formed_tags():
    scores = entity_f1([["B-PER", "I-PER", "O", "B-LOC"], ["O"]], [["B-PER", "O", "O", "I-LOC"], ["I-MISC"]])
    # I-LOC after O starts a LOC entity (as seqeval and conlleval read it), so it matches; PER is one word short
    assert scores == EntityScores(precision=1 / 3, recall=0.5, f1=0.4, true=2, predicted=3, correct=1)
    assert entity_f1([["O", "O"], []], [["O", "O"], []]) == EntityScores(0.0, 0.0, 0.0, 0, 0, 0)
    assert entity_spans(["I-PER", "I-LOC", "I-LOC", "B-LOC", "I-PER"]) == [
        ("PER", 0, 1), ("LOC", 1, 3), ("LOC", 3, 4), ("PER", 4, 5)]  # fmt: skip
    assert entity_spans([]) == []


def test_class_metric_errors():
    with pytest.raises(TypeError, match=r"predictions: expected class ids \(take logits.argmax\(-1\) first\)"):
        accuracy(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))
    with pytest.raises(ValueError, match=r"predictions: expected 1-D ids \(B,\), got 2 rows; .*token_accuracy"):
        accuracy(torch.zeros(2, 3, dtype=torch.long), [0, 1])
    with pytest.raises(ValueError, match=r"predictions: expected one per label \(3\), got 2"):
        macro_f1([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="labels: expected at least one example, got none"):
        accuracy([], [])
    with pytest.raises(TypeError, match=r"labels: expected int ids, got float \(1.0\)"):
        accuracy([1], [1.0])
    with pytest.raises(TypeError, match="labels: expected int ids, got bool"):
        macro_f1([1], [True])
    with pytest.raises(TypeError, match="predictions: expected a sequence of int ids or an integer tensor, got str"):
        accuracy("01", [0, 1])
    with pytest.raises(ValueError, match=r"predictions, labels: expected ids in \[0, 2\), got \[-1, 2\]"):
        macro_f1([0, 2], [-1, 1], num_labels=2)
    with pytest.raises(ValueError, match="num_labels: expected a positive int or None, got 0"):
        macro_f1([0], [0], num_labels=0)


def test_token_and_entity_metric_errors():
    with pytest.raises(ValueError, match=r"predictions: expected the shape of labels \(row lengths \[2, 2\]\), got "
                                         r"row lengths \[2, 3\]"):  # fmt: skip
        token_accuracy([[0, 1], [0, 1, 2]], [[0, 1], [0, 1]])
    with pytest.raises(ValueError, match="labels: expected at least one position not labeled -100, got none"):
        token_accuracy(torch.zeros(2, 3, dtype=torch.long), torch.full((2, 3), -100))
    with pytest.raises(TypeError, match="predictions: expected class ids"):
        token_accuracy(torch.zeros(2, 3, 5), torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"tags\[1\]: expected O, B-TYPE or I-TYPE \(IOB2\), got 'E-PER'"):
        entity_spans(["B-PER", "E-PER"])
    with pytest.raises(TypeError, match="tags: expected a sequence of tags, got str"):
        entity_spans("B-PER")
    with pytest.raises(TypeError, match="true_tags: expected a list of sentences, each a list of tags, got list"):
        entity_f1(["B-PER", "O"], [["B-PER", "O"]])
    with pytest.raises(ValueError, match="predicted_tags: expected 2 sentences as true_tags, got 1"):
        entity_f1([["O"], ["O"]], [["O"]])
    with pytest.raises(ValueError, match=r"predicted_tags\[1\]: expected 2 tags as true_tags\[1\], got 1"):
        entity_f1([["O"], ["O", "B-PER"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="true_tags: expected at least one sentence, got none"):
        entity_f1([], [])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_ids_on_the_gpu():
    predictions, labels = torch.tensor([1, 0, 2], device="cuda"), torch.tensor([1, 1, 2], device="cuda")
    assert accuracy(predictions, labels) == pytest.approx(2 / 3)
    assert token_accuracy(predictions[None], labels[None]) == pytest.approx(2 / 3)
