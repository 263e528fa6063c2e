"""WordPiece: hand-checked examples, then HF as the oracle with small vocabularies and BERT's real one
(docs/reference-semantics.md, "WordPiece encoding")."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import BertWordPieceTokenizer, Tokenizer, normalizers, pre_tokenizers

from tlcourse.corpora import python_docs
from tlcourse.tokenization import WordPieceTokenizer, bert_pretokenize, wordpiece_tokenize

SMALL = {"un", "##aff", "unaff", "##able", "##a", "##b", "[UNK]"}
#: Unicode blocks old enough that Python's tables and HF's agree on every character (checked exhaustively):
#: ASCII to Hebrew (accents, combining marks, controls), general punctuation, CJK symbols and ideographs,
#: Hangul, emoji.
BLOCKS = [(0, 0x5FF), (0x2000, 0x206F), (0x3000, 0x303F), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0x1F600, 0x1F64F)]
bert_chars = st.one_of(*[st.integers(low, high) for low, high in BLOCKS]).map(chr)
bert_text = st.text(bert_chars | st.sampled_from("aeiou AEIOU .,!?'éÉñ"), max_size=60)


# ---------------------------------------------------------------- the exercise, hand-checked
@pytest.mark.parametrize(
    ("word", "expected"),
    [("unaffable", ["unaff", "##able"]), ("unaffablex", ["[UNK]"]), ("un", ["un"]), ("unab", ["un", "##a", "##b"])],
)
def test_wordpiece_examples(word, expected):
    assert wordpiece_tokenize(word, SMALL) == expected


def test_too_long_word_is_unknown():
    vocab = {"a", "##a"}
    assert wordpiece_tokenize("a" * 100, vocab) == ["a"] + ["##a"] * 99
    assert wordpiece_tokenize("a" * 101, vocab) == ["[UNK]"]
    assert wordpiece_tokenize("aaa", vocab, max_input_chars_per_word=2, unk_token="<unk>") == ["<unk>"]


def test_bert_pretokenize_examples():
    assert bert_pretokenize("Don't panic, Zoë!") == ["don", "'", "t", "panic", ",", "zoe", "!"]
    assert bert_pretokenize("Zoë 中文", lowercase=False) == ["Zoë", "中", "文"]
    assert bert_pretokenize("a\x00b\ufffdc\u200bd\te") == ["abcd", "e"]


# ---------------------------------------------------------------- small vocabularies vs HF
def hf_wordpiece(vocab: dict[str, int], lowercase: bool = True) -> BertWordPieceTokenizer:
    return BertWordPieceTokenizer(vocab, lowercase=lowercase, clean_text=True, handle_chinese_chars=True)


def small_vocab(pieces: list[str]) -> dict[str, int]:
    vocab: dict[str, int] = {}
    for token in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *pieces]:
        vocab.setdefault(token, len(vocab))
    return vocab


@given(
    text=st.text(st.sampled_from("abc .,Ab"), max_size=30),
    pieces=st.lists(st.text(alphabet="abc", min_size=1, max_size=3).flatmap(
        lambda piece: st.sampled_from([piece, "##" + piece])), max_size=12),
)
def test_small_vocabularies_equal_hf(text, pieces):
    vocab = small_vocab([*pieces, ".", ","])
    ours, theirs = WordPieceTokenizer(vocab), hf_wordpiece(vocab)
    encoding = theirs.encode(text)
    assert ours.tokenize(text) == encoding.tokens[1:-1]
    assert ours.encode(text) == encoding.ids


@given(text=bert_text, lowercase=st.booleans())
def test_bert_pretokenize_equals_hf(text, lowercase):
    normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, lowercase=lowercase)
    expected = [word for word, _ in pre_tokenizers.BertPreTokenizer().pre_tokenize_str(normalizer.normalize_str(text))]
    assert bert_pretokenize(text, lowercase=lowercase) == expected


# ---------------------------------------------------------------- BERT's real vocabulary vs HF
@pytest.fixture(scope="module")
def bert(minilm_dir):
    """(ours from vocab.txt, HF BertWordPieceTokenizer from vocab.txt, HF Tokenizer from tokenizer.json)."""
    vocab_file = str(minilm_dir / "vocab.txt")
    from_json = Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    from_json.no_padding()  # the sentence-transformers file pads and truncates to 128 tokens
    from_json.no_truncation()
    return WordPieceTokenizer.from_vocab(vocab_file), BertWordPieceTokenizer(vocab_file, lowercase=True), from_json


def test_real_vocab_is_read_by_line_number(bert):
    ours, theirs, _ = bert
    assert len(ours.vocab) == 30522 and ours.vocab == theirs.get_vocab()


def test_real_vocab_on_python_docs(bert):
    ours, theirs, from_json = bert
    sentences = [line for doc in python_docs(max_bytes=60_000) for line in doc.splitlines() if line.strip()]
    expected = [encoding.ids for encoding in theirs.encode_batch(sentences)]
    assert [ours.encode(sentence) for sentence in sentences] == expected
    assert [encoding.ids for encoding in from_json.encode_batch(sentences)] == expected


@settings(max_examples=200)
@given(text=bert_text | st.sampled_from(["[MASK] is [UNK]", "Unaffable naïveté!", "中文字符 and ＡＢＣ"]))
def test_real_vocab_on_any_text(bert, text):
    ours, theirs, from_json = bert
    encoding = theirs.encode(text)
    assert ours.tokenize(text) == encoding.tokens[1:-1]
    assert ours.encode(text) == encoding.ids == from_json.encode(text).ids


@settings(max_examples=100)
@given(text=bert_text)
def test_decode_equals_hf(bert, text):
    ours, theirs, _ = bert
    ids = theirs.encode(text).ids
    assert ours.decode(ids) == theirs.decode(ids)
    assert ours.decode(ids, skip_special_tokens=False) == theirs.decode(ids, skip_special_tokens=False)


# ---------------------------------------------------------------- errors
def test_bad_arguments_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="unk_token"):
        WordPieceTokenizer({"a": 0, "[CLS]": 1, "[SEP]": 2})
    with pytest.raises(ValueError, match="path"):
        WordPieceTokenizer.from_vocab(tmp_path / "missing.txt")
    tokenizer = WordPieceTokenizer(small_vocab(["a"]))
    with pytest.raises(TypeError, match="text"):
        tokenizer.tokenize(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ids"):
        tokenizer.decode([99])
