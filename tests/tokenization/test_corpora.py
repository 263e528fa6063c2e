"""The offline corpus: standard-library docstrings, deterministic and size-limited."""

from __future__ import annotations

import pytest

from tlcourse.corpora import python_docs


def test_size_limit_and_determinism():
    docs = python_docs(max_bytes=50_000)
    assert 49_000 <= sum(len(doc.encode("utf-8")) for doc in docs) <= 50_000
    assert docs == python_docs(max_bytes=50_000)
    assert python_docs(max_bytes=0) == []


def test_a_larger_slice_starts_with_the_smaller_one():
    small, large = python_docs(max_bytes=20_000), python_docs(max_bytes=40_000)
    assert large[: len(small) - 1] == small[:-1]


def test_docstrings_are_real_text():
    docs = python_docs(max_bytes=30_000)
    assert all(isinstance(doc, str) and doc.strip() for doc in docs)
    assert sum(doc.count(" the ") for doc in docs) > 100


@pytest.mark.parametrize(("value", "error"), [(-1, ValueError), ("10", TypeError), (1.5, TypeError)])
def test_bad_max_bytes(value, error):
    with pytest.raises(error, match="max_bytes"):
        python_docs(max_bytes=value)
