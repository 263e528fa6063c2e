"""Fixtures for the data tests: the default world corpus."""

from __future__ import annotations

import pytest

from tlcourse.data import Document, world_corpus


@pytest.fixture(scope="session")
def corpus() -> list[Document]:
    """The default corpus (8,000 documents), written once per session."""
    return world_corpus()
