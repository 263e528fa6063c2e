"""Byte-level BPE (GPT-2): every text becomes UTF-8 bytes, and every byte a printable character.

With 256 byte symbols in the alphabet no input is ever unknown. GPT-2 maps each byte to a visible Unicode
character (a space becomes ``Ġ``, a newline ``Ċ``) so that tokens stay readable strings; Hugging Face's
``ByteLevel`` pre-tokenizer and decoder use the same table (docs/reference-semantics.md, "Byte-level alphabet").
"""

from __future__ import annotations

import functools
from typing import Sequence

import regex

from tlcourse.checks import reference

#: GPT-2's pre-tokenization pattern: contractions, letters, numbers, other symbols, whitespace.
GPT2_SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
_GPT2_SPLIT = regex.compile(GPT2_SPLIT_PATTERN)


@functools.lru_cache(maxsize=1)
def _byte_table() -> tuple[str, ...]:
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {byte: chr(byte) for byte in printable}
    shifted = 0
    for byte in range(256):
        if byte not in table:
            table[byte] = chr(256 + shifted)
            shifted += 1
    return tuple(table[byte] for byte in range(256))


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table from each byte value to a printable character.

    Bytes ``!``..``~``, ``¡``..``¬`` and ``®``..``ÿ`` map to themselves; the 68 others map to ``chr(256 + n)``
    in increasing byte order.

    Example:
        >>> table = bytes_to_unicode()
        >>> table[ord(" ")], table[ord("\\n")], table[ord("a")], len(set(table.values()))
        ('Ġ', 'Ċ', 'a', 256)
    """
    return dict(enumerate(_byte_table()))


@functools.lru_cache(maxsize=1)
def _unicode_to_bytes() -> dict[str, int]:
    return {char: byte for byte, char in enumerate(_byte_table())}


def byte_level_alphabet() -> list[str]:
    """The 256 byte characters, the initial alphabet of byte-level BPE (HF ``ByteLevel.alphabet()``)."""
    return sorted(_byte_table())


def to_byte_chars(text: str) -> str:
    """``text``'s UTF-8 bytes, each written as its byte character.

    Example:
        >>> to_byte_chars("é !")
        'Ã©Ġ!'
    """
    table = _byte_table()
    return "".join(table[byte] for byte in text.encode("utf-8"))


def byte_level_pretokenize(text: str) -> list[str]:
    """Split ``text`` with GPT-2's pattern and write each piece in byte characters.

    Equals Hugging Face's ``ByteLevel(add_prefix_space=False).pre_tokenize_str(text)`` strings.

    Shapes:
        text: string; returns: list of pieces whose concatenation is ``to_byte_chars(text)``.

    Example:
        >>> byte_level_pretokenize("Hello world!  Ünïcode")
        ['Hello', 'Ġworld', '!', 'Ġ', 'ĠÃľnÃ¯code']
    """
    return [to_byte_chars(piece) for piece in gpt2_split(text)]


def gpt2_split(text: str) -> list[str]:
    """Split ``text`` with GPT-2's pattern, without the byte mapping.

    Example:
        >>> gpt2_split("it's  2 cats")
        ['it', "'s", ' ', ' 2', ' cats']
    """
    if not isinstance(text, str):
        raise TypeError(f"text: expected str, got {type(text).__name__}")
    return _GPT2_SPLIT.findall(text)


def byte_level_decode(tokens: Sequence[str]) -> str:
    """Join byte-level tokens into text, like Hugging Face's ``ByteLevel`` decoder.

    Each token's characters map back to bytes; a token with a character outside the byte table (a special
    token such as ``"<my token>"`` written with a space) contributes its own UTF-8 bytes. Invalid UTF-8 becomes
    ``"\\ufffd"``.

    Example:
        >>> byte_level_decode(["Hello", "Ġw", "orld", "Ã"])
        'Hello world\\ufffd'
    """
    to_byte = _unicode_to_bytes()
    data = bytearray()
    for token in tokens:
        if all(char in to_byte for char in token):
            data.extend(to_byte[char] for char in token)
        else:
            data.extend(token.encode("utf-8"))
    return data.decode("utf-8", errors="replace")


@reference
def decode_ids(ids: Sequence[int], vocab: dict[str, int]) -> str:
    """Turn byte-level token ids back into text.

    Invert the vocabulary, look up each id, concatenate the token strings, map each character back to its
    byte and decode the bytes as UTF-8 (invalid sequences become ``"\\ufffd"``).

    Shapes:
        ids: sequence of n ints; vocab: {token: id}; returns: string.

    Example:
        >>> decode_ids([0, 2, 1], {"hi": 0, "!": 1, "Ġthere": 2})
        'hi there!'
    """
    id_to_token = {token_id: token for token, token_id in vocab.items()}
    tokens = []
    for token_id in ids:
        if token_id not in id_to_token:
            raise ValueError(f"ids: expected ids from the vocabulary (0..{len(vocab) - 1}), got {token_id!r}")
        tokens.append(id_to_token[token_id])
    return byte_level_decode(tokens)
