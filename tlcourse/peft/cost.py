"""What a fine-tuning configuration costs to train: parameters, gradient and optimiser memory, peak memory, time.

Parameter-efficient methods save memory mostly where it is easy to overlook: a frozen parameter has no gradient and
no optimiser state. AdamW keeps two float32 tensors per trained value (``exp_avg``, ``exp_avg_sq``) besides the
gradient, so full fine-tuning holds about three extra copies of the model, and an adapter, LoRA or BitFit
configuration three copies of its small trainable set. :func:`training_cost` trains a model for a few steps on one
batch and *measures* all of it from the tensors that exist after the last step, not from a formula.

Example:
    >>> from tlcourse.finetuning import SequenceClassifier, freeze
    >>> from tlcourse.models import BertConfig, BertModel
    >>> _ = torch.manual_seed(0)
    >>> encoder = BertModel(BertConfig(vocab_size=30, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
    ...                                intermediate_size=16, max_position_embeddings=16))
    >>> model = SequenceClassifier(encoder, num_labels=3)
    >>> freeze(model, "head").trainable                       # the linear head only: 8 x 3 + 3 values
    27
    >>> cost = training_cost(model, {"input_ids": torch.tensor([[2, 5, 7, 3]]), "labels": torch.tensor([1])})
    >>> cost.gradient_bytes, cost.optimizer_state_bytes       # 27 x 4; AdamW: 2 x 27 x 4 + a 4-byte step per tensor
    (108, 224)
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import torch
from torch import Tensor, nn

from tlcourse.finetuning.freezing import parameter_count


@dataclass(frozen=True)
class TrainingCost:
    """The measured cost of training one configuration; see :func:`training_cost`.

    ``gradient_bytes``: the ``.grad`` tensors that exist after a step; ``optimizer_state_bytes``: every tensor in
    the optimiser's state (AdamW: ``exp_avg`` and ``exp_avg_sq`` per trained value, plus a 4-byte ``step`` per
    trained tensor); ``peak_memory_bytes``: ``torch.cuda.max_memory_allocated`` over the timed steps (weights,
    activations, gradients, optimiser state), or ``None`` off CUDA, with ``peak_memory_note`` saying which;
    ``step_seconds``: the median wall-clock time of one step (forward, backward, optimiser step).
    """

    trainable_parameters: int
    total_parameters: int
    gradient_bytes: int
    optimizer_state_bytes: int
    peak_memory_bytes: int | None
    peak_memory_note: str
    step_seconds: float
    optimizer: str
    device: str

    @property
    def trainable_share(self) -> float:
        """Trainable values over all values."""
        return self.trainable_parameters / self.total_parameters if self.total_parameters else 0.0

    def __str__(self) -> str:
        peak = "n/a" if self.peak_memory_bytes is None else f"{self.peak_memory_bytes / 2**20:.1f} MiB"
        return (f"{self.trainable_parameters:,} of {self.total_parameters:,} parameters trainable "
                f"({100 * self.trainable_share:.2f} %); gradients {self.gradient_bytes / 2**20:.2f} MiB, "
                f"{self.optimizer} state {self.optimizer_state_bytes / 2**20:.2f} MiB, peak {peak}; "
                f"{1000 * self.step_seconds:.1f} ms per step on {self.device}")


def _tensor_bytes(tensors: Iterable[object]) -> int:
    return sum(t.nbytes for t in tensors if isinstance(t, Tensor))


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def training_cost(
    model: nn.Module,
    batch: Mapping[str, Tensor],
    optimizer_factory: Callable[[list[nn.Parameter]], torch.optim.Optimizer] = torch.optim.AdamW,
    *,
    steps: int = 5,
    warmup: int = 1,
) -> TrainingCost:
    """Train ``model`` on ``batch`` for ``warmup`` then ``steps`` timed steps and measure what it cost.

    ``model(**batch).loss`` is the loss (``batch`` holds the labels; its tensors are moved to the model's device).
    ``optimizer_factory`` gets the trainable parameters (``requires_grad``) and returns the optimiser. The model
    trains in train mode and keeps the updated weights (pass a copy if they matter); its mode is restored and its
    gradients released afterwards. The warm-up steps create the optimiser state and are neither timed nor in the
    peak. On CPU the peak is not measured: PyTorch's CPU allocator keeps no peak counter, and ``tracemalloc`` sees
    Python objects, not tensor storage.

    Shapes:
        batch: keyword arguments of ``model`` (e.g. input_ids, attention_mask (B, T), labels (B,)) ->
        :class:`TrainingCost`.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(batch, Mapping) or not all(isinstance(k, str) for k in batch):
        raise TypeError(f"batch: expected a dict of the model's keyword arguments, got {type(batch).__name__}")
    for name, value, least in (("steps", steps, 1), ("warmup", warmup, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name}: expected an int >= {least}, got {value!r}")
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("model: expected at least one trainable parameter (requires_grad), got none")
    device = trainable[0].device
    batch = {k: v.to(device) if isinstance(v, Tensor) else v for k, v in batch.items()}
    optimizer = optimizer_factory(trainable)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer_factory: expected it to return a torch.optim.Optimizer, got "
                        f"{type(optimizer).__name__}")
    was_training = model.training
    model.train()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = getattr(model(**batch), "loss", None)
        if not isinstance(loss, Tensor) or loss.dim() != 0:
            raise ValueError(f"batch: expected model(**batch).loss to be a scalar tensor (are labels in the "
                             f"batch?), got {_describe(loss)}")
        loss.backward()
        optimizer.step()

    try:
        for _ in range(warmup):
            step()
        if device.type == "cuda":
            _synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        seconds = []
        for _ in range(steps):
            _synchronize(device)
            start = time.perf_counter()
            step()
            _synchronize(device)
            seconds.append(time.perf_counter() - start)
        if device.type == "cuda":
            peak, note = torch.cuda.max_memory_allocated(device), "torch.cuda.max_memory_allocated over the timed steps"
        else:
            peak, note = None, (f"not measured on {device.type}: read on CUDA only (torch.cuda.max_memory_allocated); "
                                "PyTorch's CPU allocator keeps no peak counter")
        gradient_bytes = _tensor_bytes(p.grad for p in model.parameters())
        state_bytes = _tensor_bytes(v for state in optimizer.state.values() for v in state.values())
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    count = parameter_count(model)
    return TrainingCost(count.trainable, count.total, gradient_bytes, state_bytes, peak, note,
                        statistics.median(seconds), type(optimizer).__name__, str(device))


def _describe(value: object) -> str:
    return f"a tensor of shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__
