"""BPE training and encoding: hand-checked examples and HF as the oracle (docs/reference-semantics.md,
"Tokenizers: BPE training" and "Tokenizers: BPE encoding")."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenization_oracle import hf_train_words

from tlcourse.tokenization import count_pairs, encode_word, merge_pair, train_bpe, train_bpe_fast

TRAINERS = [train_bpe, train_bpe_fast]


# ---------------------------------------------------------------- the pieces
def test_count_pairs_overlaps_and_weights():
    assert count_pairs({("a", "a", "a"): 2, ("a", "b"): 1}) == {("a", "a"): 4, ("a", "b"): 1}


def test_count_pairs_never_crosses_words():
    assert count_pairs({("a",): 5, ("b",): 5}) == {}


def test_merge_pair_left_to_right_without_overlap():
    assert merge_pair(("a", "a", "a"), ("a", "a")) == ("aa", "a")
    assert merge_pair(("a", "a", "a", "a"), ("a", "a")) == ("aa", "aa")
    assert merge_pair(("a", "b", "c"), ("b", "c")) == ("a", "bc")
    assert merge_pair(("x",), ("x", "x")) == ("x",)


def test_encode_word_applies_merges_by_rank():
    assert encode_word("abc", [("b", "c"), ("a", "b")]) == ["a", "bc"]
    assert encode_word("abc", [("a", "b"), ("b", "c")]) == ["ab", "c"]
    assert encode_word("aaaaa", [("a", "a")]) == ["aa", "aa", "a"]
    assert encode_word("", [("a", "b")]) == []
    assert encode_word("aqb", [("a", "b")]) == ["a", "q", "b"]  # unknown chars stay; the tokenizer drops them


# ---------------------------------------------------------------- training, hand-checked
@pytest.mark.parametrize("trainer", TRAINERS)
def test_ties_go_to_smallest_id_pair_not_string_order(trainer):
    # After (a,b) -> "ab" (id 3), (b,x) = (1,2) and (ab,x) = (3,2) are tied: HF merges (b,x) first.
    vocab, merges = trainer({"ab": 3, "abx": 2, "bx": 2}, vocab_size=6)
    assert merges[:2] == [("a", "b"), ("b", "x")]


@pytest.mark.parametrize("trainer", TRAINERS)
def test_min_frequency_compares_the_pair_count(trainer):
    word_counts = {"ab": 3, "cd": 2, "e": 1, "f": 1}  # the corpus "ab ab ab cd cd e f"
    vocab, merges = trainer(word_counts, vocab_size=100, min_frequency=3)
    assert merges == [("a", "b")]
    assert vocab == {"a": 0, "b": 1, "c": 2, "d": 3, "e": 4, "f": 5, "ab": 6}


@pytest.mark.parametrize("trainer", TRAINERS)
def test_vocab_order_specials_alphabet_merges(trainer):
    vocab, merges = trainer({"ba": 2}, vocab_size=10, special_tokens=["<s>", "b"], initial_alphabet=["z"])
    assert list(vocab.items()) == [("<s>", 0), ("b", 1), ("a", 2), ("z", 3), ("ba", 4)]
    assert merges == [("b", "a")]


@pytest.mark.parametrize("trainer", TRAINERS)
def test_vocab_size_includes_specials_and_alphabet(trainer):
    vocab, merges = trainer({"abcd": 5}, vocab_size=5, special_tokens=["<s>"])
    assert len(vocab) == 5 and merges == []
    vocab, merges = trainer({"abcd": 5}, vocab_size=7, special_tokens=["<s>"])
    assert len(vocab) == 7 and merges == [("a", "b"), ("c", "d")]  # (c,d)=(3,4) beats (ab,c)=(5,3)


@pytest.mark.parametrize("trainer", TRAINERS)
def test_overlapping_pairs_are_counted_then_merged_left_to_right(trainer):
    vocab, merges = trainer({"aaa": 1, "ab": 1}, vocab_size=100)
    assert merges[0] == ("a", "a") and ("aa", "a") in merges


@pytest.mark.parametrize("trainer", TRAINERS)
@pytest.mark.parametrize(
    ("kwargs", "argument", "error"),
    [
        ({"word_counts": ["ab"]}, "word_counts", TypeError),
        ({"word_counts": {"ab": -1}}, "word_counts", ValueError),
        ({"word_counts": {1: 2}}, "word_counts", TypeError),
        ({"vocab_size": "10"}, "vocab_size", TypeError),
        ({"vocab_size": -1}, "vocab_size", ValueError),
        ({"min_frequency": -2}, "min_frequency", ValueError),
        ({"special_tokens": "<s>"}, "special_tokens", TypeError),
        ({"initial_alphabet": ["ab"]}, "initial_alphabet", ValueError),
    ],
)
def test_bad_arguments_name_the_argument(trainer, kwargs, argument, error):
    arguments = {"word_counts": {"ab": 1}, "vocab_size": 10, **kwargs}
    with pytest.raises(error, match=argument):
        trainer(arguments.pop("word_counts"), arguments.pop("vocab_size"), **arguments)


# ---------------------------------------------------------------- training vs HF
small_words = st.dictionaries(
    st.text(alphabet="abc", min_size=1, max_size=8), st.integers(min_value=1, max_value=6), min_size=1, max_size=8
)


@settings(max_examples=300)
@given(
    word_counts=small_words,
    vocab_size=st.integers(min_value=0, max_value=40),
    min_frequency=st.integers(min_value=0, max_value=6),
    special_tokens=st.lists(st.sampled_from(["<s>", "</s>", "a", "[UNK]"]), max_size=3, unique=True),
)
def test_trainers_equal_hf_on_small_alphabets(word_counts, vocab_size, min_frequency, special_tokens):
    expected = hf_train_words(word_counts, vocab_size, min_frequency=min_frequency, special_tokens=special_tokens)
    for trainer in TRAINERS:
        result = trainer(word_counts, vocab_size, min_frequency=min_frequency, special_tokens=special_tokens)
        assert result == expected, trainer.__name__


@settings(max_examples=200)
@given(
    word_counts=st.dictionaries(
        st.text(alphabet="aaab", min_size=1, max_size=12), st.integers(min_value=1, max_value=4), max_size=5
    ).filter(bool),
    vocab_size=st.integers(min_value=2, max_value=30),
    initial_alphabet=st.lists(st.sampled_from("abcxyzé"), max_size=4),
)
def test_trainers_equal_hf_on_runs_of_one_letter(word_counts, vocab_size, initial_alphabet):
    expected = hf_train_words(word_counts, vocab_size, initial_alphabet=initial_alphabet)
    assert train_bpe(word_counts, vocab_size, initial_alphabet=initial_alphabet) == expected
    assert train_bpe_fast(word_counts, vocab_size, initial_alphabet=initial_alphabet) == expected


# ---------------------------------------------------------------- encoding vs HF (through the BPE model alone)
@given(word=st.text(alphabet="abc", max_size=14), merges=st.lists(st.sampled_from(["a", "b", "c"]).flatmap(
    lambda left: st.sampled_from(["a", "b", "c", "ab", "bc"]).map(lambda right: (left, right))), max_size=6))
def test_encode_word_equals_hf_bpe_model(word, merges):
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab: dict[str, int] = {}
    for token in ["a", "b", "c", "ab", "bc"]:
        vocab.setdefault(token, len(vocab))
    usable = []
    for left, right in merges:  # the model needs every merged string in its vocabulary
        vocab.setdefault(left + right, len(vocab))
        usable.append((left, right))
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=usable))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    assert encode_word(word, usable) == tokenizer.encode(word).tokens
