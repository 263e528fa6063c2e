"""Learning-rate schedule: linear warmup, then a half cosine down to a floor.

``lr(step) = base_lr * cosine_lr_factor(step, ...)``: ``step / warmup_steps`` during warmup, then
``min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + cos(pi * progress))`` with ``progress`` going from 0 at the end
of warmup to 1 at ``total_steps``. This is transformers' ``get_cosine_schedule_with_warmup`` (and, with a floor,
``get_cosine_with_min_lr_schedule_with_warmup(min_lr_rate=...)``) up to ``total_steps``; past it the factor stays
at the floor, where transformers' cosine would climb again.

Example:
    >>> [round(cosine_lr_factor(s, warmup_steps=2, total_steps=6), 3) for s in range(7)]
    [0.0, 0.5, 1.0, 0.854, 0.5, 0.146, 0.0]
    >>> cosine_lr_factor(6, warmup_steps=2, total_steps=6, min_lr_ratio=0.1)
    0.1
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch.optim.lr_scheduler import LambdaLR


def cosine_lr_factor(step: int, warmup_steps: int, total_steps: int, min_lr_ratio: float = 0.0) -> float:
    """The multiplier of the base learning rate at ``step`` (0 = before the first optimizer step)."""
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def cosine_schedule(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int,
                    min_lr_ratio: float = 0.0) -> LambdaLR:
    """A ``LambdaLR`` that scales every group's initial lr by :func:`cosine_lr_factor`; call ``.step()`` after each
    ``optimizer.step()``. Its ``state_dict`` holds the step count, so a checkpoint resumes it exactly.

    Example:
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> schedule = cosine_schedule(opt, warmup_steps=1, total_steps=3)
        >>> lrs = []
        >>> for _ in range(3):
        ...     lrs.append(opt.param_groups[0]["lr"])
        ...     opt.step(); schedule.step()
        >>> lrs
        [0.0, 1.0, 0.5]
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer: expected a torch.optim.Optimizer, got {type(optimizer).__name__}")
    for name, value in (("warmup_steps", warmup_steps), ("total_steps", total_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name}: expected an int >= 0, got {value!r}")
    if not 0.0 <= min_lr_ratio <= 1.0:
        raise ValueError(f"min_lr_ratio: expected a float in [0, 1], got {min_lr_ratio!r}")
    factor = partial(cosine_lr_factor, warmup_steps=warmup_steps, total_steps=total_steps, min_lr_ratio=min_lr_ratio)
    return LambdaLR(optimizer, factor)
