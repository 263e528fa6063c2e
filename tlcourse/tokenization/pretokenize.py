"""Pre-tokenization: cut text into the words that BPE works inside, and cut out special tokens first."""

from __future__ import annotations

import re
from typing import Iterator, Sequence

import regex

#: Hugging Face's ``Whitespace`` pre-tokenizer: runs of word characters, or runs of other non-space characters.
WHITESPACE_PATTERN = r"\w+|[^\w\s]+"
_WHITESPACE_SPLIT = regex.compile(WHITESPACE_PATTERN)


def whitespace_pretokenize(text: str) -> list[str]:
    """Split ``text`` like Hugging Face's ``Whitespace`` pre-tokenizer (``\\w+|[^\\w\\s]+``).

    Example:
        >>> whitespace_pretokenize("Hello, world!! x_1")
        ['Hello', ',', 'world', '!!', 'x_1']
    """
    return _WHITESPACE_SPLIT.findall(text)


def special_tokens_pattern(special_tokens: Sequence[str]) -> re.Pattern[str] | None:
    """A pattern that finds special tokens leftmost-longest (as HF's added-token matcher), None if there are none."""
    tokens = sorted({token for token in special_tokens if token}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, tokens))) if tokens else None


def split_on_special_tokens(text: str, pattern: re.Pattern[str] | None) -> Iterator[tuple[str, bool]]:
    """Yield ``(piece, is_special)``: the special tokens of ``text`` whole, and the non-empty text between them.

    Example:
        >>> list(split_on_special_tokens("a<s>b<s>", special_tokens_pattern(["<s>"])))
        [('a', False), ('<s>', True), ('b', False), ('<s>', True)]
    """
    start = 0
    if pattern is not None:
        for match in pattern.finditer(text):
            if match.start() > start:
                yield text[start : match.start()], False
            yield match.group(), True
            start = match.end()
    if start < len(text):
        yield text[start:], False
