"""The on-disk cache for what the course trains once and reuses: tokenizers, pretrained weights, encoded data.

Files live under :func:`cache_dir` (``$TLCOURSE_CACHE``, else ``~/.cache/tlcourse``), named by a hash of
everything that made them (:func:`cache_key`), so changing an input, or :data:`CACHE_VERSION`, gives a new
name instead of a stale file. Writes go through :func:`atomic_write`, so a crash never leaves a half file.

Example:
    >>> cache_key("wordpiece", vocab_size=1024) == cache_key("wordpiece", vocab_size=1024)
    True
    >>> cache_key("wordpiece", vocab_size=1024) == cache_key("wordpiece", vocab_size=2048)
    False
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Iterator

#: Bump to invalidate every cached file (the layout or meaning of cached files changed).
CACHE_VERSION = "1"
CACHE_ENV = "TLCOURSE_CACHE"


def cache_dir() -> Path:
    """The cache folder: ``$TLCOURSE_CACHE`` if set, else ``~/.cache/tlcourse``; created if missing."""
    path = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "tlcourse").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_key(name: str, **inputs: object) -> str:
    """A 16-hex-digit key for ``name`` made from ``inputs`` (JSON values) and :data:`CACHE_VERSION`.

    Shapes:
        inputs: keyword arguments whose values ``json.dumps`` accepts; the order of keywords does not matter.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: expected a non-empty str, got {name!r}")
    try:
        text = json.dumps({"name": name, "version": CACHE_VERSION, "inputs": inputs}, sort_keys=True)
    except TypeError as error:
        raise TypeError(f"inputs: expected JSON values (str, int, float, bool, None, lists, dicts), {error}") from None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def cache_path(folder: str, name: str, suffix: str, **inputs: object) -> Path:
    """``cache_dir()/folder/name-KEY.suffix`` for these inputs (the folder is created, the file may not exist).

    Example:
        >>> cache_path("tokenizers", "world-bpe", ".json", vocab_size=1024).name.startswith("world-bpe-")
        True
    """
    directory = cache_dir() / folder
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{name}-{cache_key(name, **inputs)}{suffix}"


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[Path]:
    """Yield a fresh temporary path next to ``path`` to write; on success it is renamed to ``path``, else removed.

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
        >>> with atomic_write(target) as tmp:
        ...     _ = tmp.write_text("done")
        >>> target.read_text()
        'done'
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex}.tmp")  # the writer creates it
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
