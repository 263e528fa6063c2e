"""What a fine-tuning configuration costs to train: parameters, gradient, optimiser and activation memory, time.

Parameter-efficient methods save memory mostly where it is easy to overlook: a frozen parameter has no gradient and
no optimiser state. AdamW keeps two float32 tensors per trained value (``exp_avg``, ``exp_avg_sq``) besides the
gradient, so full fine-tuning holds about three extra copies of the model, and an adapter, LoRA or BitFit
configuration three copies of its small trainable set. What they do not save in the same proportion is the
*activations*: the tensors the forward pass keeps for the backward pass, needed wherever a gradient must flow
through, which for most methods is every layer above the lowest trained parameter. :func:`training_cost` trains a
model for a few steps on one batch and *measures* all of it from the tensors that exist, not from a formula, and
times the step's three parts.

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
    trained tensor); ``activation_bytes``: the storage of every tensor autograd saves for the backward pass in one
    forward pass (each storage once; the parameters themselves not counted), seen through
    ``torch.autograd.graph.saved_tensors_hooks``; ``peak_memory_bytes``: ``torch.cuda.max_memory_allocated`` over
    the timed steps (weights, activations, temporaries, gradients, optimiser state), or ``None`` off CUDA, with
    ``peak_memory_note`` saying which; ``step_seconds``: the median wall-clock time of one step, and
    ``forward_seconds`` (to the loss), ``backward_seconds`` and ``optimizer_seconds`` (``optimizer.step()``) the
    medians of its parts.
    """

    trainable_parameters: int
    total_parameters: int
    gradient_bytes: int
    optimizer_state_bytes: int
    activation_bytes: int
    peak_memory_bytes: int | None
    peak_memory_note: str
    step_seconds: float
    forward_seconds: float
    backward_seconds: float
    optimizer_seconds: float
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
                f"{self.optimizer} state {self.optimizer_state_bytes / 2**20:.2f} MiB, activations "
                f"{self.activation_bytes / 2**20:.2f} MiB, peak {peak}; {1000 * self.step_seconds:.1f} ms per step "
                f"(forward {1000 * self.forward_seconds:.1f}, backward {1000 * self.backward_seconds:.1f}, "
                f"{self.optimizer} {1000 * self.optimizer_seconds:.1f}) on {self.device}")


def _tensor_bytes(tensors: Iterable[object]) -> int:
    return sum(t.nbytes for t in tensors if isinstance(t, Tensor))


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def saved_activation_bytes(model: nn.Module, forward: Callable[[], object]) -> int:
    """The bytes autograd keeps for the backward pass while ``forward()`` runs ``model``: every distinct storage
    saved for backward, except the model's parameters (which exist anyway).

    Example:
        >>> layer = nn.Linear(4, 3)
        >>> x = torch.randn(5, 4)
        >>> saved_activation_bytes(layer, lambda: layer(x).sum())      # the input, for the weight's gradient
        80
        >>> _ = layer.requires_grad_(False)
        >>> saved_activation_bytes(layer, lambda: layer(x).sum())      # nothing needs a gradient: nothing saved
        0
    """
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(tensor: Tensor) -> Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        forward()
    return sum(saved.values())


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
    gradients released afterwards. The activations are measured in one more forward pass before the warm-up. The
    warm-up steps create the optimiser state and are neither timed nor in the peak. On CPU the peak is not
    measured: PyTorch's CPU allocator keeps no peak counter, and ``tracemalloc`` sees Python objects, not tensor
    storage; weights, activations, gradients and optimiser state together bound it from below.

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

    def loss() -> Tensor:
        value = getattr(model(**batch), "loss", None)
        if not isinstance(value, Tensor) or value.dim() != 0:
            raise ValueError(f"batch: expected model(**batch).loss to be a scalar tensor (are labels in the "
                             f"batch?), got {_describe(value)}")
        return value

    def step() -> tuple[float, float, float]:
        """One step; the seconds of its forward pass (to the loss), backward pass and optimiser step."""
        optimizer.zero_grad(set_to_none=True)
        _synchronize(device)
        start = time.perf_counter()
        value = loss()
        _synchronize(device)
        forward_end = time.perf_counter()
        value.backward()
        _synchronize(device)
        backward_end = time.perf_counter()
        optimizer.step()
        _synchronize(device)
        return forward_end - start, backward_end - forward_end, time.perf_counter() - backward_end

    try:
        activations = saved_activation_bytes(model, loss)
        for _ in range(warmup):
            step()
        if device.type == "cuda":
            _synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        parts = [step() for _ in range(steps)]
        if device.type == "cuda":
            peak, note = torch.cuda.max_memory_allocated(device), "torch.cuda.max_memory_allocated over the timed steps"
        else:
            peak, note = None, (f"not measured on {device.type}: read on CUDA only (torch.cuda.max_memory_allocated); "
                                "PyTorch's CPU allocator keeps no peak counter")
        forward, backward, update = (statistics.median(column) for column in zip(*parts))
        total = statistics.median(sum(p) for p in parts)
        gradient_bytes = _tensor_bytes(p.grad for p in model.parameters())
        state_bytes = _tensor_bytes(v for state in optimizer.state.values() for v in state.values())
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    count = parameter_count(model)
    return TrainingCost(count.trainable, count.total, gradient_bytes, state_bytes, activations, peak, note, total,
                        forward, backward, update, type(optimizer).__name__, str(device))


def _describe(value: object) -> str:
    return f"a tensor of shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__
