"""The world corpus: deterministic, tagged, the right size, and related from one sentence to the next."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from tlcourse.data import KINDS, UPOS_TAGS, Document, Sentence, corpus_stats, world_corpus, world_document
from tlcourse.data.grammar import realize, tag_of, tagged
from tlcourse.data.lexicon import FEMALE_NAMES, MALE_NAMES, NEGATIVE_WORDS, POSITIVE_WORDS

PEOPLE = frozenset(FEMALE_NAMES + MALE_NAMES)


def test_same_seed_same_corpus_other_seed_other_corpus():
    first = world_corpus(n_documents=300, seed=1)
    assert first == world_corpus(n_documents=300, seed=1)
    assert first is not world_corpus(n_documents=300, seed=1)  # a new list each call: callers may change theirs
    assert first != world_corpus(n_documents=300, seed=2)
    assert world_corpus(n_documents=100, seed=1) == first[:100]  # a shorter corpus begins the longer one


def test_size_and_shape(corpus):
    stats = corpus_stats(corpus)
    assert stats.documents == 8000
    assert 1.5 <= stats.megabytes <= 3.0
    assert 200 <= stats.word_types <= 2000  # a moderate vocabulary: learnable in minutes
    assert 6 <= stats.sentences_per_document <= 9 and 6 <= stats.tokens_per_sentence <= 12
    assert all(4 <= len(doc.sentences) <= 12 for doc in corpus)
    shares = {kind: count / stats.documents for kind, count in stats.kinds.items()}
    assert set(shares) == set(KINDS) and all(share > 0.2 for share in shares.values())


def test_every_token_has_a_universal_pos_tag(corpus):
    tags = Counter()
    for doc in corpus[:2000]:
        for sentence in doc.sentences:
            assert len(sentence.tokens) == len(sentence.pos)
            assert sentence.pos[-1] == "PUNCT" and sentence.tokens[0][0].isupper()
            for token, tag in zip(sentence.tokens, sentence.pos):
                if tag == "PROPN":
                    assert token[0].isupper(), (token, sentence.text)
                if token in PEOPLE:
                    assert tag == "PROPN"
            tags.update(sentence.pos)
    assert set(tags) <= set(UPOS_TAGS)
    assert {"NOUN", "PROPN", "VERB", "ADJ", "DET", "ADP", "PRON", "ADV", "CCONJ", "NUM", "PUNCT", "AUX", "PART"} <= set(
        tags
    )


def test_the_same_word_can_carry_two_tags(corpus):
    """``orange`` is a colour and a fruit: a POS tagger has to look at the context."""
    orange = {tag for doc in corpus for s in doc.sentences for token, tag in zip(s.tokens, s.pos) if token == "orange"}
    assert orange == {"ADJ"} or orange == {"ADJ", "NOUN"}
    assert "oranges" in {token for doc in corpus for s in doc.sentences for token in s.tokens}


def _people(sentences) -> set[str]:
    return {token for sentence in sentences for token in sentence.tokens if token in PEOPLE}


def test_a_story_is_about_its_cast_and_other_stories_are_not(corpus):
    """What makes next-sentence prediction learnable: a story names only its hero and the hero's friend."""
    rng = random.Random(0)
    stories = [doc for doc in corpus if doc.kind == "story"]
    strangers = naming = 0
    for doc in stories[:1000]:
        cast = _people(doc.sentences)
        assert 1 <= len(cast) <= 2 and _people(doc.sentences[:1])  # the first sentence names the hero
        other = rng.choice(stories)
        sentence = rng.choice(other.sentences)
        if other is not doc and _people([sentence]):
            naming += 1
            strangers += bool(_people([sentence]) - cast)
    assert strangers / naming > 0.9  # a sentence of another story almost always names a stranger


def test_reviews_sentiment_is_recoverable_but_not_by_counting_words(corpus):
    reviews = [doc for doc in corpus if doc.kind == "review"]
    assert Counter(doc.label for doc in reviews).keys() == {"positive", "negative"}
    counted = negation_aware = 0
    for doc in reviews:
        tokens = [token.lower() for s in doc.sentences for token in s.tokens]
        score = sum((t in POSITIVE_WORDS) - (t in NEGATIVE_WORDS) for t in tokens)
        counted += (score > 0) == (doc.label == "positive")
        flips = [(-1 if i and tokens[i - 1] in ("not", "never") else 1) for i in range(len(tokens))]
        score = sum(f * ((t in POSITIVE_WORDS) - (t in NEGATIVE_WORDS)) for f, t in zip(flips, tokens))
        negation_aware += (score > 0) == (doc.label == "positive")
    assert 0.6 < counted / len(reviews) < 0.85  # a bag of words gets most, negation hides the rest
    assert negation_aware / len(reviews) > 0.9


def test_documents_do_not_repeat_each_other(corpus):
    texts = [doc.text for doc in corpus]
    assert len(set(texts)) > 0.99 * len(texts)


@pytest.mark.parametrize("kind", KINDS)
def test_world_document_writes_the_kind_asked(kind):
    doc = world_document(kind, random.Random(5))
    assert doc.kind == kind and (doc.label is not None) == (kind == "review")
    assert doc == world_document(kind, random.Random(5))


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_documents"):
        world_corpus(n_documents=0)
    with pytest.raises(TypeError, match="seed"):
        world_corpus(seed="0")
    with pytest.raises(ValueError, match="kind"):
        world_document("poem", random.Random(0))
    with pytest.raises(TypeError, match="rng"):
        world_document("story", 0)
    with pytest.raises(ValueError, match="documents"):
        corpus_stats([])


def test_sentence_and_document_checks():
    with pytest.raises(ValueError, match="one tag per token"):
        Sentence(("a", "dog"), ("DET",))
    with pytest.raises(ValueError, match="Universal POS"):
        Sentence(("dogs",), ("NN",))
    with pytest.raises(ValueError, match="kind"):
        Document("poem", ())
    sentence = Sentence(["Oh", "!"], ["INTJ", "PUNCT"])
    assert sentence.tokens == ("Oh", "!") and sentence.text == "Oh!"


def test_templates_tag_every_word_or_say_why():
    assert tag_of("the") == "DET" and tagged("home/ADV") == (("home", "ADV"),)
    with pytest.raises(ValueError, match="orange"):
        tag_of("orange")  # ADJ or NOUN: the template must say which
    with pytest.raises(ValueError, match="lexicon"):
        tag_of("xylophone")
    with pytest.raises(ValueError, match="'city'"):
        realize("{name} lives in {city} .", name="Anna")
