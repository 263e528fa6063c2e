"""Real English-ish text that is available offline: the docstrings of the Python standard library.

The docstrings are read with :mod:`ast` from the standard library's source files; no module is imported, so
reading them runs no code. The order is deterministic (sorted paths, then source order), so the same Python
version always gives the same corpus.
"""

from __future__ import annotations

import ast
import functools
import sysconfig
import warnings
from pathlib import Path
from typing import Iterator

# Folders of the standard library that hold third-party packages or test data rather than documented modules.
_SKIPPED_DIRS = frozenset({"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__"})


@functools.lru_cache(maxsize=1)
def _stdlib_sources() -> tuple[Path, ...]:
    """The standard library's ``.py`` files, sorted by path, without tests and installed packages."""
    root = Path(sysconfig.get_path("stdlib"))
    files = []
    for path in root.rglob("*.py"):
        if not _SKIPPED_DIRS.intersection(path.relative_to(root).parts[:-1]):
            files.append(path)
    return tuple(sorted(files))


@functools.lru_cache(maxsize=None)
def _docstrings(path: Path) -> tuple[str, ...]:
    """Module, class and function docstrings of one source file, in source order; none if it does not parse."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return ()
    documented = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    nodes = [node for node in ast.walk(tree) if isinstance(node, documented)]
    nodes.sort(key=lambda node: getattr(node, "lineno", 0))
    docs = (ast.get_docstring(node, clean=True) for node in nodes)
    return tuple(doc for doc in docs if doc)


def _all_docstrings() -> Iterator[str]:
    for path in _stdlib_sources():
        yield from _docstrings(path)


def python_docs(max_bytes: int | None = None) -> list[str]:
    """Docstrings of the Python standard library, one string per docstring, at most ``max_bytes`` in total.

    The text is real, varied English with code, punctuation and some non-ASCII characters: a good offline
    corpus for training tokenizers. The last docstring is cut (at a character boundary) so that the UTF-8
    size of the result is at most ``max_bytes``.

    Shapes:
        returns: list of N strings, ``sum(len(s.encode()) for s in result) <= max_bytes``.

    Example:
        >>> docs = python_docs(max_bytes=10_000)
        >>> sum(len(d.encode("utf-8")) for d in docs) <= 10_000
        True
    """
    if max_bytes is not None:
        if not isinstance(max_bytes, int) or isinstance(max_bytes, bool):
            raise TypeError(f"max_bytes: expected an int or None, got {type(max_bytes).__name__}")
        if max_bytes < 0:
            raise ValueError(f"max_bytes: expected a number >= 0, got {max_bytes}")
    docs: list[str] = []
    total = 0
    for doc in _all_docstrings():
        size = len(doc.encode("utf-8"))
        if max_bytes is not None and total + size > max_bytes:
            rest = doc.encode("utf-8")[: max_bytes - total].decode("utf-8", errors="ignore")
            if rest:
                docs.append(rest)
            break
        docs.append(doc)
        total += size
    return docs
