"""Labeled sets for fine-tuning, written in the world the course's models were pretrained on.

Four tasks, each a list of small frozen examples that a notebook tokenizes itself:

- **sentiment** (:func:`world_sentiment`): whole reviews, label 0 = negative, 1 = positive (GLUE SST-2's order);
- **entailment** (:func:`world_entailment`): premise, hypothesis and a label of :data:`NLI_LABELS` (GLUE MNLI's
  order), computed by :func:`~tlcourse.data.facts.entailment_label` from the facts the premise states;
- **part of speech** (:func:`world_pos`): sentences with their exact Universal POS tags;
- **named entities** (:func:`world_ner`): sentences with IOB2 tags for persons and cities (:data:`NER_TAGS`).

``split="train"`` draws from the pretraining corpus (:data:`PRETRAINING_CORPUS`, what the world BERT and GPT
read); ``split="test"`` from as many documents written with another seed (:data:`TEST_CORPUS`), minus every
example whose text occurs in the pretraining corpus, so that test texts are new to a pretrained model and
disjoint from train. Before that filter (measured), no test review and no test premise occurs in the pretraining
corpus, but 25 % of the test corpus's distinct sentences do (the world is templated: *I would not recommend it.*).
``seed`` picks the examples (and the hypotheses) and their order; the same arguments give the same list.

Example:
    >>> review = world_sentiment(n=4)[0]
    >>> SENTIMENT_LABELS[review.label], review.text.split(".")[-2]
    ('negative', ' I would give it two stars')
    >>> pair = world_entailment(n=3)[0]
    >>> pair.premise.split(". ")[0], pair.hypothesis, NLI_LABELS[pair.label]
    ('Felix was a singer in Madrid', 'Felix is a farmer.', 'contradiction')
    >>> world_ner(n=1, split="test")[0]
    TaggedExample(tokens=('Later', ',', 'Anna', 'felt', 'calm', '.'), tags=('O', 'O', 'B-PER', 'O', 'O', 'O'))
"""

from __future__ import annotations

import functools
import random
from collections import Counter
from dataclasses import dataclass
from types import MappingProxyType
from typing import Iterable, Sequence

from tlcourse.data.document import UPOS_TAGS, Document, Sentence
from tlcourse.data.facts import LABELS, Fact, entailment_label
from tlcourse.data.lexicon import CITIES, FEMALE_NAMES, MALE_NAMES, SURNAMES, plural
from tlcourse.data.world import world_corpus

SENTIMENT_LABELS = ("negative", "positive")
NLI_LABELS = LABELS
POS_TAGS = UPOS_TAGS
#: IOB2 tags of persons (first names, and first name + surname) and cities; the world's cities are one word, so
#: ``I-LOC`` never occurs in its sentences (it is kept for the usual label set).
NER_TAGS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC")
SPLITS = ("train", "test")
#: The corpus the world models were pretrained on (``world_corpus(8000, seed=0)``): the train split's documents.
PRETRAINING_CORPUS = MappingProxyType({"n_documents": 8000, "seed": 0})
#: The test split's documents; what also occurs in the pretraining corpus is dropped.
TEST_CORPUS = MappingProxyType({"n_documents": 8000, "seed": 1})
#: Premises are at most this many words, so that a pair fits the world BERT's 64 positions (measured: premise,
#: hypothesis and three special tokens are at most 61 world WordPiece tokens, 46 in the median).
MAX_PREMISE_WORDS = 30


@dataclass(frozen=True)
class TextExample:
    """A text and its class id (for sentiment: an index of :data:`SENTIMENT_LABELS`; -1 when unknown)."""

    text: str
    label: int


@dataclass(frozen=True)
class PairExample:
    """A premise, a hypothesis and an index of :data:`NLI_LABELS` (-1 when unknown)."""

    premise: str
    hypothesis: str
    label: int


@dataclass(frozen=True)
class TaggedExample:
    """A sentence's tokens and one tag per token.

    Shapes:
        tokens: n strings; tags: n strings.
    """

    tokens: tuple[str, ...]
    tags: tuple[str, ...]

    def __post_init__(self) -> None:
        for name in ("tokens", "tags"):  # lists are welcome, tuples are kept
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if len(self.tokens) != len(self.tags):
            raise ValueError(f"tags: expected one tag per token ({len(self.tokens)}), got {len(self.tags)}")


def label_counts(examples: Iterable[TextExample | PairExample | TaggedExample]) -> dict[str | int, int]:
    """How often each label (each tag, for tagged examples) occurs, most frequent first.

    Example:
        >>> label_counts([TextExample("good", 1), TextExample("bad", 0), TextExample("fine", 1)])
        {1: 2, 0: 1}
    """
    counts: Counter[str | int] = Counter()
    for example in examples:
        counts.update(example.tags if isinstance(example, TaggedExample) else [example.label])
    return dict(counts.most_common())


def _check_int(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")


def _check(n: int, split: str, seed: int) -> None:
    _check_int("n", n, 1)
    _check_int("seed", seed, 0)
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")


def _sample(pool: Sequence, n: int, rng: random.Random, split: str, what: str) -> list:
    if n > len(pool):
        raise ValueError(f"n: the {split} split has {len(pool)} {what}, got n={n}")
    return rng.sample(pool, n)


def _documents(split: str) -> list[Document]:
    return world_corpus(**(PRETRAINING_CORPUS if split == "train" else TEST_CORPUS))


@functools.lru_cache(maxsize=1)
def _pretraining_sentences() -> frozenset[tuple[str, ...]]:
    return frozenset(sentence.tokens for doc in _documents("train") for sentence in doc.sentences)


@functools.lru_cache(maxsize=2)
def _new_sentences(split: str) -> tuple[Sentence, ...]:
    """The split's distinct sentences in corpus order; for ``test``, those the pretraining corpus lacks."""
    seen = set(_pretraining_sentences()) if split == "test" else set()
    sentences = []
    for doc in _documents(split):
        for sentence in doc.sentences:
            if sentence.tokens not in seen:
                seen.add(sentence.tokens)
                sentences.append(sentence)
    return tuple(sentences)


def world_sentiment(n: int = 2000, split: str = "train", seed: int = 0) -> list[TextExample]:
    """``n`` reviews of the world with their sentiment, half of each label (one more positive when ``n`` is odd).

    A review's text is its whole document (4 to 6 sentences, 21 to 46 words; 99 % fit the world BERT's 64
    positions, the longest is 70 world WordPiece tokens with ``[CLS]`` and ``[SEP]``); at most 2,366 (train) or
    2,344 (test) reviews keep the balance.

    Shapes:
        returns: ``n`` :class:`TextExample`, label 0 (negative) or 1 (positive).
    """
    _check(n, split, seed)
    taken = {doc.text for doc in _documents("train")} if split == "test" else set()
    reviews = [doc for doc in _documents(split) if doc.kind == "review" and doc.text not in taken]
    by_label = [[TextExample(doc.text, label) for doc in reviews if doc.label == name]
                for label, name in enumerate(SENTIMENT_LABELS)]  # fmt: skip
    if n > 2 * min(map(len, by_label)):
        raise ValueError(f"n: the {split} split has {2 * min(map(len, by_label))} balanced reviews, got n={n}")
    rng = random.Random(seed)
    examples = rng.sample(by_label[0], n // 2) + rng.sample(by_label[1], n - n // 2)
    rng.shuffle(examples)
    return examples


def world_pos(n: int = 2000, split: str = "train", seed: int = 0) -> list[TaggedExample]:
    """``n`` distinct sentences of the world with their Universal POS tags (:data:`POS_TAGS`), exact.

    Shapes:
        returns: ``n`` :class:`TaggedExample`, one tag per token.
    """
    _check(n, split, seed)
    pool = _new_sentences(split)
    sentences = _sample(pool, n, random.Random(seed), split, "distinct sentences")
    return [TaggedExample(sentence.tokens, sentence.pos) for sentence in sentences]


_FIRST_NAMES = frozenset(FEMALE_NAMES + MALE_NAMES)
_SURNAMES = frozenset(SURNAMES)
_CITIES = frozenset(CITIES)


def ner_tags(sentence: Sentence) -> tuple[str, ...]:
    """IOB2 tags of a world sentence: a proper noun that is a first name or a surname is a person (a surname right
    after a name continues it: ``Anna Silva`` is ``B-PER I-PER``), one that is a city a location, the rest ``O``.

    Example:
        >>> ner_tags(Sentence(("Anna", "Silva", "moved", "to", "Oslo", "on", "Monday", "."),
        ...                   ("PROPN", "PROPN", "VERB", "ADP", "PROPN", "ADP", "PROPN", "PUNCT")))
        ('B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'O', 'O')
    """
    if not isinstance(sentence, Sentence):
        raise TypeError(f"sentence: expected a Sentence, got {type(sentence).__name__}")
    tags: list[str] = []
    for token, pos in zip(sentence.tokens, sentence.pos):
        person = pos == "PROPN" and (token in _FIRST_NAMES or token in _SURNAMES)
        if person and token in _SURNAMES and tags and tags[-1].endswith("-PER"):
            tags.append("I-PER")
        else:
            tags.append("B-PER" if person else "B-LOC" if pos == "PROPN" and token in _CITIES else "O")
    return tuple(tags)


def world_ner(n: int = 2000, split: str = "train", seed: int = 0) -> list[TaggedExample]:
    """``n`` distinct sentences of the world naming at least one person or city, with IOB2 tags (:func:`ner_tags`).

    The names and cities come from the lexicon (:mod:`tlcourse.data.lexicon`) and the generator's exact
    ``PROPN`` tags, so a capitalized first word is never mistaken for a name; weekdays are not entities.

    Shapes:
        returns: ``n`` :class:`TaggedExample`, tags from :data:`NER_TAGS`.
    """
    _check(n, split, seed)
    pool = [TaggedExample(s.tokens, tags) for s in _new_sentences(split) if set(tags := ner_tags(s)) != {"O"}]
    return _sample(pool, n, random.Random(seed), split, "distinct sentences with entities")


@dataclass(frozen=True)
class _Premise:
    """The first sentences of a story or biography, with the facts they surely state and those they may state."""

    text: str
    words: frozenset[str]  # lowercased tokens
    certain: tuple[Fact, ...]
    possible: tuple[Fact, ...]


def _may_state(words: frozenset[str], fact: Fact) -> bool:
    """Whether a sentence with these lowercased ``words`` may state ``fact``: every generator sentence that states a
    fact names its object (``dog``, ``dogs``, ``oslo``, ``1987``), except *she still lives there*."""
    obj = fact.object.lower()
    return obj in words or plural(obj) in words or (fact.relation == "lives_in" and "there" in words)


def _premise(doc: Document, max_words: int) -> _Premise | None:
    """The longest prefix of ``doc`` with at most ``max_words`` words and at least one fact it surely states.

    A fact is surely stated by the prefix when no later sentence may state it (:func:`_may_state` never misses
    the sentence that states a fact), and possibly stated when a sentence of the prefix may state it.
    """
    words = [frozenset(token.lower() for token in sentence.tokens) for sentence in doc.sentences]
    k, total = 0, 0
    while k < len(doc.sentences) and total + len(doc.sentences[k].text.split()) <= max_words:
        total += len(doc.sentences[k].text.split())
        k += 1
    if k == 0:
        return None
    facts = dict.fromkeys(doc.facts)  # distinct, in order
    certain = tuple(f for f in facts if not any(_may_state(w, f) for w in words[k:]))
    if not certain:
        return None
    possible = tuple(f for f in facts if any(_may_state(w, f) for w in words[:k]))
    return _Premise(" ".join(s.text for s in doc.sentences[:k]), frozenset().union(*words[:k]), certain, possible)


@functools.lru_cache(maxsize=4)
def _premises(split: str, max_words: int) -> tuple[_Premise, ...]:
    """The split's distinct premises, in corpus order; for ``test``, none that begins a pretraining document."""
    seen = set()
    if split == "test":
        for doc in _documents("train"):
            seen.update(" ".join(s.text for s in doc.sentences[:k]) for k in range(1, len(doc.sentences) + 1))
    premises = []
    for doc in _documents(split):
        premise = _premise(doc, max_words) if doc.facts else None
        if premise is not None and premise.text not in seen:
            seen.add(premise.text)
            premises.append(premise)
    return tuple(premises)


@functools.lru_cache(maxsize=1)
def _objects() -> dict[str, tuple[str, ...]]:
    """Every object each relation takes in the pretraining corpus (cities, jobs, pets, years 1950-2000, ...)."""
    objects: dict[str, set[str]] = {}
    for doc in _documents("train"):
        for fact in doc.facts:
            objects.setdefault(fact.relation, set()).add(fact.object)
    return {relation: tuple(sorted(values)) for relation, values in sorted(objects.items())}


def _swap(fact: Fact, premise: _Premise, rng: random.Random) -> Fact:
    """``fact`` with another object, half the time one the premise names (``lives in Rome`` when born there)."""
    others = [value for value in _objects()[fact.relation] if value not in (fact.object, fact.subject)]
    named = [value for value in others if value.lower() in premise.words]
    return Fact(fact.subject, fact.relation, rng.choice(named if named and rng.random() < 0.5 else others))


def _unmentioned(premise: _Premise, rng: random.Random) -> Fact | None:
    """A fact about a person the premise names, whose object the premise never names, that its facts leave open."""
    people = sorted({fact.subject for fact in premise.certain if fact.subject.lower() in premise.words})
    has_year = any(word.isdigit() for word in premise.words)  # 'moved there in 1990' bounds the birth year
    for _ in range(50):
        relation = rng.choice(sorted(set(_objects()) - ({"born_year"} if has_year else set())))
        fact = Fact(rng.choice(people), relation, rng.choice(_objects()[relation]), negated=rng.random() < 0.5)
        if fact.object != fact.subject and not _may_state(premise.words, fact):
            if entailment_label(premise.possible, fact) == "neutral":
                return fact
    return None


def _hypotheses(premise: _Premise, rng: random.Random) -> dict[str, Fact | None]:
    """One hypothesis per label: entailment is a stated fact or a swapped functional one negated (*Anna does not
    live in Rome*), contradiction a stated fact negated or a functional one swapped, neutral :func:`_unmentioned`."""
    functional = [fact for fact in premise.certain if fact.functional and not fact.negated]
    swap = bool(functional) and rng.random() < 0.5
    entailed = _swap(rng.choice(functional), premise, rng).negation() if swap else rng.choice(premise.certain)
    swap = bool(functional) and rng.random() < 0.5
    contradicted = _swap(rng.choice(functional), premise, rng) if swap else rng.choice(premise.certain).negation()
    return {"entailment": entailed, "contradiction": contradicted, "neutral": _unmentioned(premise, rng)}


def world_entailment(n: int = 3000, split: str = "train", seed: int = 0, *,
                     max_words: int = MAX_PREMISE_WORDS) -> list[PairExample]:  # fmt: skip
    """``n`` premise/hypothesis pairs, a third of each label of :data:`NLI_LABELS` (the first labels get the rest).

    **Premises** are the longest beginning of a story or biography of at most ``max_words`` words (so pronouns
    have their person, and a pair fits a 64-position model). Every generator sentence that states a fact names the
    fact's object, so the facts the premise *surely* states are those no later sentence could state, and those
    it *may* state are those one of its sentences could. **Hypotheses** are facts written as sentences
    (:meth:`Fact.sentence`): a surely stated fact or, for a one-valued relation (home, job, birthplace, birth
    year, spouse), another value negated (entailment); a surely stated fact negated or another value
    (contradiction); something about a person of the premise whose object the premise never names and that none
    of the facts it may state decide (neutral; no birth year where the premise names a year). Each label is
    :func:`~tlcourse.data.facts.entailment_label` of the facts the premise states, and is the same computed from
    the sure and from the possible facts. About half the hypotheses of each label say *not*.

    One premise gives at most one hypothesis per label; each split has about 5,600 premises (3 to 6 sentences,
    27 words in the median with the default ``max_words``).

    Shapes:
        returns: ``n`` :class:`PairExample`, label an index of :data:`NLI_LABELS`.
    """
    _check(n, split, seed)
    _check_int("max_words", max_words, 10)
    rng = random.Random(seed)
    pools: dict[str, list[PairExample]] = {label: [] for label in NLI_LABELS}
    for premise in _premises(split, max_words):
        for label, hypothesis in _hypotheses(premise, rng).items():
            if hypothesis is None:
                continue
            if {entailment_label(facts, hypothesis) for facts in (premise.certain, premise.possible)} == {label}:
                pools[label].append(PairExample(premise.text, hypothesis.sentence().text, NLI_LABELS.index(label)))
    balanced = 3 * min(map(len, pools.values()))
    if n > balanced:
        raise ValueError(f"n: the {split} split has {balanced} balanced pairs with premises of at most {max_words} "
                         f"words, got n={n}")  # fmt: skip
    examples = [e for i, label in enumerate(NLI_LABELS) for e in rng.sample(pools[label], n // 3 + (i < n % 3))]
    rng.shuffle(examples)
    return examples
