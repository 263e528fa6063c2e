"""``TrainConfig``: every knob of :class:`~tlcourse.training.Trainer` in one dataclass (nanoGPT style).

The batch size is not here: it is the ``DataLoader``'s (per process, per micro-batch), so one optimisation step
sees ``batch_size * grad_accum_steps * world_size`` examples.

Example:
    >>> config = TrainConfig(max_steps=100, grad_accum_steps=4, lr=1e-3, warmup_steps=10)
    >>> config.max_grad_norm, config.dtype, config.device
    (1.0, 'auto', 'auto')
    >>> TrainConfig(warmup_steps=-1)
    Traceback (most recent call last):
    ...
    ValueError: warmup_steps: expected an int >= 0, got -1
"""

from __future__ import annotations

from dataclasses import dataclass

from tlcourse.models.validation import check_positive_ints

DTYPES = ("auto", "float32", "bf16")


def _check_non_negative_ints(config: object, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name}: expected an int >= 0, got {value!r}")


@dataclass
class TrainConfig:
    """What to train for and how; the defaults suit a small model on a CPU.

    - ``max_steps``: optimisation steps; each takes ``grad_accum_steps`` micro-batches.
    - ``lr``, ``betas``, ``eps``, ``weight_decay``: AdamW's; decay applies to the >= 2-D weights only
      (:func:`~tlcourse.training.optimizer_groups`).
    - ``warmup_steps``, ``min_lr_ratio``: linear warmup from 0 to ``lr``, then a cosine down to
      ``min_lr_ratio * lr`` at ``max_steps`` (:func:`~tlcourse.training.cosine_schedule`).
    - ``max_grad_norm``: clip the global gradient norm to this (``None``: no clipping).
    - ``eval_every`` (0: only after the last step), ``eval_batches`` (``None``: the whole eval loader),
      ``log_every``: steps between history records.
    - ``device``: ``"auto"`` (CUDA when there is one, else CPU), or a torch device string.
    - ``dtype``: ``"auto"`` (bf16 autocast on a GPU that has bf16, float32 otherwise), ``"float32"`` or
      ``"bf16"`` (autocast, also on the CPU when asked). Weights and optimizer state stay float32.
    - ``checkpoint_every`` (0: never) writes ``out_dir/checkpoint-<step>``.
    - ``compile``: run the training forward/backward through ``torch.compile``.
    """

    max_steps: int = 1000
    grad_accum_steps: int = 1
    lr: float = 3e-4
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    max_grad_norm: float | None = 1.0
    eval_every: int = 0
    eval_batches: int | None = None
    log_every: int = 10
    seed: int = 0
    device: str = "auto"
    dtype: str = "auto"
    checkpoint_every: int = 0
    out_dir: str | None = None
    compile: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        optional = ("eval_batches",) if self.eval_batches is not None else ()
        check_positive_ints(self, ("max_steps", "grad_accum_steps", "log_every", *optional))
        _check_non_negative_ints(self, ("warmup_steps", "eval_every", "checkpoint_every", "seed"))
        self.betas = tuple(self.betas)  # a list from JSON becomes the tuple AdamW reports
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas: expected two floats in [0, 1), got {self.betas!r}")
        for name, low, high in (("lr", 0.0, None), ("weight_decay", 0.0, None), ("eps", 0.0, None),
                                ("min_lr_ratio", 0.0, 1.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low or \
                    (high is not None and value > high):
                bounds = f"in [{low}, {high}]" if high is not None else f">= {low}"
                raise ValueError(f"{name}: expected a float {bounds}, got {value!r}")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise ValueError(f"max_grad_norm: expected a positive float or None, got {self.max_grad_norm!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype: expected one of {DTYPES}, got {self.dtype!r}")
        if self.checkpoint_every and self.out_dir is None:
            raise ValueError(f"out_dir: expected a directory to write checkpoints into "
                             f"(checkpoint_every={self.checkpoint_every}), got None")
