"""The cache folder, keys and atomic writes."""

from __future__ import annotations

import pytest

from tlcourse.data import atomic_write, cache_dir, cache_key, cache_path
from tlcourse.data import cache as cache_module


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TLCOURSE_CACHE", str(tmp_path / "here"))
    assert cache_dir() == tmp_path / "here" and cache_dir().is_dir()
    monkeypatch.delenv("TLCOURSE_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "tlcourse" and cache_dir().is_dir()


def test_keys_change_with_every_input_and_the_version(monkeypatch):
    key = cache_key("world-bpe", vocab_size=1024, seed=0)
    assert key == cache_key("world-bpe", seed=0, vocab_size=1024) and len(key) == 16
    others = {cache_key("world-bpe", vocab_size=1024, seed=1), cache_key("world-wp", vocab_size=1024, seed=0)}
    assert len(others | {key}) == 3
    monkeypatch.setattr(cache_module, "CACHE_VERSION", "next")
    assert cache_key("world-bpe", vocab_size=1024, seed=0) != key


def test_cache_path_names_the_file_by_its_key():
    path = cache_path("tokenizers", "world-bpe", ".json", vocab_size=1024)
    assert path.parent == cache_dir() / "tokenizers" and path.parent.is_dir()
    assert path.name == f"world-bpe-{cache_key('world-bpe', vocab_size=1024)}.json"


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_write(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash while writing")
    assert list(tmp_path.iterdir()) == []
    with atomic_write(target) as tmp:
        tmp.write_text("whole")
    assert target.read_text() == "whole" and list(tmp_path.iterdir()) == [target]


def test_bad_keys():
    with pytest.raises(ValueError, match="name"):
        cache_key("")
    with pytest.raises(TypeError, match="inputs"):
        cache_key("x", value=object())
