"""Facts: what documents state is consistent, shows in the text, and labels entailment pairs."""

from __future__ import annotations

from collections import defaultdict

import pytest

from tlcourse.data import LABELS, RELATIONS, UPOS_TAGS, Fact, entailment_label
from tlcourse.data.lexicon import plural


def test_functional_relations_have_one_value_per_person(corpus):
    """A story or biography never gives one person two homes, two jobs or two birthplaces."""
    for doc in corpus:
        values = defaultdict(set)
        for fact in doc.facts:
            if fact.functional:
                values[fact.subject, fact.relation].add(fact.object)
        assert all(len(objects) == 1 for objects in values.values()), doc.text


def test_no_document_states_a_fact_and_its_negation(corpus):
    for doc in corpus:
        stated = {(f.subject, f.relation, f.object, f.negated) for f in doc.facts}
        assert not {(s, r, o, not n) for s, r, o, n in stated} & stated, doc.text


def test_facts_show_in_the_text(corpus):
    for doc in corpus[:3000]:
        words = {token.lower() for sentence in doc.sentences for token in sentence.tokens}
        for fact in doc.facts:
            assert fact.subject.lower() in words
            assert {fact.object.lower(), plural(fact.object)} & words, (fact, doc.text)


def test_stories_and_biographies_state_facts_and_reviews_do_not(corpus):
    assert all(doc.facts for doc in corpus if doc.kind != "review")
    assert not any(doc.facts for doc in corpus if doc.kind == "review")
    relations = {fact.relation for doc in corpus for fact in doc.facts}
    assert relations == set(RELATIONS)


def test_every_fact_renders_as_a_tagged_sentence(corpus):
    facts = {fact for doc in corpus[:2000] for fact in doc.facts}
    for fact in facts:
        for sentence in (fact.sentence(), fact.negation().sentence()):
            assert set(sentence.pos) <= set(UPOS_TAGS) and sentence.text.startswith(fact.subject)
    assert Fact("Tom", "works_as", "engineer").sentence().text == "Tom is an engineer."
    assert Fact("Tom", "likes", "swimming", negated=True).sentence().text == "Tom does not like swimming."
    assert Fact("Tom", "owns", "parrot").sentence().text == "Tom has a parrot."


def test_entailment_labels():
    facts = [
        Fact("Anna", "lives_in", "Oslo"),
        Fact("Anna", "owns", "dog"),
        Fact("Anna", "likes", "fish", negated=True),
    ]
    cases = {
        Fact("Anna", "lives_in", "Oslo"): "entailment",
        Fact("Anna", "lives_in", "Oslo", negated=True): "contradiction",
        Fact("Anna", "lives_in", "Rome"): "contradiction",  # one home: another city is false
        Fact("Anna", "lives_in", "Rome", negated=True): "entailment",
        Fact("Anna", "owns", "cat"): "neutral",  # she may have a cat too
        Fact("Anna", "owns", "dog", negated=True): "contradiction",
        Fact("Anna", "likes", "fish"): "contradiction",
        Fact("Anna", "likes", "fish", negated=True): "entailment",
        Fact("Anna", "works_as", "baker"): "neutral",
        Fact("Tom", "lives_in", "Rome"): "neutral",
    }
    for hypothesis, label in cases.items():
        assert entailment_label(facts, hypothesis) == label, hypothesis
    assert set(cases.values()) == set(LABELS)


def test_every_stated_fact_is_entailed_and_its_negation_contradicted(corpus):
    for doc in corpus[:500]:
        for fact in doc.facts:
            assert entailment_label(doc.facts, fact) == "entailment"
            assert entailment_label(doc.facts, fact.negation()) == "contradiction"


def test_fact_errors():
    with pytest.raises(ValueError, match="relation"):
        Fact("Anna", "hates", "fish")
    with pytest.raises(TypeError, match="hypothesis"):
        entailment_label([], "Anna lives in Oslo.")
    with pytest.raises(ValueError, match="object"):
        Fact("Anna", "lives_in", "Atlantis").sentence()
