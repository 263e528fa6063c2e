"""Tagged sentences and documents: what the world generator produces and the pretraining data loaders read.

A :class:`Sentence` is a list of tokens, each with its Universal POS tag (the generator knows what it emitted,
so the tags are exact). A :class:`Document` is an ordered list of sentences, which is what next-sentence
prediction needs: consecutive sentences of one document belong together, sentences of two documents do not.
Both are frozen, with tuples inside, so the cached corpus cannot be changed by whoever reads it.

Example:
    >>> s = Sentence(("Anna", "lives", "in", "Oslo", "."), ("PROPN", "VERB", "ADP", "PROPN", "PUNCT"))
    >>> s.text
    'Anna lives in Oslo.'
    >>> Document("story", (s, s)).text
    'Anna lives in Oslo. Anna lives in Oslo.'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tlcourse.data.facts import Fact

#: The 17 Universal Dependencies part-of-speech tags (https://universaldependencies.org/u/pos/).
UPOS_TAGS = (
    "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM",
    "PART", "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X",
)  # fmt: skip

#: Document kinds the world generator writes.
KINDS = ("story", "biography", "review")

#: Tokens written without a space before them.
_ATTACHED = frozenset({".", ",", "!", "?", ":", ";", "'s"})


def detokenize(tokens: tuple[str, ...] | list[str]) -> str:
    """Join tokens with spaces, except before punctuation and the possessive ``'s``.

    Example:
        >>> detokenize(["Marco", "'s", "cafe", "was", "great", "!"])
        "Marco's cafe was great!"
    """
    return "".join(token if i == 0 or token in _ATTACHED else " " + token for i, token in enumerate(tokens))


@dataclass(frozen=True)
class Sentence:
    """One sentence: its tokens and their Universal POS tags, aligned one to one.

    Shapes:
        tokens: n strings; pos: n tags from :data:`UPOS_TAGS`.
    """

    tokens: tuple[str, ...]
    pos: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "tokens", tuple(self.tokens))
        object.__setattr__(self, "pos", tuple(self.pos))
        if len(self.tokens) != len(self.pos):
            raise ValueError(f"pos: expected one tag per token ({len(self.tokens)}), got {len(self.pos)}")
        for tag in self.pos:
            if tag not in UPOS_TAGS:
                raise ValueError(f"pos: expected Universal POS tags {UPOS_TAGS}, got {tag!r}")

    @property
    def text(self) -> str:
        """The sentence as plain text (see :func:`detokenize`)."""
        return detokenize(self.tokens)


@dataclass(frozen=True)
class Document:
    """An ordered list of sentences of one ``kind``, with what the generator knows about it.

    Attributes:
        kind: one of :data:`KINDS`.
        sentences: the sentences in order.
        label: the review's sentiment (``"positive"`` / ``"negative"``); None for stories and biographies.
        facts: what the document states (see :mod:`tlcourse.data.facts`), for building entailment pairs.
    """

    kind: str
    sentences: tuple[Sentence, ...]
    label: str | None = None
    facts: tuple[Fact, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "sentences", tuple(self.sentences))
        object.__setattr__(self, "facts", tuple(self.facts))
        if self.kind not in KINDS:
            raise ValueError(f"kind: expected one of {KINDS}, got {self.kind!r}")

    @property
    def text(self) -> str:
        """The sentences' texts joined by single spaces."""
        return " ".join(sentence.text for sentence in self.sentences)
