"""Byte-level pieces: GPT-2's byte table, pre-tokenization and decoding, against HF ``ByteLevel``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tokenizers import decoders, pre_tokenizers

from tlcourse.tokenization import byte_level_alphabet, byte_level_pretokenize, bytes_to_unicode, decode_ids

#: Assigned characters of Python's Unicode database (see the report on Unicode versions in test_tokenizer.py).
assigned_text = st.text(st.characters(exclude_categories=["Cn", "Cs"]), max_size=60)
HF_PRE = pre_tokenizers.ByteLevel(add_prefix_space=False)


def test_byte_table_known_entries():
    table = bytes_to_unicode()
    assert len(table) == 256 and len(set(table.values())) == 256
    assert table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ" and table[ord("!")] == "!" and table[0] == "Ā"
    assert table[0xAD] == "Ń"  # the soft hyphen is the last of the 68 shifted bytes: U+0100 + 67


def test_byte_table_equals_hf_alphabet():
    assert sorted(bytes_to_unicode().values()) == sorted(pre_tokenizers.ByteLevel.alphabet())
    assert byte_level_alphabet() == sorted(pre_tokenizers.ByteLevel.alphabet())


def test_byte_table_equals_hf_per_byte():
    # HF maps every single byte through its table; bytes 0x00-0x7F are one-byte UTF-8 characters.
    table = bytes_to_unicode()
    for byte in range(128):
        pieces = [piece for piece, _ in HF_PRE.pre_tokenize_str("a" + chr(byte) + "a")]
        assert "".join(pieces) == "a" + table[byte] + "a"


@pytest.mark.parametrize(
    "text", ["Hello world!  Ünïcode", "it's 2024,\n\n  they'll  go", "日本語 テキスト 🤗🤗", " x\t\ty  ", ""]
)
def test_pretokenize_examples_equal_hf(text):
    assert byte_level_pretokenize(text) == [piece for piece, _ in HF_PRE.pre_tokenize_str(text)]


@given(assigned_text)
def test_pretokenize_equals_hf(text):
    assert byte_level_pretokenize(text) == [piece for piece, _ in HF_PRE.pre_tokenize_str(text)]


@given(assigned_text)
def test_decode_ids_inverts_the_byte_table(text):
    vocab = {char: i for i, char in enumerate(byte_level_alphabet())}
    ids = [vocab[char] for piece in byte_level_pretokenize(text) for char in piece]
    assert decode_ids(ids, vocab) == text


@given(st.lists(st.integers(min_value=0, max_value=255), max_size=30))
def test_decode_ids_of_any_bytes_equals_hf_decoder(ids):
    vocab = {char: i for i, char in enumerate(byte_level_alphabet())}
    id_to_token = {i: char for char, i in vocab.items()}
    expected = decoders.ByteLevel().decode([id_to_token[i] for i in ids])
    assert decode_ids(ids, vocab) == expected


def test_decode_ids_unknown_id_names_the_argument():
    with pytest.raises(ValueError, match="ids"):
        decode_ids([0, 7], {"a": 0})


def test_pretokenize_rejects_bytes():
    with pytest.raises(TypeError, match="text"):
        byte_level_pretokenize(b"abc")  # type: ignore[arg-type]
