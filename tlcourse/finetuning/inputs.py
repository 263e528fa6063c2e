"""Model inputs for fine-tuning: one text or a pair as ``[CLS] A [SEP] B [SEP]``, truncated, padded, batched.

- :func:`pair_input` builds one input from token ids: ``[CLS] A [SEP]`` (token types 0) and, for a pair,
  ``B [SEP]`` (token types 1), after cutting the pair to ``max_length`` with :func:`truncate_longest_first`,
  the rule of HF ``tokenizers`` (``TruncationStrategy::LongestFirst``): the shorter sequence keeps its tokens
  when it fits in half the budget, the longer takes the rest; otherwise each gets half (the second the odd one).
- :class:`SequenceCollator` turns a list of labeled texts or pairs (``.text`` or ``.premise`` / ``.hypothesis``,
  and ``.label``) into a padded batch; :class:`TokenCollator` does the same for tagged sentences (``.tokens``,
  ``.tags``), aligning tags to sub-words (:mod:`~tlcourse.finetuning.alignment`). Both equal what a
  transformers tokenizer returns for ``tokenizer(a, b, truncation=True, max_length=..., padding=True)``.

Example:
    >>> pair_input([7, 8, 9, 10], [20, 21], cls_id=2, sep_id=3, max_length=7)
    ([2, 7, 8, 3, 20, 21, 3], [0, 0, 0, 0, 1, 1, 1])
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from tokenizers import Tokenizer
from torch import Tensor

from tlcourse.checks import reference
from tlcourse.finetuning.alignment import align_labels, encode_words
from tlcourse.finetuning.plain_tokenizer import plain_tokenizer
from tlcourse.pretraining.collator import pad_sequences
from tlcourse.pretraining.nsp import bert_inputs


def _special_id(tokenizer: Tokenizer, token: str) -> int:
    token_id = tokenizer.token_to_id(token)
    if token_id is None:
        raise ValueError(f"tokenizer: expected a BERT vocabulary with {token}, got one without it")
    return token_id


def truncate_longest_first(a_ids: list[int], b_ids: list[int] | None, max_tokens: int
                           ) -> tuple[list[int], list[int] | None]:
    """Cut a pair to at most ``max_tokens`` tokens in all, as HF ``tokenizers`` does; a single sequence is cut at
    the end.

    Example:
        >>> truncate_longest_first([1] * 10, [2] * 2, 7)   # the short one fits in half: kept whole
        ([1, 1, 1, 1, 1], [2, 2])
        >>> truncate_longest_first([1] * 6, [2] * 6, 7)    # both long: 3 and 4
        ([1, 1, 1], [2, 2, 2, 2])
    """
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0:
        raise ValueError(f"max_tokens: expected an int >= 0, got {max_tokens!r}")
    if b_ids is None:
        return list(a_ids[:max_tokens]), None
    n1, n2 = len(a_ids), len(b_ids)
    if n1 + n2 <= max_tokens:
        return list(a_ids), list(b_ids)
    short, long = sorted((n1, n2))
    if 2 * short <= max_tokens:
        short_keep, long_keep = short, max_tokens - short
    else:
        short_keep, long_keep = max_tokens // 2, max_tokens // 2 + max_tokens % 2
    keep_a, keep_b = (long_keep, short_keep) if n1 > n2 else (short_keep, long_keep)
    return list(a_ids[:keep_a]), list(b_ids[:keep_b])


@reference
def pair_input(a_ids: list[int], b_ids: list[int] | None, *, cls_id: int, sep_id: int, max_length: int
               ) -> tuple[list[int], list[int]]:
    """``[CLS] A [SEP] B [SEP]`` and its token type ids, at most ``max_length`` tokens; ``b_ids=None`` gives
    ``[CLS] A [SEP]``. The pair is cut by :func:`truncate_longest_first` to leave room for the special tokens.

    Shapes:
        a_ids: n ids, b_ids: m ids or None -> (input_ids, token_type_ids), two lists of equal length
        <= max_length.

    Example:
        >>> pair_input([7, 8, 9], None, cls_id=2, sep_id=3, max_length=4)
        ([2, 7, 8, 3], [0, 0, 0, 0])
    """
    n_special = 2 if b_ids is None else 3
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < n_special:
        raise ValueError(f"max_length: expected an int >= {n_special} (room for the special tokens), "
                         f"got {max_length!r}")
    a_ids, b_ids = truncate_longest_first(list(a_ids), None if b_ids is None else list(b_ids),
                                          max_length - n_special)
    if b_ids is None:
        return [cls_id, *a_ids, sep_id], [0] * (len(a_ids) + 2)
    return bert_inputs(a_ids, b_ids, cls_id=cls_id, sep_id=sep_id)


def _batch(inputs: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, Tensor]:
    """Right-padded ``input_ids``, ``token_type_ids`` (pad 0) and ``attention_mask`` of (ids, types) pairs."""
    ids = pad_sequences([i for i, _ in inputs], value=pad_id)  # (B, T)
    return {
        "input_ids": ids,
        "token_type_ids": pad_sequences([t for _, t in inputs], value=0),  # (B, T)
        "attention_mask": pad_sequences([[1] * len(i) for i, _ in inputs], value=0),  # (B, T)
    }


class SequenceCollator:
    """``collate_fn`` for sequence classification: examples with ``.text`` (one input) or ``.premise`` and
    ``.hypothesis`` (a pair), and an integer ``.label``.

    Shapes:
        returns input_ids, token_type_ids, attention_mask (B, T) and labels (B,), T <= max_length.
    """

    def __init__(self, tokenizer: Tokenizer, max_length: int = 128):
        self.tokenizer = plain_tokenizer(tokenizer)
        self.max_length = max_length
        self.cls_id, self.sep_id = _special_id(self.tokenizer, "[CLS]"), _special_id(self.tokenizer, "[SEP]")
        self.pad_id = _special_id(self.tokenizer, "[PAD]")

    def encode(self, examples: Sequence[Any]) -> dict[str, Tensor]:
        """The padded inputs of the examples (no labels)."""
        if not examples:
            raise ValueError("examples: expected at least one example, got none")
        is_pair = hasattr(examples[0], "premise")
        firsts = [e.premise if is_pair else e.text for e in examples]
        a = [enc.ids for enc in self.tokenizer.encode_batch(firsts, add_special_tokens=False)]
        b = ([enc.ids for enc in self.tokenizer.encode_batch([e.hypothesis for e in examples],
                                                              add_special_tokens=False)]
             if is_pair else [None] * len(a))
        inputs = [pair_input(x, y, cls_id=self.cls_id, sep_id=self.sep_id, max_length=self.max_length)
                  for x, y in zip(a, b)]
        return _batch(inputs, self.pad_id)

    def __call__(self, examples: Sequence[Any]) -> dict[str, Tensor]:
        batch = self.encode(examples)
        batch["labels"] = torch.tensor([e.label for e in examples], dtype=torch.long)  # (B,)
        return batch


class TokenCollator:
    """``collate_fn`` for token classification: examples with ``.tokens`` (words) and ``.tags`` (names in
    ``labels``). Tags go to the first sub-word of each word; -100 elsewhere.

    Shapes:
        returns input_ids, token_type_ids, attention_mask, labels (B, T), T <= max_length; :meth:`encode` also
        gives ``word_ids``, B lists of T entries (None for special tokens and padding), to read predictions back
        per word (:func:`~tlcourse.finetuning.alignment.word_predictions`).
    """

    def __init__(self, tokenizer: Tokenizer, labels: Sequence[str], max_length: int = 128):
        self.sequences = SequenceCollator(tokenizer, max_length)
        self.label_ids = {label: i for i, label in enumerate(labels)}

    def encode(self, examples: Sequence[Any]) -> tuple[dict[str, Tensor], list[list[int | None]]]:
        """The batch and each example's word ids."""
        s = self.sequences
        inputs, word_ids, labels = [], [], []
        for example in examples:
            unknown = [tag for tag in example.tags if tag not in self.label_ids]
            if unknown:
                raise ValueError(f"examples: expected tags among {sorted(self.label_ids)}, got {unknown[0]!r}")
            ids, words = encode_words(s.tokenizer, example.tokens)
            input_ids, types = pair_input(ids, None, cls_id=s.cls_id, sep_id=s.sep_id, max_length=s.max_length)
            ids_of_words = [None, *words[: len(input_ids) - 2], None]
            inputs.append((input_ids, types))
            word_ids.append(ids_of_words)
            labels.append(align_labels(ids_of_words, [self.label_ids[t] for t in example.tags]))
        batch = _batch(inputs, s.pad_id)
        batch["labels"] = pad_sequences(labels, value=-100)  # (B, T)
        T = batch["input_ids"].shape[1]
        return batch, [w + [None] * (T - len(w)) for w in word_ids]

    def __call__(self, examples: Sequence[Any]) -> dict[str, Tensor]:
        return self.encode(examples)[0]
