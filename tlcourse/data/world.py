"""The embedded default corpus: stories, biographies and reviews of one small, deterministic world.

``world_corpus(n_documents, seed)`` writes documents with a seeded :class:`random.Random`, so the same
arguments give the same corpus on every machine. The world is small on purpose (about a thousand word types,
regular templates), so a small model learns it on a CPU in minutes, and rich enough for the course's tasks:

- **pretraining** (MLM, NSP, CLM): documents of 4 to 12 sentences whose consecutive sentences are related
  (the same people, pronouns pointing back, events in order);
- **fine-tuning** on the same world: review sentiment (``Document.label``), entailment from the facts a
  document states (``Document.facts``, :mod:`tlcourse.data.facts`) and part-of-speech tagging (``Sentence.pos``,
  exact Universal POS tags).

Example:
    >>> docs = world_corpus(n_documents=3, seed=0)
    >>> [doc.kind for doc in docs]
    ['review', 'story', 'review']
    >>> docs[0].sentences[0].text
    "I visited Laura's bakery in Bogota last Monday."
    >>> docs[0].sentences[0].pos
    ('PRON', 'VERB', 'PROPN', 'PART', 'NOUN', 'ADP', 'PROPN', 'ADJ', 'PROPN', 'PUNCT')
"""

from __future__ import annotations

import functools
import random
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Sequence

from tlcourse.data.document import KINDS, Document
from tlcourse.data.reviews import review
from tlcourse.data.stories import biography, story

#: Bump when the generator changes what it writes: caches keyed on the corpus then miss.
WORLD_VERSION = "1"
#: Share of each kind of document in the corpus.
KIND_WEIGHTS = {"story": 0.4, "biography": 0.3, "review": 0.3}
_WRITERS: dict[str, Callable[[random.Random], Document]] = {"story": story, "biography": biography, "review": review}


def world_document(kind: str, rng: random.Random) -> Document:
    """One document of ``kind`` (``"story"``, ``"biography"`` or ``"review"``) written with ``rng``."""
    if kind not in _WRITERS:
        raise ValueError(f"kind: expected one of {KINDS}, got {kind!r}")
    if not isinstance(rng, random.Random):
        raise TypeError(f"rng: expected a random.Random, got {type(rng).__name__}")
    return _WRITERS[kind](rng)


@functools.lru_cache(maxsize=4)
def _corpus(n_documents: int, seed: int) -> tuple[Document, ...]:
    rng = random.Random(seed)
    kinds, weights = list(KIND_WEIGHTS), list(KIND_WEIGHTS.values())
    return tuple(world_document(rng.choices(kinds, weights)[0], rng) for _ in range(n_documents))


def world_corpus(n_documents: int = 8000, seed: int = 0) -> list[Document]:
    """``n_documents`` documents of the world, the same for the same ``seed`` (cached in memory).

    A shorter corpus is the beginning of a longer one with the same seed.

    The default (8,000 documents) is about 2 MB of text and takes one to two seconds to write.

    Shapes:
        returns: list of ``n_documents`` :class:`Document`; each has 4 to 12 sentences.
    """
    for name, value, minimum in (("n_documents", n_documents, 1), ("seed", seed, 0)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
        if value < minimum:
            raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return list(_corpus(n_documents, seed))


@dataclass(frozen=True)
class CorpusStats:
    """Sizes of a corpus of documents (tokens are the generator's words and punctuation)."""

    documents: int
    sentences: int
    tokens: int
    word_types: int
    megabytes: float
    kinds: dict[str, int]

    @property
    def sentences_per_document(self) -> float:
        return self.sentences / self.documents

    @property
    def tokens_per_sentence(self) -> float:
        return self.tokens / self.sentences


def corpus_stats(documents: Sequence[Document]) -> CorpusStats:
    """Count documents, sentences, tokens, word types (case-folded) and UTF-8 megabytes of ``documents``.

    Example:
        >>> stats = corpus_stats(world_corpus(n_documents=10))
        >>> stats.documents, stats.sentences >= 40
        (10, True)
    """
    if not documents:
        raise ValueError("documents: expected at least one document, got none")
    sentences = [sentence for doc in documents for sentence in doc.sentences]
    types = {token.lower() for sentence in sentences for token in sentence.tokens}
    return CorpusStats(
        documents=len(documents),
        sentences=len(sentences),
        tokens=sum(len(sentence.tokens) for sentence in sentences),
        word_types=len(types),
        megabytes=sum(len(doc.text.encode("utf-8")) + 1 for doc in documents) / 1e6,
        kinds=dict(Counter(doc.kind for doc in documents)),
    )
