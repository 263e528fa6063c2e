"""Word labels onto sub-word tokens and back: what token classification (POS, NER) needs.

A labeled sentence has one tag per *word*; WordPiece splits words into sub-words (``unaffable`` ->
``una ##ffa ##ble``) and adds ``[CLS]`` / ``[SEP]``. The usual rule (the BERT paper's NER setup, and Hugging
Face's token-classification examples) labels the **first sub-word** of each word and gives every other position
-100, which the cross-entropy ignores; predictions go back to words by reading the first sub-word.

- :func:`encode_words`: ids and, for each id, the index of the word it came from (``None`` for special
  tokens) of a pre-split sentence; equal to what HF's fast tokenizers return as ``word_ids()``.
- :func:`align_labels`: word labels -> token labels.
- :func:`word_predictions`: token predictions -> word predictions.

Example:
    >>> word_ids = [None, 0, 1, 1, 1, 2, None]            # [CLS] the una ##ffa ##ble cat [SEP]
    >>> align_labels(word_ids, [5, 0, 7])
    [-100, 5, 0, -100, -100, 7, -100]
    >>> word_predictions([9, 5, 0, 3, 3, 7, 9], word_ids)
    [5, 0, 7]
"""

from __future__ import annotations

from typing import Sequence

from tokenizers import Tokenizer

from tlcourse.checks import reference
from tlcourse.finetuning.plain_tokenizer import check_plain

IGNORE_INDEX = -100


def encode_words(tokenizer: Tokenizer, words: Sequence[str]) -> tuple[list[int], list[int]]:
    """Token ids of a pre-split sentence, without special tokens, and the word index of each id.

    Each word is encoded on its own (as ``is_pretokenized=True`` does), so no sub-word crosses a word boundary;
    a word that normalises to nothing gives no ids (its label is then lost, as with HF). The tokenizer must not
    pad or truncate (see :func:`~tlcourse.finetuning.plain_tokenizer.plain_tokenizer`).

    Example:
        >>> from tlcourse.finetuning.plain_tokenizer import load_tokenizer
        >>> from tlcourse.pretrained import minilm_dir
        >>> tok = load_tokenizer(minilm_dir() / "tokenizer.json")
        >>> encode_words(tok, ["Anna", "unaffable"])
        ([4698, 14477, 20961, 3468], [0, 1, 1, 1])
    """
    check_plain(tokenizer)
    if isinstance(words, str) or not all(isinstance(w, str) for w in words):
        raise TypeError(f"words: expected a list of str (one sentence, split into words), got {words!r:.80}")
    encodings = tokenizer.encode_batch(list(words), add_special_tokens=False) if words else []
    ids, word_ids = [], []
    for index, encoding in enumerate(encodings):
        ids += encoding.ids
        word_ids += [index] * len(encoding.ids)
    return ids, word_ids


@reference
def align_labels(word_ids: list[int | None], word_labels: list[int]) -> list[int]:
    """One label per token: the word's label on its first sub-word, -100 on the other sub-words and on special
    tokens (``word_id is None``).

    Shapes:
        word_ids: T entries (None or a word index, non-decreasing); word_labels: one per word -> T labels.

    Example:
        >>> align_labels([None, 0, 0, 1, None], [3, 4])
        [-100, 3, -100, 4, -100]
    """
    if not isinstance(word_labels, (list, tuple)):
        raise TypeError(f"word_labels: expected a list of int, got {type(word_labels).__name__}")
    labels, previous = [], None
    for word_id in word_ids:
        if word_id is None:
            labels.append(IGNORE_INDEX)
            continue
        if not 0 <= word_id < len(word_labels):
            raise ValueError(f"word_ids: expected word indices below len(word_labels)={len(word_labels)}, "
                             f"got {word_id}")
        labels.append(word_labels[word_id] if word_id != previous else IGNORE_INDEX)
        previous = word_id
    return labels


def word_predictions(token_predictions: Sequence[int], word_ids: Sequence[int | None]) -> list[int]:
    """Each word's prediction, read at its first sub-word; words cut off by truncation get none.

    Shapes:
        token_predictions, word_ids: T entries -> one prediction per word that has a token.
    """
    if len(token_predictions) != len(word_ids):
        raise ValueError(f"token_predictions: expected one per token ({len(word_ids)}), got {len(token_predictions)}")
    predictions, previous = [], None
    for prediction, word_id in zip(token_predictions, word_ids):
        if word_id is not None and word_id != previous:
            predictions.append(int(prediction))
        if word_id is not None:
            previous = word_id
    return predictions
