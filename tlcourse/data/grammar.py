"""Sentence templates that know the part of speech of every word they write.

A template is a sentence with slots: ``"{he} walked to the {place} ."``. Literal words get their Universal POS
tag from :data:`FUNCTION_WORDS` (closed-class words and the few open-class words that only templates use) or
from the lexicon (:func:`tlcourse.data.lexicon.word_tags`); a word with two possible tags must be written
``word/TAG``. Slots are filled with strings (tagged the same way) or with already-tagged phrases
(:func:`noun_phrase`), so every token of the result carries its tag. :class:`Person` supplies the pronoun
slots ``{he}``, ``{him}``, ``{his}`` and :class:`DocumentWriter` collects sentences and facts into a document.

Example:
    >>> anna = Person("Anna", "Silva", female=True)
    >>> s = realize("{he} walked to the {place} with {his} {pet} .", place="park",
    ...             pet=noun_phrase("dog", "orange"), **anna.pronouns)
    >>> s.text
    'She walked to the park with her orange dog.'
    >>> s.pos
    ('PRON', 'VERB', 'ADP', 'DET', 'NOUN', 'ADP', 'PRON', 'ADJ', 'NOUN', 'PUNCT')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tlcourse.data.document import Document, Sentence
from tlcourse.data.lexicon import article, word_tags

if TYPE_CHECKING:
    from tlcourse.data.facts import Fact

#: A phrase whose tags are known: ((word, tag), ...).
Phrase = tuple[tuple[str, str], ...]

_CLOSED_CLASS = {
    "DET": "the a an some every each this all no another",
    "ADP": "upon in to at with from of on for after before near by about into around behind",
    "CCONJ": "and but or",
    "SCONJ": "because when while that if",
    "PRON": "I who he she they we it him her them me us his their my our its everyone something there",
    "AUX": "was were is are did does would will could can be",
    "PART": "not 's",
    "ADV": "very often always never together then later soon really quite also too again home back early "
    "finally once sometimes usually still just overall however even now here outside away ever so sadly "
    "unfortunately luckily suddenly already perfectly twice",
    "INTJ": "wow oh",
    "PUNCT": ". , ! ?",
    # Open-class words that only templates use.
    "NOUN": "morning afternoon winter day evening night week weekend weekends month time house way friend friends "
    "wife husband sister brother children family dinner lunch year years money stars star place town trip "
    "neighbor gift picture meal food service experience prices price problem penny waste person people "
    "name bed weeks",
    "ADJ": "best favorite next last good great nice bad worth whole same free busy long wonderful only",
    "VERB": "born",
    "PROPN": "Monday Tuesday Wednesday Thursday Friday Saturday Sunday",
}
#: Tag of each word the templates write literally (these win over the lexicon's tags).
FUNCTION_WORDS: dict[str, str] = {word: tag for tag, words in _CLOSED_CLASS.items() for word in words.split()}


def tag_of(word: str) -> str:
    """The POS tag of a word written without one: from :data:`FUNCTION_WORDS`, else the lexicon if unambiguous.

    Example:
        >>> tag_of("the"), tag_of("Oslo"), tag_of("cherries")
        ('DET', 'PROPN', 'NOUN')
    """
    if word in FUNCTION_WORDS:
        return FUNCTION_WORDS[word]
    tags = word_tags().get(word)
    if not tags:
        raise ValueError(f"word: expected a word of the lexicon or of FUNCTION_WORDS, got {word!r}")
    if len(tags) > 1:
        raise ValueError(f"word: {word!r} can be {sorted(tags)}; write it as '{word}/TAG' or pass a tagged phrase")
    return next(iter(tags))


def tagged(text: str) -> Phrase:
    """Tag each space-separated word of ``text``; ``word/TAG`` sets the tag explicitly.

    Example:
        >>> tagged("went home/ADV")
        (('went', 'VERB'), ('home', 'ADV'))
    """
    phrase = []
    for word in text.split():
        word, _, tag = word.partition("/")
        phrase.append((word, tag or tag_of(word)))
    return tuple(phrase)


def noun_phrase(noun: str, *adjectives: str, det: str | None = None) -> Phrase:
    """``[det] adjective* noun`` with exact tags (so ambiguous adjectives like ``orange`` are fine).

    ``det="a"`` becomes ``a`` or ``an`` as the next word needs.

    Example:
        >>> noun_phrase("owl", "orange", det="a")
        (('an', 'DET'), ('orange', 'ADJ'), ('owl', 'NOUN'))
    """
    words = [*adjectives, noun]
    head = () if det is None else ((article(words[0]) if det == "a" else det, "DET"),)
    return head + tuple((adjective, "ADJ") for adjective in adjectives) + ((noun, "NOUN"),)


def realize(template: str, **slots: str | Phrase) -> Sentence:
    """Fill the template's ``{slots}`` and tag every word; the first word is capitalized.

    Shapes:
        template: space-separated words, ``word/TAG`` and ``{slot}``; returns a :class:`Sentence`.
    """
    phrase: list[tuple[str, str]] = []
    for word in template.split():
        if word.startswith("{") and word.endswith("}"):
            name = word[1:-1]
            if name not in slots:
                raise ValueError(f"slots: the template {template!r} needs {name!r}, got {sorted(slots)}")
            value = slots[name]
            phrase.extend(tagged(value) if isinstance(value, str) else value)
        else:
            phrase.extend(tagged(word))
    tokens = [word for word, _ in phrase]
    tokens[0] = tokens[0][:1].upper() + tokens[0][1:]
    return Sentence(tuple(tokens), tuple(tag for _, tag in phrase))


@dataclass(frozen=True)
class Person:
    """Someone in the world; ``pronouns`` fills the slots ``{he}``, ``{him}``, ``{his}`` and ``{name}``."""

    first: str
    last: str
    female: bool

    @property
    def full_name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def pronouns(self) -> dict[str, str]:
        if self.female:
            return {"name": self.first, "he": "she", "him": "her", "his": "her"}
        return {"name": self.first, "he": "he", "him": "him", "his": "his"}


@dataclass
class DocumentWriter:
    """Collects the sentences (and the facts they state) of one document as a generator writes it."""

    kind: str
    sentences: list[Sentence] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)

    def say(self, template: str, *facts: Fact, **slots: str | Phrase) -> None:
        """Append the realized template, and the facts that sentence states."""
        self.sentences.append(realize(template, **slots))
        self.facts.extend(facts)

    def document(self, label: str | None = None) -> Document:
        return Document(self.kind, tuple(self.sentences), label, tuple(self.facts))
