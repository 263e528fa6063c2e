"""BERT's text clean-up and word splitting: HF ``BertNormalizer`` followed by ``BertPreTokenizer``.

Normalizer (``normalizers/bert.rs``), in this order:

1. clean text: drop NUL, U+FFFD and control characters (categories Cc, Cf, Co, Cs, except tab, newline and
   carriage return); turn every whitespace character into a space;
2. put spaces around CJK ideographs, so that each one becomes its own word;
3. strip accents (when lowercasing, as BERT uncased): NFD, then drop non-spacing marks (Mn);
4. lowercase.

Pre-tokenizer: split on whitespace, and make every punctuation character (ASCII punctuation or a Unicode
``P*`` category) a word of its own.
"""

from __future__ import annotations

import unicodedata

#: Unicode's White_Space property (Rust's ``char::is_whitespace``); Python's ``str.isspace`` differs slightly.
_WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs"})
_ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B920, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def is_whitespace(char: str) -> bool:
    """True for Unicode White_Space characters."""
    return char in _WHITESPACE


def is_control(char: str) -> bool:
    """True for characters BERT removes: "other" categories, except tab, newline and carriage return."""
    return char not in "\t\n\r" and unicodedata.category(char) in _CONTROL_CATEGORIES


def is_punctuation(char: str) -> bool:
    """True for ASCII punctuation (which includes ``$+<=>^`|~``) and Unicode punctuation categories."""
    return char in _ASCII_PUNCTUATION or unicodedata.category(char).startswith("P")


def is_cjk(char: str) -> bool:
    """True for the CJK ideograph blocks that BERT splits into single characters."""
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK_RANGES)


def bert_normalize(text: str, lowercase: bool = True) -> str:
    """Clean ``text`` like HF ``BertNormalizer(clean_text=True, handle_chinese_chars=True, lowercase=lowercase)``.

    Accents are stripped when lowercasing (``strip_accents=None`` follows ``lowercase``).

    Example:
        >>> bert_normalize("Héllo\\tWÖRLD\\x00 中文")
        'hello world  中  文 '
    """
    chars = []
    for char in text:
        if char in "\x00\ufffd" or is_control(char):
            continue
        if is_whitespace(char):
            chars.append(" ")
        elif is_cjk(char):
            chars.append(f" {char} ")
        else:
            chars.append(char)
    text = "".join(chars)
    if lowercase:
        text = "".join(char for char in unicodedata.normalize("NFD", text) if unicodedata.category(char) != "Mn")
        text = text.lower()
    return text


def bert_pretokenize(text: str, lowercase: bool = True) -> list[str]:
    """Normalize ``text`` as BERT does, then split it into words and single punctuation characters.

    Shapes:
        text: string; returns: list of words (no whitespace inside).

    Example:
        >>> bert_pretokenize("Don't panic, Zoë!")
        ['don', "'", 't', 'panic', ',', 'zoe', '!']
    """
    if not isinstance(text, str):
        raise TypeError(f"text: expected str, got {type(text).__name__}")
    words: list[str] = []
    current: list[str] = []
    for char in bert_normalize(text, lowercase):
        if is_whitespace(char) or is_punctuation(char):
            if current:
                words.append("".join(current))
                current = []
            if not is_whitespace(char):
                words.append(char)
        else:
            current.append(char)
    if current:
        words.append("".join(current))
    return words
