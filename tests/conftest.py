"""Session-wide fixtures: one private cache folder for everything the tests train or write."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Every test caches under one session folder, never under ``~/.cache``; it stays set for the rest of the
    session, so the notebooks that nbval runs after tests/ (and the kernels they start) share it."""
    folder = tmp_path_factory.mktemp("tlcourse-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TLCOURSE_CACHE", str(folder))
        yield folder
