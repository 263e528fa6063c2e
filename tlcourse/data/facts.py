"""Facts a document states, and the three-way entailment label of a hypothesis given those facts.

Every story and biography records, next to its sentences, the facts they state (``Document.facts``): who
lives where, who owns, likes or bought what. A :class:`Fact` renders itself as a short sentence, so an
entailment (NLI) pair is ``(document.text, fact.sentence().text)`` and its label comes from
:func:`entailment_label`:

- **entailment**: a stated fact (``Anna lives in Oslo.``);
- **contradiction**: a stated fact negated (``Anna does not live in Oslo.``), or, for a *functional* relation
  (one value per person: home, job, birthplace, birth year, spouse), another value (``Anna lives in Rome.``);
- **neutral**: anything else about a person of the document (``Anna has a lamp.`` when the lamp is never
  mentioned; a person owns many things, so that is unknown rather than false).

A fine-tuning set is then a loop over documents: take a stated fact, its negation, a functional fact with the
value swapped, and a fact about something unmentioned, and label each with :func:`entailment_label`.

Example:
    >>> facts = [Fact("Anna", "lives_in", "Oslo"), Fact("Anna", "likes", "fish", negated=True)]
    >>> Fact("Anna", "likes", "fish", negated=True).sentence().text
    'Anna does not like fish.'
    >>> [entailment_label(facts, h) for h in (facts[0], Fact("Anna", "lives_in", "Rome"),
    ...                                       Fact("Anna", "likes", "fish"), Fact("Anna", "owns", "lamp"))]
    ['entailment', 'contradiction', 'contradiction', 'neutral']
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterable

from tlcourse.data.document import Sentence
from tlcourse.data.grammar import Phrase, noun_phrase, realize
from tlcourse.data.lexicon import HOBBIES, MASS_FOODS, plural, word_tags

#: relation -> (template, negated template, functional). ``{s}`` is the subject, ``{o}`` the object phrase.
RELATIONS: dict[str, tuple[str, str, bool]] = {
    "lives_in": ("{s} lives in {o} .", "{s} does not live in {o} .", True),
    "born_in": ("{s} was born in {o} .", "{s} was not born in {o} .", True),
    "born_year": ("{s} was born in {o} .", "{s} was not born in {o} .", True),
    "works_as": ("{s} is {o} .", "{s} is not {o} .", True),
    "married_to": ("{s} is married to {o} .", "{s} is not married to {o} .", True),
    "friend_of": ("{s} is a friend of {o} .", "{s} is not a friend of {o} .", False),
    "owns": ("{s} has {o} .", "{s} does not have {o} .", False),
    "likes": ("{s} likes {o} .", "{s} does not like {o} .", False),
    "went_to": ("{s} went to {o} .", "{s} did not go to {o} .", False),
    "bought": ("{s} bought {o} .", "{s} did not buy {o} .", False),
}
LABELS = ("entailment", "neutral", "contradiction")


@dataclass(frozen=True)
class Fact:
    """``subject relation object`` (``Fact("Anna", "owns", "dog")``), or its negation when ``negated``.

    ``subject`` is a first name; ``object`` is a name, a city, a year or a noun of the lexicon (singular).
    """

    subject: str
    relation: str
    object: str
    negated: bool = False

    def __post_init__(self) -> None:
        if self.relation not in RELATIONS:
            raise ValueError(f"relation: expected one of {sorted(RELATIONS)}, got {self.relation!r}")

    @property
    def functional(self) -> bool:
        """True if a subject has one value of this relation, so another value contradicts it."""
        return RELATIONS[self.relation][2]

    def negation(self) -> Fact:
        """The same fact with ``negated`` flipped (it contradicts this one)."""
        return dataclasses.replace(self, negated=not self.negated)

    def sentence(self) -> Sentence:
        """The fact as a tagged sentence (``Anna has a dog.``, ``Anna does not like apples.``)."""
        template = RELATIONS[self.relation][1 if self.negated else 0]
        return realize(template, s=self.subject, o=_object_phrase(self.relation, self.object))


def _object_phrase(relation: str, obj: str) -> Phrase:
    """The object as the relation's sentence needs it: ``a dog``, ``apples``, ``soup``, ``the park``, ``Oslo``."""
    if relation in ("works_as", "owns", "bought"):
        return noun_phrase(obj, det=None if obj in MASS_FOODS else "a")
    if relation == "likes":
        if obj in HOBBIES or obj in MASS_FOODS:
            return ((obj, "VERB" if obj in HOBBIES else "NOUN"),)
        return ((plural(obj), "NOUN"),)
    if relation == "went_to":
        return noun_phrase(obj, det="the")
    tag = "NUM" if obj.isdigit() else "PROPN"
    if obj not in word_tags() and not obj.isdigit():
        raise ValueError(f"object: expected a name, city or year of the lexicon, got {obj!r}")
    return ((obj, tag),)


def entailment_label(facts: Iterable[Fact], hypothesis: Fact) -> str:
    """``"entailment"``, ``"contradiction"`` or ``"neutral"``: what ``facts`` say about ``hypothesis``.

    A fact with the same subject, relation and object decides by its polarity; otherwise, for a functional
    relation, a stated *different* object makes the positive hypothesis false and its negation true.
    """
    if not isinstance(hypothesis, Fact):
        raise TypeError(f"hypothesis: expected a Fact, got {type(hypothesis).__name__}")
    facts = list(facts)
    for fact in facts:
        if (fact.subject, fact.relation, fact.object) == (hypothesis.subject, hypothesis.relation, hypothesis.object):
            return "entailment" if fact.negated == hypothesis.negated else "contradiction"
    if hypothesis.functional:
        for fact in facts:
            if (fact.subject, fact.relation) == (hypothesis.subject, hypothesis.relation) and not fact.negated:
                return "entailment" if hypothesis.negated else "contradiction"
    return "neutral"
