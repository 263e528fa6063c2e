"""Differential tests: pair inputs, truncation, batching and word-label alignment equal what transformers' fast
BERT tokenizer gives (``tokenizer(a, b, truncation=True, max_length=..., padding=True)``, ``word_ids()`` and the
first-sub-word labeling of transformers' token-classification examples), on the real MiniLM vocabulary."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
import torch
import transformers
from tokenizers import Tokenizer

from tlcourse.finetuning import (
    SequenceCollator,
    TokenCollator,
    align_labels,
    encode_words,
    load_tokenizer,
    pair_input,
    truncate_longest_first,
    word_predictions,
)


@dataclass
class Text:
    text: str
    label: int


@dataclass
class Pair:
    premise: str
    hypothesis: str
    label: int


@dataclass
class Tagged:
    tokens: tuple
    tags: tuple


SENTENCES = [
    "Anna lives in Oslo.", "The unaffable waiter didn't smile at all!", "I would give it two stars.",
    "Zoë's café — naïve, but charming.", "a", "Tom bought a red lamp at Marco's shop in Rome last Friday , "
    "and after three weeks it was already broken , so I would not recommend it .",
]


@pytest.fixture(scope="module")
def hf_tokenizer(minilm_dir):
    return transformers.BertTokenizerFast(tokenizer_file=str(minilm_dir / "tokenizer.json"))


@pytest.fixture(scope="module")
def tokenizer(minilm_dir) -> Tokenizer:
    return load_tokenizer(minilm_dir / "tokenizer.json")


def test_truncation_equals_tokenizers_longest_first(tokenizer):
    # every (n1, n2, budget) up to 12: the HF tokenizer truncating two runs of distinct words
    hf = Tokenizer.from_str(tokenizer.to_str())
    for max_length in range(3, 16):
        hf.enable_truncation(max_length, strategy="longest_first")
        for n1 in range(0, 13):
            for n2 in range(0, 13):
                a, b = " ".join(["cat"] * n1), " ".join(["dog"] * n2)
                encoding = hf.encode(a, b)
                a_ids = tokenizer.encode(a, add_special_tokens=False).ids
                b_ids = tokenizer.encode(b, add_special_tokens=False).ids
                ids, types = pair_input(a_ids, b_ids, cls_id=101, sep_id=102, max_length=max_length)
                assert ids == encoding.ids, (n1, n2, max_length)
                assert types == encoding.type_ids, (n1, n2, max_length)


def test_single_inputs_are_cut_at_the_end():
    assert truncate_longest_first([1, 2, 3], None, 2) == ([1, 2], None)
    assert pair_input([5, 6, 7], None, cls_id=1, sep_id=2, max_length=4) == ([1, 5, 6, 2], [0, 0, 0, 0])


@pytest.mark.parametrize("max_length", [8, 16, 128])
def test_sequence_batches_equal_the_transformers_tokenizer(tokenizer, hf_tokenizer, max_length):
    texts = [Text(s, i % 2) for i, s in enumerate(SENTENCES)]
    batch = SequenceCollator(tokenizer, max_length)(texts)
    expected = hf_tokenizer([t.text for t in texts], truncation=True, max_length=max_length, padding=True,
                            return_tensors="pt")
    for key in ("input_ids", "token_type_ids", "attention_mask"):
        assert torch.equal(batch[key], expected[key]), key
    assert batch["labels"].tolist() == [t.label for t in texts]


@pytest.mark.parametrize("max_length", [10, 20, 128])
def test_pair_batches_equal_the_transformers_tokenizer(tokenizer, hf_tokenizer, max_length):
    pairs = [Pair(a, b, 1) for a, b in zip(SENTENCES, reversed(SENTENCES))]
    batch = SequenceCollator(tokenizer, max_length)(pairs)
    expected = hf_tokenizer([p.premise for p in pairs], [p.hypothesis for p in pairs], truncation=True,
                            max_length=max_length, padding=True, return_tensors="pt")
    for key in ("input_ids", "token_type_ids", "attention_mask"):
        assert torch.equal(batch[key], expected[key]), key


def hf_aligned_labels(hf_tokenizer, words, tags, max_length):
    """transformers' token-classification example (``tokenize_and_align_labels``, label_all_tokens=False)."""
    encoding = hf_tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
    labels, previous = [], None
    for word_id in encoding.word_ids():
        labels.append(-100 if word_id is None or word_id == previous else tags[word_id])
        previous = word_id
    return encoding, labels


def _random_sentences(n: int, seed: int):
    rng = random.Random(seed)
    words = ["Anna", "unaffable", "lives", "in", "Oslo", ",", "didn't", "café", "Zoë's", "2024", "!", "x",
             "tokenization", "ok", "supercalifragilistic", "—", "naïve", "’", "e-mail"]
    return [[rng.choice(words) for _ in range(rng.randint(1, 15))] for _ in range(n)]


@pytest.mark.parametrize("max_length", [6, 12, 128])
def test_word_ids_and_aligned_labels_equal_transformers(tokenizer, hf_tokenizer, max_length):
    sentences = _random_sentences(40, seed=max_length)
    labels = ["A", "B", "C"]
    examples = [Tagged(tuple(words), tuple(labels[i % 3] for i in range(len(words)))) for words in sentences]
    collator = TokenCollator(tokenizer, labels, max_length)
    batch, word_ids = collator.encode(examples)
    for row, example in enumerate(examples):
        tags = [labels.index(t) for t in example.tags]
        encoding, expected = hf_aligned_labels(hf_tokenizer, list(example.tokens), tags, max_length)
        n = len(encoding.input_ids)
        assert batch["input_ids"][row, :n].tolist() == encoding.input_ids
        assert word_ids[row][:n] == encoding.word_ids()
        assert batch["labels"][row, :n].tolist() == expected
        assert batch["labels"][row, n:].eq(-100).all() and batch["attention_mask"][row, n:].eq(0).all()


def test_encode_words_equals_the_word_ids_of_a_pretokenized_encoding(tokenizer):
    for words in _random_sentences(30, seed=1):
        encoding = tokenizer.encode(words, is_pretokenized=True, add_special_tokens=False)
        assert encode_words(tokenizer, words) == (encoding.ids, encoding.word_ids)


def test_predictions_go_back_to_words_through_the_first_sub_word():
    word_ids = [None, 0, 1, 1, 2, None, None]
    labels = align_labels(word_ids, [4, 5, 6])
    assert word_predictions(labels, word_ids) == [4, 5, 6]  # reading the labels back gives the word labels
    assert word_predictions([0, 1, 2, 3, 4, 5, 6], word_ids) == [1, 2, 4]


def test_bad_arguments_are_clear_errors(tokenizer, minilm_dir):
    with pytest.raises(ValueError, match="max_length: expected an int >= 3"):
        pair_input([1], [2], cls_id=1, sep_id=2, max_length=2)
    with pytest.raises(ValueError, match="word_ids: expected word indices below len"):
        align_labels([None, 0, 3], [1, 2])
    with pytest.raises(ValueError, match="tokenizer: expected one that neither pads nor truncates"):
        encode_words(Tokenizer.from_file(str(minilm_dir / "tokenizer.json")), ["a"])
    with pytest.raises(ValueError, match="examples: expected tags among"):
        TokenCollator(tokenizer, ["A"])([Tagged(("x",), ("B",))])
    with pytest.raises(FileNotFoundError, match="expected a tokenizer.json file"):
        load_tokenizer(minilm_dir / "missing.json")
