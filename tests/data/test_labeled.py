"""The world's labeled sets: deterministic, the right size, balanced, labeled correctly, train and test disjoint.

Labels are checked against what the generator itself says, not against the module's own rules: the entailment
oracle rewrites both corpora with a ``DocumentWriter`` that records which facts each sentence states.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter

import pytest

from tlcourse.data import LABELS, UPOS_TAGS, Fact, entailment_label, world_corpus, world_document
from tlcourse.data import labeled
from tlcourse.data.grammar import DocumentWriter
from tlcourse.data.labeled import (
    MAX_PREMISE_WORDS,
    NER_TAGS,
    NLI_LABELS,
    PRETRAINING_CORPUS,
    SENTIMENT_LABELS,
    TEST_CORPUS,
    PairExample,
    TaggedExample,
    TextExample,
    label_counts,
    world_entailment,
    world_ner,
    world_pos,
    world_sentiment,
)
from tlcourse.data.lexicon import CITIES, FEMALE_NAMES, MALE_NAMES, SURNAMES, plural
from tlcourse.data.world import KIND_WEIGHTS

TASKS = (world_sentiment, world_entailment, world_pos, world_ner)
CORPORA = {"train": PRETRAINING_CORPUS, "test": TEST_CORPUS}


def text_of(example) -> str | tuple[str, ...]:
    """What an example is about: its text, its premise or its tokens."""
    if isinstance(example, PairExample):
        return example.premise
    return example.tokens if isinstance(example, TaggedExample) else example.text


@pytest.fixture(scope="module")
def stated():
    """{split: [(document, [facts each sentence states])]}: both corpora written again with a recording writer."""
    records: list[tuple] = []
    say = DocumentWriter.say

    def recording_say(self, template, *facts, **slots):
        say(self, template, *facts, **slots)
        records.append(facts)

    result = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DocumentWriter, "say", recording_say)
        for split, corpus in CORPORA.items():
            rng, kinds = random.Random(corpus["seed"]), list(KIND_WEIGHTS)
            result[split] = []
            for doc in world_corpus(**corpus):
                records.clear()
                again = world_document(rng.choices(kinds, list(KIND_WEIGHTS.values()))[0], rng)
                assert again == doc and len(records) == len(doc.sentences)  # the same corpus, one record a sentence
                result[split].append((doc, list(records)))
    return result


@pytest.fixture(scope="module")
def prefixes(stated):
    """{premise text: (facts its sentences state, its lowercased words)} for every document beginning."""
    table = {}
    for documents in stated.values():
        for doc, facts in documents:
            for k in range(1, len(doc.sentences) + 1):
                text = " ".join(sentence.text for sentence in doc.sentences[:k])
                words = {token.lower() for sentence in doc.sentences[:k] for token in sentence.tokens}
                entry = ({fact for sentence_facts in facts[:k] for fact in sentence_facts}, words)
                assert table.setdefault(text, entry) == entry
    return table


@pytest.fixture(scope="module")
def hypothesis_facts():
    """{hypothesis text after the subject: (relation, object, negated)} for every object the world's facts take."""
    objects = {(f.relation, f.object) for c in CORPORA.values() for doc in world_corpus(**c) for f in doc.facts}
    table = {}
    for relation, obj in objects:
        for negated in (False, True):
            rest = Fact("Anna", relation, obj, negated).sentence().text.removeprefix("Anna ")
            assert table.setdefault(rest, (relation, obj, negated)) == (relation, obj, negated)  # no two read alike
    return table


def as_fact(hypothesis: str, table) -> Fact:
    subject, rest = hypothesis.split(" ", 1)
    relation, obj, negated = table[rest]
    return Fact(subject, relation, obj, negated)


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.__name__)
@pytest.mark.parametrize("split", ["train", "test"])
def test_deterministic_sized_and_seeded(task, split):
    first = task(n=60, split=split, seed=3)
    assert len(first) == 60 and first == task(n=60, split=split, seed=3)
    assert first != task(n=60, split=split, seed=4)
    assert len(set(task(split=split))) == len(task(split=split))  # no example twice


def test_the_same_under_another_hash_seed():
    """Nothing depends on the order of a set: another PYTHONHASHSEED gives the same examples."""
    code = ("from tlcourse.data.labeled import *; "
            "print(repr(world_entailment(300, 'test') + world_ner(100) + world_pos(100) + world_sentiment(100)))")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": "12345"}).stdout  # fmt: skip
    here = world_entailment(300, "test") + world_ner(100) + world_pos(100) + world_sentiment(100)
    assert there.strip() == repr(here)  # this process has another hash seed


def test_label_names_follow_glue():
    assert SENTIMENT_LABELS == ("negative", "positive")
    assert NLI_LABELS == LABELS == ("entailment", "neutral", "contradiction")
    assert labeled.POS_TAGS == UPOS_TAGS
    assert NER_TAGS[0] == "O" and all(tag[:2] in ("B-", "I-") for tag in NER_TAGS[1:])


def test_examples_are_frozen_and_tagged_ones_aligned():
    example = TaggedExample(["Anna", "sings"], ["B-PER", "O"])
    assert example.tokens == ("Anna", "sings") and hash(example)
    with pytest.raises(ValueError, match="tags: expected one tag per token"):
        TaggedExample(("Anna", "sings"), ("B-PER",))
    with pytest.raises(AttributeError):
        TextExample("good", 1).label = 0  # type: ignore[misc]
    assert label_counts([PairExample("a", "b", 2), PairExample("c", "d", 2), PairExample("e", "f", 0)]) == {2: 2, 0: 1}
    assert label_counts([example]) == {"B-PER": 1, "O": 1}


@pytest.mark.parametrize("split", ["train", "test"])
def test_sentiment_is_balanced_and_labeled_as_the_review(split):
    label_of = {doc.text: doc.label for doc in world_corpus(**CORPORA[split]) if doc.kind == "review"}
    examples = world_sentiment(split=split)
    assert len(examples) == 2000 and Counter(e.label for e in examples) == {0: 1000, 1: 1000}
    assert all(SENTIMENT_LABELS[e.label] == label_of[e.text] for e in examples)
    assert len({e.text for e in examples}) == 2000
    assert Counter(e.label for e in world_sentiment(n=7, split=split)) == {0: 3, 1: 4}


@pytest.mark.parametrize("split", ["train", "test"])
def test_pos_sentences_carry_the_generators_tags(split):
    tagged = {(s.tokens, s.pos) for doc in world_corpus(**CORPORA[split]) for s in doc.sentences}
    examples = world_pos(split=split)
    assert all((e.tokens, e.tags) in tagged for e in examples)
    assert all(set(e.tags) <= set(UPOS_TAGS) for e in examples)
    assert len({e.tokens for e in examples}) == len(examples) == 2000


@pytest.mark.parametrize("split", ["train", "test"])
def test_ner_tags_persons_and_cities_of_the_lexicon_in_iob2(split):
    names, surnames, cities = set(FEMALE_NAMES + MALE_NAMES), set(SURNAMES), set(CITIES)
    full_names = 0
    for example in world_ner(split=split):
        assert set(example.tags) <= set(NER_TAGS) - {"I-LOC"} and set(example.tags) != {"O"}
        for i, (token, tag) in enumerate(zip(example.tokens, example.tags)):
            previous = example.tags[i - 1] if i else "O"
            if tag.startswith("I-"):
                assert previous[2:] == tag[2:], example  # IOB2: I-X only inside an entity of type X
            expected = ("B-LOC" if token in cities else "I-PER" if token in surnames
                        else "B-PER" if token in names else "O")  # fmt: skip
            assert tag == expected, (token, example)
            if token in surnames:  # the world writes a surname only after a first name
                assert example.tokens[i - 1] in names
                full_names += 1
    assert full_names > 50


def test_ner_skips_capitalized_words_that_are_not_names():
    examples = world_ner(n=5000)
    weekdays = [tag for e in examples for token, tag in zip(e.tokens, e.tags) if token in ("Monday", "Sunday")]
    assert weekdays and set(weekdays) == {"O"}
    first_words = Counter(e.tokens[0] for e in examples if e.tags[0] == "O")
    assert first_words["The"] + first_words["She"] + first_words["He"] > 100


@pytest.mark.parametrize("split", ["train", "test"])
def test_every_entailment_label_follows_from_what_the_premise_states(split, prefixes, hypothesis_facts):
    examples = world_entailment(split=split)
    assert len(examples) == 3000 and Counter(e.label for e in examples) == {0: 1000, 1: 1000, 2: 1000}
    kinds = Counter()
    for example in examples:
        facts, words = prefixes[example.premise]  # the premise is the beginning of a document of the split
        hypothesis = as_fact(example.hypothesis, hypothesis_facts)
        assert NLI_LABELS.index(entailment_label(facts, hypothesis)) == example.label, example
        assert hypothesis.subject.lower() in words and len(example.premise.split()) <= MAX_PREMISE_WORDS
        if NLI_LABELS[example.label] == "neutral":  # nothing in the text hints at it, either
            assert not {hypothesis.object.lower(), plural(hypothesis.object.lower())} & words, example
        kinds[NLI_LABELS[example.label], hypothesis.negated, hypothesis in facts or hypothesis.negation() in facts] += 1
    # contradiction both by negation and by another value; entailment both by a stated fact and a negated other value
    assert kinds["contradiction", True, True] > 200 and kinds["contradiction", False, False] > 200
    assert kinds["entailment", False, True] > 200 and kinds["entailment", True, False] > 200
    for label in range(3):  # 'not' gives the label away for none of them
        negated = sum(" not " in e.hypothesis for e in examples if e.label == label)
        assert 350 < negated < 650


def test_the_module_never_misses_a_sentence_that_states_a_fact(stated):
    """What the premises rest on: every sentence that states a fact may state it, by the module's own test."""
    for documents in stated.values():
        for doc, facts in documents:
            for sentence, sentence_facts in zip(doc.sentences, facts):
                words = frozenset(token.lower() for token in sentence.tokens)
                assert all(labeled._may_state(words, fact) for fact in sentence_facts), (sentence.text, facts)


def test_test_split_is_new_to_the_pretrained_models():
    pretraining = world_corpus(**PRETRAINING_CORPUS)
    documents = {doc.text for doc in pretraining}
    sentences = {sentence.tokens for doc in pretraining for sentence in doc.sentences}
    assert not {e.text for e in world_sentiment(split="test")} & documents
    assert not {e.tokens for e in world_pos(n=20000, split="test")} & sentences
    assert not {e.tokens for e in world_ner(n=15000, split="test")} & sentences
    text = "\n".join(documents)
    assert not any(e.premise in text for e in world_entailment(n=600, split="test"))
    for task in TASKS:  # and so disjoint from train
        assert not {text_of(e) for e in task(split="test")} & {text_of(e) for e in task(split="train")}
    assert TEST_CORPUS["seed"] != PRETRAINING_CORPUS["seed"]


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.__name__)
def test_clear_errors(task):
    with pytest.raises(ValueError, match="n: expected an int >= 1, got 0"):
        task(n=0)
    with pytest.raises(TypeError, match="n: expected an int, got float"):
        task(n=10.0)
    with pytest.raises(TypeError, match="n: expected an int, got bool"):
        task(n=True)
    with pytest.raises(ValueError, match=r"split: expected one of \('train', 'test'\), got 'validation'"):
        task(split="validation")
    with pytest.raises(ValueError, match="seed: expected an int >= 0, got -1"):
        task(seed=-1)
    with pytest.raises(ValueError, match=r"n: the train split has \d+ (balanced|distinct) .*, got n=100000"):
        task(n=100_000)


def test_entailment_premise_length_is_checked_and_obeyed():
    with pytest.raises(ValueError, match="max_words: expected an int >= 10, got 5"):
        world_entailment(max_words=5)
    short = world_entailment(n=300, max_words=20)
    assert max(len(e.premise.split()) for e in short) <= 20
    with pytest.raises(ValueError, match="n: the test split has .* at most 12 words, got n=30000"):
        world_entailment(n=30000, split="test", max_words=12)
