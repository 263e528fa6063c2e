"""Hugging Face ``tokenizers``, set up as the oracle the tests compare against (never our own output)."""

from __future__ import annotations

import json
from typing import Iterable, Sequence

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers


def hf_train(
    texts: Iterable[str],
    vocab_size: int,
    *,
    min_frequency: int = 0,
    special_tokens: Sequence[str] = (),
    byte_level: bool = True,
) -> Tokenizer:
    """A BPE tokenizer trained by HF: ByteLevel(add_prefix_space=False) + the 256-byte alphabet, or Whitespace."""
    tokenizer = Tokenizer(models.BPE())
    if byte_level:
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    else:
        tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
        alphabet = []
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(special_tokens),
        initial_alphabet=alphabet,
        show_progress=False,
    )
    tokenizer.train_from_iterator(list(texts), trainer)
    return tokenizer


def hf_train_words(word_counts: dict[str, int], vocab_size: int, **options) -> tuple[dict[str, int], list]:
    """HF's (vocab, merges) for word counts: each word repeated ``count`` times, split on whitespace only."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False, **options)
    tokenizer.train_from_iterator([" ".join([word] * count) for word, count in word_counts.items()], trainer)
    return model_parts(tokenizer)


def model_parts(tokenizer: Tokenizer) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """(vocab, merges) of a HF BPE tokenizer, read from its JSON."""
    model = json.loads(tokenizer.to_str())["model"]
    return model["vocab"], [tuple(merge) for merge in model["merges"]]
