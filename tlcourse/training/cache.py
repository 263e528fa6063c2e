"""Train once, load afterwards: a notebook asks for a trained model and gets the cached one when it exists.

:func:`load_or_train` names a directory under ``cache_dir()/trained`` (:mod:`tlcourse.data.cache`: ``$TLCOURSE_CACHE``
or ``~/.cache/tlcourse``) by a hash of ``key``: everything that decides the result, such as the model config, the
``TrainConfig`` and a :func:`fingerprint` of the data. With the directory there it loads the weights and the
history; without it, it builds the model, trains it, and saves both (written aside, then renamed into place, so an
interrupted run leaves no half entry). Change anything in ``key``, or ``tlcourse.data.cache.CACHE_VERSION``, and the
model is trained again under a new name.

Example:
    >>> import os, tempfile
    >>> from unittest import mock
    >>> def train(model):
    ...     with torch.no_grad():
    ...         model.weight.fill_(1.0)                  # stands in for a training run
    ...     return [{"step": 1, "train_loss": 0.5}]
    >>> key = {"size": [2, 3], "data": fingerprint(torch.arange(6))}
    >>> with mock.patch.dict(os.environ, {"TLCOURSE_CACHE": tempfile.mkdtemp()}):
    ...     model, history = load_or_train("toy", key, lambda: torch.nn.Linear(2, 3), train)   # trains, saves
    ...     again, _ = load_or_train("toy", key, lambda: torch.nn.Linear(2, 3), train)         # loads
    >>> bool((again.weight == 1).all()), history
    (True, [{'step': 1, 'train_loss': 0.5}])
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from tlcourse.data.cache import cache_dir, cache_key
from tlcourse.training.checkpoint import load_weights, save_weights

HISTORY_NAME = "history.json"
KEY_NAME = "key.json"


def fingerprint(*tensors: Tensor) -> str:
    """A 16-hex-digit hash of tensors' dtypes, shapes and values: the data part of a cache key.

    Example:
        >>> a = fingerprint(torch.arange(4))
        >>> a == fingerprint(torch.arange(4)), a == fingerprint(torch.arange(5)), a == fingerprint(torch.arange(4.0))
        (True, False, False)
    """
    digest = hashlib.sha256()
    for tensor in tensors:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"tensors: expected torch.Tensor values, got {type(tensor).__name__}")
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{t.dtype}{tuple(t.shape)}".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()[:16]


def trained_path(name: str, key: dict[str, Any]) -> Path:
    """The cache directory of the model ``name`` trained as ``key`` says (it may not exist yet)."""
    if not isinstance(key, dict):
        raise TypeError(f"key: expected a dict of JSON values, got {type(key).__name__}")
    return cache_dir() / "trained" / f"{name}-{cache_key(name, **key)}"


def load_or_train(name: str, key: dict[str, Any], build_model: Callable[[], nn.Module],
                  train: Callable[[nn.Module], list[dict[str, Any]]]) -> tuple[nn.Module, list[dict[str, Any]]]:
    """The model ``build_model()`` after ``train(model)`` (which trains in place and returns the history), from the
    cache when this ``name`` and ``key`` were trained before; returned in eval mode, with the history.

    ``key`` holds JSON values (dicts, lists, strings, numbers): e.g. ``{"model": asdict(model_config),
    "train": asdict(train_config), "data": fingerprint(blocks)}``.
    """
    path = trained_path(name, key)
    model = build_model()
    if not isinstance(model, nn.Module):
        raise TypeError(f"build_model: expected a function returning a torch.nn.Module, got {type(model).__name__}")
    if (path / HISTORY_NAME).is_file():
        load_weights(model, path)
        return model.eval(), json.loads((path / HISTORY_NAME).read_text(encoding="utf-8"))
    history = train(model)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        save_weights(model, tmp)
        (tmp / HISTORY_NAME).write_text(json.dumps(history, indent=1), encoding="utf-8")
        (tmp / KEY_NAME).write_text(json.dumps({"name": name, **key}, indent=1, default=str), encoding="utf-8")
        if not path.exists():  # another process may have finished the same training first; keep its copy
            tmp.rename(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return model.eval(), history
