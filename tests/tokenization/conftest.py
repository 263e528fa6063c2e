"""Fixtures for the tokenization tests: real text (the real BERT vocabulary, ``minilm_dir``, is in tests/conftest.py)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from tlcourse.corpora import python_docs

settings.register_profile("tokenization", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("tokenization")


@pytest.fixture(scope="session")
def docs_100k() -> list[str]:
    """About 100 KB of Python standard-library docstrings."""
    return python_docs(max_bytes=100_000)
