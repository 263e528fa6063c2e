"""Freezing: which pretrained weights fine-tuning may change.

A frozen parameter has ``requires_grad=False``: no gradient is computed for it, the optimiser holds no state
for it, and it stays bit for bit what pretraining made it. Strategies for a model with an ``encoder`` and a
``head`` (:class:`~tlcourse.finetuning.SequenceClassifier`, :class:`~tlcourse.finetuning.TokenClassifier`):

- ``"none"``: full fine-tuning, everything trainable;
- ``"head"``: only the new head (a linear probe of the pretrained features);
- ``"top_k"``: the head, the pooler and the top ``k`` transformer layers (the lower layers hold the more general
  features);
- ``"embeddings"``: everything except the embeddings (the largest single block of a small BERT: 30522 x 384 =
  11.7 M of MiniLM's 22.7 M parameters).

(BERT's pooler trains only in a model that reads it, ``pooling="pooler"``; elsewhere it gets no gradient and
stays frozen, so the counts are the parameters that can actually change.)

Example:
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))     # names 0.weight, 0.bias, 1.weight, 1.bias
    >>> freeze_except(model, ["1."])
    10
    >>> [name for name, p in model.named_parameters() if p.requires_grad]
    ['1.weight', '1.bias']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from torch import nn

from tlcourse.checks import reference

STRATEGIES = ("none", "head", "top_k", "embeddings")


@reference
def freeze_except(model: nn.Module, trainable_prefixes: Sequence[str]) -> int:
    """Make trainable exactly the parameters whose name starts with one of ``trainable_prefixes`` (the others get
    ``requires_grad=False``) and return the number of trainable values (each tied parameter counted once).

    Shapes:
        returns an int: the sum of ``p.numel()`` over the trainable parameters.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if isinstance(trainable_prefixes, str) or not all(isinstance(p, str) for p in trainable_prefixes):
        raise TypeError(f"trainable_prefixes: expected a list of str, got {trainable_prefixes!r}")
    prefixes = tuple(trainable_prefixes)
    total = 0
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name.startswith(prefixes))
        if parameter.requires_grad:
            total += parameter.numel()
    return total


@dataclass(frozen=True)
class ParameterCount:
    """Trainable and total parameter values of a model, and the trainable share."""

    trainable: int
    total: int

    @property
    def share(self) -> float:
        return self.trainable / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"{self.trainable:,} of {self.total:,} parameters trainable ({100 * self.share:.2f} %)"


def parameter_count(model: nn.Module) -> ParameterCount:
    """Count ``model``'s trainable and total parameter values (tied parameters once)."""
    parameters = list(model.parameters())
    return ParameterCount(sum(p.numel() for p in parameters if p.requires_grad), sum(p.numel() for p in parameters))


def freeze(model: nn.Module, strategy: str, k: int = 1) -> ParameterCount:
    """Apply a freezing ``strategy`` (see the module docstring) to a model with ``encoder`` (a
    :class:`~tlcourse.models.BertModel`) and ``head``; return the counts."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy: expected one of {STRATEGIES}, got {strategy!r}")
    encoder = getattr(model, "encoder", None)
    if encoder is None or not hasattr(model, "head") or not hasattr(encoder, "layers"):
        raise TypeError(f"model: expected a classifier with .encoder (a BertModel) and .head, got "
                        f"{type(model).__name__}")
    n_layers = len(encoder.layers)
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= n_layers:
        raise ValueError(f"k: expected an int in [0, {n_layers}], got {k!r}")
    at = next(name for name, module in model.named_modules() if module is encoder) + "."  # "encoder." usually
    # the pooler trains only where the model reads it (pooling="pooler"); elsewhere it gets no gradient
    unused = () if getattr(model, "pooling", None) == "pooler" else (at + "pooler.",)
    names = [name for name, _ in model.named_parameters() if not name.startswith(unused)]
    prefixes = {
        "none": names,
        "head": ["head."],
        "top_k": ["head.", at + "pooler.", *(f"{at}layers.{i}." for i in range(n_layers - k, n_layers))],
        "embeddings": [name for name in names if not name.startswith(at + "embeddings.")],
    }[strategy]
    freeze_except(model, [p for p in prefixes if not p.startswith(unused)])
    return parameter_count(model)
