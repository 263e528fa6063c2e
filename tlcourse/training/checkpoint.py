"""Training checkpoints: everything a run needs to continue exactly where it stopped.

A checkpoint is a directory:

- the model's weights: for a ``tlcourse.models`` model, its ``save_pretrained`` layout (``config.json`` +
  ``model.safetensors`` with Hugging Face names, so transformers loads it too); for any other module,
  ``model.safetensors`` with its own state-dict names;
- ``trainer_state.pt``: the optimizer (AdamW's moments and step counts), the learning-rate schedule, every random
  generator (:mod:`~tlcourse.training.rng`) and the trainer's own state (step, epoch and batches taken from it,
  history), all read back with ``torch.load(weights_only=True)``.

Example:
    >>> import tempfile
    >>> from torch import nn
    >>> model, path = nn.Linear(3, 2), tempfile.mkdtemp()
    >>> opt = torch.optim.AdamW(model.parameters())
    >>> schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    >>> save_checkpoint(path, model, opt, schedule, {"step": 7})
    >>> load_checkpoint(path, nn.Linear(3, 2), opt, schedule)["step"]
    7
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model
from torch import nn

from tlcourse.models.checkpoint import PretrainedMixin, SAFETENSORS_NAME, read_checkpoint
from tlcourse.training.rng import rng_state, set_rng_state

STATE_NAME = "trainer_state.pt"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def save_weights(model: nn.Module, path: str | Path) -> None:
    """Write ``model``'s weights into the directory ``path`` (created): ``save_pretrained`` for our models,
    safetensors' ``save_model`` (tied tensors once) for any other module."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if isinstance(model, PretrainedMixin):
        model.save_pretrained(path)
    else:
        save_model(model, str(path / SAFETENSORS_NAME))


def load_weights(model: nn.Module, path: str | Path) -> None:
    """Copy the weights :func:`save_weights` wrote in ``path`` into ``model`` (same architecture), in place."""
    if isinstance(model, PretrainedMixin):
        model.load_hf_state(read_checkpoint(path)[1])
    else:
        load_model(model, str(Path(path) / SAFETENSORS_NAME))


def save_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler, trainer_state: dict[str, Any]) -> None:
    """Write a checkpoint directory at ``path``: written beside it first, then put in place, so a crash
    mid-write leaves the previous checkpoint (if any) whole."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    save_weights(model, tmp)
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng_state(),
                "trainer": trainer_state}, tmp / STATE_NAME)
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)


def load_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler) -> dict[str, Any]:
    """Restore the model, optimizer, schedule and random generators from ``path``; return the trainer state."""
    path = Path(path)
    if not (path / STATE_NAME).is_file():
        raise FileNotFoundError(f"path: expected a checkpoint directory with {STATE_NAME}, got {str(path)!r}")
    load_weights(model, path)
    saved = torch.load(path / STATE_NAME, map_location="cpu", weights_only=True)
    optimizer.load_state_dict(saved["optimizer"])  # moves the moments to the parameters' device
    scheduler.load_state_dict(saved["scheduler"])
    set_rng_state(saved["rng"])
    return saved["trainer"]


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The ``checkpoint-<step>`` directory of ``out_dir`` with the largest step, or ``None`` if there is none.

    Example:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp())
        >>> for step in (5, 40, 10):
        ...     (out / f"checkpoint-{step}").mkdir()
        >>> latest_checkpoint(out).name
        'checkpoint-40'
    """
    out_dir = Path(out_dir)
    found = [(int(m[1]), p) for p in out_dir.glob("checkpoint-*") if (m := _CHECKPOINT.match(p.name))]
    return max(found)[1] if found else None
