"""Fixtures for the data tests: a private cache folder for the whole session, and the default world corpus."""

from __future__ import annotations

import pytest

from tlcourse.data import Document, world_corpus


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Every test caches under one session folder, never under ``~/.cache`` (set before any other fixture)."""
    folder = tmp_path_factory.mktemp("tlcourse-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TLCOURSE_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="session")
def corpus() -> list[Document]:
    """The default corpus (8,000 documents), written once per session."""
    return world_corpus()
