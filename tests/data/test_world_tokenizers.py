"""Tokenizers of the world corpus: deterministic, cached, round-tripping, and BERT's / GPT-2's conventions."""

from __future__ import annotations

import subprocess
import sys

import pytest
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

from tlcourse.data import (
    END_OF_TEXT,
    WORDPIECE_SPECIALS,
    bpe_tokenizer,
    cache_dir,
    wordpiece_tokenizer,
    wordpiece_vocab,
    world_bpe,
    world_corpus,
    world_wordpiece,
)
from tlcourse.data import tokenizers as data_tokenizers
from tlcourse.tokenization import BPETokenizer

SMALL = {"n_documents": 500, "seed": 0}


@pytest.fixture(scope="module")
def wordpiece() -> Tokenizer:
    return world_wordpiece()


@pytest.fixture(scope="module")
def bpe() -> BPETokenizer:
    return world_bpe()


def _small_texts() -> list[str]:
    return [doc.text for doc in world_corpus(**SMALL)]


def test_wordpiece_conventions(wordpiece):
    assert wordpiece.get_vocab_size() == 1024
    assert [wordpiece.token_to_id(token) for token in WORDPIECE_SPECIALS] == [0, 1, 2, 3, 4]
    encoding = wordpiece.encode("Anna has a dog.", "She loves it.")
    assert encoding.tokens[0] == "[CLS]" and encoding.tokens.count("[SEP]") == 2 and encoding.tokens[-1] == "[SEP]"
    first = encoding.tokens.index("[SEP]")
    assert encoding.type_ids == [0] * (first + 1) + [1] * (len(encoding.tokens) - first - 1)
    assert wordpiece.encode("[MASK] lives in Oslo.").tokens[1] == "[MASK]"  # specials are matched whole


def test_wordpiece_is_deterministic_across_processes():
    """HF's WordPieceTrainer breaks ties in hash-map order; ours gives the same file in any process."""
    here = wordpiece_tokenizer(_small_texts(), 400).to_str()
    assert here == wordpiece_tokenizer(_small_texts(), 400).to_str()
    code = (
        "from tlcourse.data import world_corpus, wordpiece_tokenizer\n"
        f"texts = [d.text for d in world_corpus(**{SMALL!r})]\n"
        "print(wordpiece_tokenizer(texts, 400).to_str(), end='')\n"
    )
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert there == here


def test_wordpiece_learns_what_hf_wordpiece_trainer_learns():
    """Same merges as HF where no two pairs tie; on the world corpus, trained to the end, different only at ties."""

    def hf_vocab(texts, vocab_size):
        tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        trainer = trainers.WordPieceTrainer(
            vocab_size=vocab_size, special_tokens=list(WORDPIECE_SPECIALS), show_progress=False
        )
        tokenizer.train_from_iterator(texts, trainer)
        return tokenizer.get_vocab()

    def merged(vocab):
        return {token for token in vocab if len(token.removeprefix("##")) > 1 and token not in WORDPIECE_SPECIALS}

    texts = ["hug " * 5 + "pug " * 3 + "hugs " * 2]
    assert merged(wordpiece_vocab(texts, 500)) == merged(hf_vocab(texts, 500)) == {"##ug", "hug", "pug", "hugs"}
    texts = _small_texts()
    ours, theirs = merged(wordpiece_vocab(texts, 5000)), merged(hf_vocab(texts, 5000))
    words = {word for text in texts for word, _ in pre_tokenizers.BertPreTokenizer().pre_tokenize_str(text.lower())}
    assert all(word in ours and word in theirs for word in words if len(word) > 1)
    assert len(ours) == len(theirs) and len(ours ^ theirs) < 0.05 * len(ours)


def test_wordpiece_round_trip(wordpiece):
    texts = [sentence.text for doc in world_corpus(**SMALL) for sentence in doc.sentences]
    encodings = wordpiece.encode_batch(texts, add_special_tokens=False)
    for text, encoding in zip(texts, encodings):
        assert "[UNK]" not in encoding.tokens
        decoded = wordpiece.decode(encoding.ids)
        assert decoded.replace(" ", "") == text.lower().replace(" ", "")  # WordPiece keeps all but spacing
        assert wordpiece.encode(decoded, add_special_tokens=False).ids == encoding.ids


def test_wordpiece_template_equals_transformers_bert_tokenizer(wordpiece):
    transformers = pytest.importorskip("transformers")
    reference = transformers.BertTokenizer(vocab=wordpiece.get_vocab())
    docs = world_corpus(n_documents=50)
    pairs = [(doc.sentences[0].text, doc.sentences[1].text) for doc in docs]
    for a, b in pairs:
        expected = reference(a, b, return_special_tokens_mask=True)
        actual = wordpiece.encode(a, b)
        assert actual.ids == expected["input_ids"]
        assert actual.type_ids == expected["token_type_ids"]
        assert actual.attention_mask == expected["attention_mask"]
        assert actual.special_tokens_mask == expected["special_tokens_mask"]
        assert wordpiece.encode(a).ids == reference(a)["input_ids"]


def test_bpe_conventions_and_round_trip(bpe):
    assert len(bpe.vocab) == 1024 and bpe.vocab[END_OF_TEXT] == 0
    docs = [doc.text for doc in world_corpus(**SMALL)]
    for text in docs:
        assert bpe.decode(bpe.encode(text)) == text
    ids = bpe.encode(docs[0] + END_OF_TEXT + docs[1])
    assert ids.count(0) == 1 and bpe.decode(ids, skip_special_tokens=False) == docs[0] + END_OF_TEXT + docs[1]
    words = sum(len(text.split()) for text in docs)
    assert sum(len(bpe.encode(text)) for text in docs) < 1.5 * words  # most words are one token


def test_cached_files_are_tokenizer_json_that_hf_reads(wordpiece, bpe):
    files = sorted(path.name for path in (cache_dir() / "tokenizers").iterdir())
    assert [name.split("-")[1] for name in files] == ["bpe", "wordpiece"]
    hf_bpe = Tokenizer.from_file(str(next((cache_dir() / "tokenizers").glob("world-bpe-*.json"))))
    text = world_corpus(n_documents=1)[0].text
    assert hf_bpe.encode(text).ids == bpe.encode(text)


def test_second_call_loads_from_the_cache(wordpiece, bpe, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("trained again instead of loading the cached file")

    monkeypatch.setattr(data_tokenizers, "wordpiece_tokenizer", no_training)
    monkeypatch.setattr(data_tokenizers, "bpe_tokenizer", no_training)
    assert world_wordpiece().to_str() == wordpiece.to_str()
    assert world_bpe().vocab == bpe.vocab


def test_bad_arguments():
    with pytest.raises(ValueError, match="vocab_size"):
        wordpiece_tokenizer(["some text"], 10)
    with pytest.raises(TypeError, match="texts"):
        wordpiece_tokenizer("some text", 100)
    with pytest.raises(ValueError, match="texts"):
        bpe_tokenizer([], 300)
    with pytest.raises(ValueError, match="vocab_size"):
        bpe_tokenizer(["some text"], 100)
