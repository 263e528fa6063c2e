"""Fine-tuning runs: one training step, a whole run on labeled examples, and predictions.

:func:`training_step` is the loop body every trainer has (zero the gradients, forward, loss, backward, update);
:func:`fine_tune` runs it with the course's :class:`~tlcourse.training.Trainer` (AdamW with decay on the
>= 2-D weights, linear warmup then cosine decay, gradient clipping, tqdm), for a number of epochs over a list of
examples; :func:`predict` labels examples with a trained model.

Example:
    >>> import torch
    >>> from torch import nn
    >>> class Tiny(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.linear = nn.Linear(2, 2)
    ...     def forward(self, x, labels):
    ...         return ClassifierOutput(self.linear(x), nn.functional.cross_entropy(self.linear(x), labels))
    >>> _ = torch.manual_seed(0)
    >>> model = Tiny()
    >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    >>> batch = {"x": torch.tensor([[1.0, 0.0], [0.0, 1.0]]), "labels": torch.tensor([0, 1])}
    >>> first = training_step(model, batch, optimizer)
    >>> second = training_step(model, batch, optimizer)
    >>> second < first
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn

from tlcourse.checks import reference
from tlcourse.finetuning.heads import ClassifierOutput
from tlcourse.training import TrainConfig, Trainer, make_loader

__all__ = ["ClassifierOutput", "FineTuneConfig", "fine_tune", "predict", "training_step"]


@reference
def training_step(model: nn.Module, batch: dict[str, Tensor], optimizer: torch.optim.Optimizer) -> float:
    """One optimisation step on one batch; returns the loss before the update as a float.

    ``model(**batch)`` must return an output with a ``loss`` (the batch holds the labels). The gradients of the
    previous step are cleared first, so each step uses this batch's gradient only.
    """
    if not isinstance(batch, dict):
        raise TypeError(f"batch: expected a dict of tensors, got {type(batch).__name__}")
    model.train()
    optimizer.zero_grad()
    loss = model(**batch).loss
    loss.backward()
    optimizer.step()
    return loss.item()


@dataclass
class FineTuneConfig:
    """How to fine-tune: ``epochs`` over the examples (but at least ``min_steps`` steps: a few labeled examples
    need more passes) in batches of ``batch_size``, AdamW at ``lr`` with linear warmup over ``warmup_ratio`` of
    the steps then cosine decay, gradients clipped to norm 1."""

    epochs: float = 3.0
    min_steps: int = 0
    batch_size: int = 16
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    seed: int = 0
    device: str = "auto"
    dtype: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        if not self.epochs > 0:
            raise ValueError(f"epochs: expected a number > 0, got {self.epochs!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size: expected a positive int, got {self.batch_size!r}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio: expected a float in [0, 1), got {self.warmup_ratio!r}")

    def steps(self, n_examples: int) -> int:
        """Optimisation steps for ``n_examples`` examples (at least one)."""
        return max(1, self.min_steps, math.ceil(self.epochs * n_examples / self.batch_size))


def fine_tune(model: nn.Module, examples: Sequence[Any], collator: Callable, config: FineTuneConfig
              ) -> list[dict[str, Any]]:
    """Train ``model`` in place on ``examples`` (batched by ``collator``) as ``config`` says; return the
    history (loss, learning rate, gradient norm and tokens/s every few steps). Frozen parameters stay frozen."""
    if not examples:
        raise ValueError("examples: expected labeled examples, got none")
    steps = config.steps(len(examples))
    train = TrainConfig(max_steps=steps, lr=config.lr, weight_decay=config.weight_decay,
                        warmup_steps=int(config.warmup_ratio * steps), log_every=max(1, steps // 20),
                        seed=config.seed, device=config.device, dtype=config.dtype, progress=config.progress)
    loader = make_loader(list(examples), config.batch_size, seed=config.seed, collate_fn=collator)
    return Trainer(model, train, loader).train()


@torch.no_grad()
def predict(model: nn.Module, examples: Sequence[Any], collator: Callable, batch_size: int = 64) -> Tensor:
    """The predicted label ids of ``examples``: (N,) for sequence classification, (N, T) per token for token
    classification (T the longest input; read per word with the collator's word ids). Eval mode, no dropout."""
    model.eval()
    device = next(model.parameters()).device
    outputs = []
    for start in range(0, len(examples), batch_size):
        batch = collator(examples[start:start + batch_size])
        batch.pop("labels", None)
        logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
        outputs.append(logits.argmax(-1).cpu())
    if outputs and outputs[0].dim() == 2:  # per token: pad to the longest batch
        T = max(o.shape[1] for o in outputs)
        outputs = [torch.nn.functional.pad(o, (0, T - o.shape[1]), value=-100) for o in outputs]
    return torch.cat(outputs)

