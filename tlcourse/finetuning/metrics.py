"""How fine-tuned models are scored: accuracy and macro F1 of classes, accuracy of tokens, F1 of entity spans.

Each metric equals the one papers report with, on the same inputs (tests/finetuning/test_metrics.py):
:func:`accuracy` and :func:`macro_f1` scikit-learn's ``accuracy_score`` and ``f1_score(average="macro",
zero_division=0)``, :func:`entity_f1` seqeval's default ``precision_score`` / ``recall_score`` / ``f1_score``.

Predictions are class *ids*, not logits: take ``logits.argmax(-1)`` first. Ids come as lists of ints or integer
tensors (any device); tags as lists of lists of strings, one list per sentence.

Example:
    >>> accuracy([1, 0, 1, 1], [1, 0, 0, 1]), macro_f1([1, 0, 1, 1], [1, 0, 0, 1])
    (0.75, 0.7333333333333334)
    >>> token_accuracy(torch.tensor([[3, 1, 4, 0]]), torch.tensor([[-100, 1, 5, -100]]))
    0.5
    >>> entity_f1([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-PER"]])
    EntityScores(precision=0.5, recall=0.5, f1=0.5, true=2, predicted=2, correct=1)
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Sequence

import torch

#: The label of positions a token metric (and PyTorch's cross-entropy) skips: special tokens, later sub-words.
IGNORE_INDEX = -100


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected int ids, got {type(value).__name__} ({value!r})")
    return int(value)


def _ids(values: Any, name: str) -> list[int] | list[list[int]]:
    """``values`` (a tensor, a NumPy array or lists) as a list of ints, or a list of rows of ints (2-D)."""
    if isinstance(values, torch.Tensor) and (values.is_floating_point() or values.is_complex()):
        raise TypeError(f"{name}: expected class ids (take logits.argmax(-1) first), got a {values.dtype} tensor")
    if hasattr(values, "tolist") and not isinstance(values, (list, tuple)):
        values = values.tolist()
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
        raise TypeError(f"{name}: expected a sequence of int ids or an integer tensor, got {type(values).__name__}")
    if values and all(isinstance(row, (list, tuple)) for row in values):
        return [[_int(value, name) for value in row] for row in values]
    return [_int(value, name) for value in values]


def _pair(predictions: Any, labels: Any) -> tuple[list[int], list[int]]:
    """Two 1-D sequences of ids of the same length, at least one."""
    columns = []
    for name, values in (("predictions", predictions), ("labels", labels)):
        ids = _ids(values, name)
        if ids and isinstance(ids[0], list):
            raise ValueError(f"{name}: expected 1-D ids (B,), got {len(ids)} rows; for token labels use "
                             f"token_accuracy")  # fmt: skip
        columns.append(ids)
    if len(columns[0]) != len(columns[1]):
        raise ValueError(f"predictions: expected one per label ({len(columns[1])}), got {len(columns[0])}")
    if not columns[1]:
        raise ValueError("labels: expected at least one example, got none")
    return columns[0], columns[1]


def accuracy(predictions: Sequence[int] | torch.Tensor, labels: Sequence[int] | torch.Tensor) -> float:
    """The fraction of ``predictions`` equal to ``labels`` (scikit-learn's ``accuracy_score``).

    Shapes:
        predictions: (B,) ids; labels: (B,) ids; returns a float in [0, 1].

    Example:
        >>> accuracy(torch.tensor([2, 0, 1]), [2, 1, 1])
        0.6666666666666666
    """
    predictions, labels = _pair(predictions, labels)
    return sum(p == t for p, t in zip(predictions, labels)) / len(labels)


def macro_f1(predictions: Sequence[int] | torch.Tensor, labels: Sequence[int] | torch.Tensor,
             num_labels: int | None = None) -> float:  # fmt: skip
    """The mean over classes of each class's F1 = 2 TP / (2 TP + FP + FN), every class counting the same.

    The classes are ``range(num_labels)``, or, when ``num_labels`` is None, those that occur in ``labels`` or
    ``predictions`` (scikit-learn's default). A class with no true and no predicted example has F1 0: with
    ``num_labels``, a class absent from both pulls the mean down (as ``f1_score(average="macro",
    labels=range(num_labels), zero_division=0)``; ``zero_division=1`` would count it as 1).

    Shapes:
        predictions: (B,) ids; labels: (B,) ids; returns a float in [0, 1].

    Example:
        >>> macro_f1([0, 0, 1], [0, 1, 1]), macro_f1([0, 0, 1], [0, 1, 1], num_labels=3)
        (0.6666666666666666, 0.4444444444444444)
    """
    predictions, labels = _pair(predictions, labels)
    if num_labels is None:
        classes = sorted(set(labels) | set(predictions))
    else:
        if isinstance(num_labels, bool) or not isinstance(num_labels, int) or num_labels < 1:
            raise ValueError(f"num_labels: expected a positive int or None, got {num_labels!r}")
        outside = sorted({i for i in labels + predictions if not 0 <= i < num_labels})
        if outside:
            raise ValueError(f"predictions, labels: expected ids in [0, {num_labels}), got {outside}")
        classes = list(range(num_labels))
    scores = []
    for c in classes:
        tp = sum(p == c and t == c for p, t in zip(predictions, labels))
        wrong = sum((p == c) != (t == c) for p, t in zip(predictions, labels))  # FP + FN
        scores.append(2 * tp / (2 * tp + wrong) if tp + wrong else 0.0)
    return sum(scores) / len(scores)


def token_accuracy(predictions: Sequence | torch.Tensor, labels: Sequence | torch.Tensor,
                   ignore_index: int = IGNORE_INDEX) -> float:  # fmt: skip
    """The fraction of the positions whose label is not ``ignore_index`` where the prediction equals the label.

    Positions labeled ``ignore_index`` (padding, special tokens, the later sub-words of a word) do not count,
    whatever is predicted there.

    Shapes:
        predictions: (B, T) or (N,) ids, or lists of rows; labels: the same shape; returns a float in [0, 1].
    """
    rows = []
    for name, values in (("predictions", predictions), ("labels", labels)):
        ids = _ids(values, name)
        rows.append(ids if ids and isinstance(ids[0], list) else [ids])  # 1-D: one row
    if [len(row) for row in rows[0]] != [len(row) for row in rows[1]]:
        raise ValueError(f"predictions: expected the shape of labels (row lengths {[len(r) for r in rows[1]]}), "
                         f"got row lengths {[len(r) for r in rows[0]]}")  # fmt: skip
    pairs = [(p, t) for prow, trow in zip(*rows) for p, t in zip(prow, trow) if t != ignore_index]
    if not pairs:
        raise ValueError(f"labels: expected at least one position not labeled {ignore_index}, got none")
    return sum(p == t for p, t in pairs) / len(pairs)


def entity_spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """The entities of one sentence's IOB2 tags as ``(type, start, end)``: its words are ``words[start:end]``.

    Read as seqeval (and CoNLL's ``conlleval``) read them by default: an entity starts at ``B-X``, or at an ``I-X``
    that does not continue an entity of type X (after ``O`` or another type: ill-formed IOB2, well-formed IOB1),
    and goes on over the ``I-X`` that follow.

    Shapes:
        tags: n strings ``O``, ``B-TYPE``, ``I-TYPE``; returns a list of (str, int, int).

    Example:
        >>> entity_spans(["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-PER"])
        [('PER', 0, 2), ('LOC', 3, 4), ('LOC', 4, 5), ('PER', 5, 6)]
    """
    if isinstance(tags, str) or not isinstance(tags, Sequence):
        raise TypeError(f"tags: expected a sequence of tags, got {type(tags).__name__}")
    spans: list[tuple[str, int, int]] = []
    for i, tag in enumerate(tags):
        if not isinstance(tag, str) or not (tag == "O" or (tag[:2] in ("B-", "I-") and len(tag) > 2)):
            raise ValueError(f"tags[{i}]: expected O, B-TYPE or I-TYPE (IOB2), got {tag!r}")
        if tag == "O":
            continue
        kind = tag[2:]
        if tag.startswith("I-") and spans and spans[-1][0] == kind and spans[-1][2] == i:
            spans[-1] = (kind, spans[-1][1], i + 1)  # continues the entity that ends here
        else:
            spans.append((kind, i, i + 1))
    return spans


@dataclass(frozen=True)
class EntityScores:
    """Micro-averaged scores over entities: an entity is correct when its type, start and end all match."""

    precision: float
    recall: float
    f1: float
    true: int
    predicted: int
    correct: int


def entity_f1(true_tags: Sequence[Sequence[str]], predicted_tags: Sequence[Sequence[str]]) -> EntityScores:
    """Precision, recall and F1 of the predicted entities (:func:`entity_spans`) against the true ones.

    Exact matches only (a span one word too long is wrong twice: a false positive and a false negative), pooled
    over all sentences and types: seqeval's default ``precision_score``, ``recall_score`` and ``f1_score``. A ratio
    with nothing to divide by is 0 (seqeval's ``zero_division="warn"`` gives 0 too, with a warning).

    Shapes:
        true_tags: sentences, each a list of n tags; predicted_tags: the same lengths.
    """
    for name, value in (("true_tags", true_tags), ("predicted_tags", predicted_tags)):
        if isinstance(value, str) or not isinstance(value, Sequence) or any(isinstance(s, str) for s in value):
            raise TypeError(f"{name}: expected a list of sentences, each a list of tags, got {type(value).__name__}")
    if len(true_tags) != len(predicted_tags):
        raise ValueError(f"predicted_tags: expected {len(true_tags)} sentences as true_tags, got {len(predicted_tags)}")
    if not true_tags:
        raise ValueError("true_tags: expected at least one sentence, got none")
    true, predicted = set(), set()
    for i, (sentence, guess) in enumerate(zip(true_tags, predicted_tags)):
        if len(sentence) != len(guess):
            raise ValueError(f"predicted_tags[{i}]: expected {len(sentence)} tags as true_tags[{i}], got {len(guess)}")
        true.update((i, *span) for span in entity_spans(sentence))
        predicted.update((i, *span) for span in entity_spans(guess))
    correct = len(true & predicted)
    precision = correct / len(predicted) if predicted else 0.0
    recall = correct / len(true) if true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return EntityScores(precision, recall, f1, len(true), len(predicted), correct)
