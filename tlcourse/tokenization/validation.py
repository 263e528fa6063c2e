"""Argument checks shared by the BPE trainers: each error names the argument, what was expected and what came."""

from __future__ import annotations

from typing import Any, Mapping, Sequence


def type_name(value: Any) -> str:
    """The name of ``value``'s type, for error messages."""
    return type(value).__name__


def check_int(name: str, value: Any, minimum: int) -> None:
    """Raise TypeError unless ``value`` is an int (not a bool), ValueError if it is below ``minimum``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name}: expected an int, got {type_name(value)}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")


def check_strings(name: str, values: Any) -> None:
    """Raise TypeError unless ``values`` is a list or tuple of strings (a single string is refused)."""
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise TypeError(f"{name}: expected a sequence of str, got {type_name(values)}")
    for value in values:
        if not isinstance(value, str):
            raise TypeError(f"{name}: expected a sequence of str, got an item of type {type_name(value)}")


def check_training_args(
    word_counts: Any, vocab_size: Any, min_frequency: Any, special_tokens: Any, initial_alphabet: Sequence[Any]
) -> None:
    """Check the arguments of ``train_bpe`` / ``train_bpe_fast``."""
    if not isinstance(word_counts, Mapping):
        raise TypeError(f"word_counts: expected a dict of str to int, got {type_name(word_counts)}")
    for word, count in word_counts.items():
        if not isinstance(word, str):
            raise TypeError(f"word_counts: expected str keys, got a key of type {type_name(word)}")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError(f"word_counts: expected int counts >= 0, got {count!r} for {word!r}")
    check_int("vocab_size", vocab_size, 0)
    check_int("min_frequency", min_frequency, 0)
    check_strings("special_tokens", special_tokens)
    for char in initial_alphabet:
        if not isinstance(char, str) or len(char) != 1:
            raise ValueError(f"initial_alphabet: expected single characters, got {char!r}")
