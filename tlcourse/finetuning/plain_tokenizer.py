"""Tokenizers as the fine-tuning collators need them: neither padding nor truncating on their own.

A ``tokenizer.json`` may switch both on (all-MiniLM-L6-v2's pads every input to 128 tokens); the collators of
:mod:`tlcourse.finetuning.inputs` truncate and pad themselves, so they work on a plain copy.

Example:
    >>> from tlcourse.pretrained import minilm_dir
    >>> tok = load_tokenizer(minilm_dir() / "tokenizer.json")
    >>> tok.padding, tok.truncation, tok.encode("Hello there").tokens
    (None, None, ['[CLS]', 'hello', 'there', '[SEP]'])
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer


def plain_tokenizer(tokenizer: Tokenizer) -> Tokenizer:
    """A copy of ``tokenizer`` that neither pads nor truncates (a ``tokenizer.json`` may switch both on, as
    all-MiniLM-L6-v2's does: padding to 128); the collators here pad and truncate themselves."""
    if not isinstance(tokenizer, Tokenizer):
        raise TypeError(f"tokenizer: expected a tokenizers.Tokenizer, got {type(tokenizer).__name__}")
    copy = Tokenizer.from_str(tokenizer.to_str())
    copy.no_padding()
    copy.no_truncation()
    return copy


def load_tokenizer(path: str | Path) -> Tokenizer:
    """A ``tokenizer.json`` file as a :func:`plain_tokenizer`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: expected a tokenizer.json file, got {str(path)!r}, which does not exist")
    return plain_tokenizer(Tokenizer.from_file(str(path)))


def check_plain(tokenizer: Tokenizer) -> None:
    """Raise unless ``tokenizer`` is a ``tokenizers.Tokenizer`` that neither pads nor truncates."""
    if not isinstance(tokenizer, Tokenizer):
        raise TypeError(f"tokenizer: expected a tokenizers.Tokenizer, got {type(tokenizer).__name__}")
    if tokenizer.padding is not None or tokenizer.truncation is not None:
        raise ValueError("tokenizer: expected one that neither pads nor truncates, got one with "
                         f"padding={tokenizer.padding} truncation={tokenizer.truncation}; use plain_tokenizer()")
