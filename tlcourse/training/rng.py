"""Every random number generator training touches: seed them all, capture them all, restore them all.

Dropout draws from torch's generator (and CUDA's on a GPU); data code may use Python's ``random`` or NumPy. An exact
resume restores all four exactly as they were when the checkpoint was written.

Example:
    >>> seed_everything(0)
    >>> state = rng_state()
    >>> a = torch.rand(2), random.random(), np.random.rand()
    >>> set_rng_state(state)
    >>> b = torch.rand(2), random.random(), np.random.rand()
    >>> bool((a[0] == b[0]).all()) and a[1:] == b[1:]
    True
"""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch's (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_state() -> dict:
    """The state of every generator, made only of tensors, lists and numbers (``torch.load(weights_only=True)``
    reads it back)."""
    numpy_state = np.random.get_state(legacy=False)
    numpy_state["state"]["key"] = numpy_state["state"]["key"].tolist()
    python_version, python_internal, python_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": [python_version, list(python_internal), python_gauss],
        "numpy": numpy_state,
    }


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    if state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    numpy_state = dict(state["numpy"])
    numpy_state["state"] = {**numpy_state["state"], "key": np.asarray(numpy_state["state"]["key"], dtype=np.uint32)}
    np.random.set_state(numpy_state)
