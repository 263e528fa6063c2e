"""Byte-pair encoding training, the fast way: incremental pair counts and a lazy max-heap.

:func:`tlcourse.tokenization.bpe.train_bpe` recounts every pair of every word at every step. That is the
algorithm, but each step costs a pass over the corpus. Here, as in Hugging Face's ``BpeTrainer``
(``models/bpe/trainer.rs``), a merge only touches the words that contain its pair:

* symbols are integer ids and a pair ``(left, right)`` is the single int ``left * stride + right``, so that
  pair keys are cheap to hash and sort in the same order as the id pairs (the tie-break of
  docs/reference-semantics.md, "Tokenizers: BPE training");
* ``pair_counts`` is kept up to date by the changes each merge makes around the merged occurrences;
* the heap holds ``(-count, pair, serial, words)`` entries: the most frequent pair first, ties by smallest id
  pair. An entry whose count went stale is pushed back with the current count when it comes to the top (lazy
  invalidation), and every entry carries the set of words where its pair appeared since it was pushed, so a
  merge visits only those words.

This mirrors HF's bookkeeping step for step, including its quirks (the count of a merged pair is not reset,
and a pair can have several heap entries when a merge recreates a token that already exists), so the merges
are HF's.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from typing import Iterable, Sequence

from tlcourse.tokenization.bpe import initial_vocab
from tlcourse.tokenization.validation import check_training_args

#: Above this many merges, ``show_progress=None`` shows a progress bar.
PROGRESS_THRESHOLD = 5_000


def _count_pairs(
    words: list[list[int]], counts: list[int], stride: int
) -> tuple[defaultdict[int, int], dict[int, set[int]]]:
    """Weighted pair counts and, for every pair, the set of word indices that contain it."""
    pair_counts: defaultdict[int, int] = defaultdict(int)
    where: dict[int, set[int]] = {}
    for index, (word, count) in enumerate(zip(words, counts)):
        for left, right in zip(word, word[1:]):
            key = left * stride + right
            pair_counts[key] += count
            if key in where:
                where[key].add(index)
            else:
                where[key] = {index}
    return pair_counts, where


def _progress_bar(total: int, show_progress: bool | None):
    """A ``tqdm.auto`` bar over the merges, or None when progress is off (or small, for ``None``)."""
    if show_progress is False or (show_progress is None and total < PROGRESS_THRESHOLD):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="BPE merges", unit="merge")


def train_bpe_fast(
    word_counts: dict[str, int],
    vocab_size: int,
    *,
    min_frequency: int = 0,
    special_tokens: Sequence[str] = (),
    initial_alphabet: Iterable[str] = (),
    show_progress: bool | None = False,
) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Learn the same vocabulary and merges as :func:`~tlcourse.tokenization.bpe.train_bpe`, incrementally.

    ``show_progress``: True shows a ``tqdm`` bar over the merges, None shows one for long trainings only.

    Shapes:
        word_counts: {word: count}; returns: (vocab {token: id}, merges [(left, right)]).

    Example:
        >>> vocab, merges = train_bpe_fast({"aaaa": 2, "ab": 1}, vocab_size=4)
        >>> merges
        [('a', 'a'), ('aa', 'aa')]
    """
    initial_alphabet = list(initial_alphabet)
    check_training_args(word_counts, vocab_size, min_frequency, special_tokens, initial_alphabet)
    counted = [(word, count) for word, count in word_counts.items() if count > 0]
    vocab = initial_vocab((word for word, _ in counted), special_tokens, initial_alphabet)
    tokens = list(vocab)  # id -> token string (ids are dense, in insertion order)
    words = [[vocab[char] for char in word] for word, _ in counted]
    counts = [count for _, count in counted]
    stride = max(vocab_size, len(vocab))  # every id stays below it, so left * stride + right orders like (left, right)

    pair_counts, where = _count_pairs(words, counts, stride)
    heap = [(-pair_counts[key], key, serial, pos) for serial, (key, pos) in enumerate(where.items())]
    heapq.heapify(heap)
    serial = len(heap)
    merges: list[tuple[str, str]] = []
    bar = _progress_bar(vocab_size - len(vocab), show_progress)

    while len(vocab) < vocab_size and heap:
        neg_count, key, entry, pos = heapq.heappop(heap)
        count = pair_counts[key]
        if -neg_count != count:  # stale: back in the queue with the current count
            heapq.heappush(heap, (-count, key, entry, pos))
            continue
        if count < 1 or count < min_frequency:
            break
        left, right = divmod(key, stride)
        new_id = vocab.setdefault(tokens[left] + tokens[right], len(tokens))
        if new_id == len(tokens):
            tokens.append(tokens[left] + tokens[right])
            if bar is not None:
                bar.update(1)
        merges.append((tokens[left], tokens[right]))

        gained: dict[int, set[int]] = {}  # pairs that gained occurrences -> the words where they did
        for index in pos:
            word = words[index]
            weight = counts[index]
            i = 0
            while True:
                try:
                    i = word.index(left, i)
                except ValueError:
                    break
                if i + 1 < len(word) and word[i + 1] == right:
                    if i > 0:
                        before = word[i - 1]
                        pair_counts[before * stride + left] -= weight
                        gained_key = before * stride + new_id
                        pair_counts[gained_key] += weight
                        gained.setdefault(gained_key, set()).add(index)
                    word[i] = new_id
                    del word[i + 1]
                    if i + 1 < len(word):
                        after = word[i + 1]
                        pair_counts[right * stride + after] -= weight
                        gained_key = new_id * stride + after
                        pair_counts[gained_key] += weight
                        gained.setdefault(gained_key, set()).add(index)
                i += 1
        for gained_key, gained_pos in gained.items():
            if pair_counts[gained_key] > 0:
                heapq.heappush(heap, (-pair_counts[gained_key], gained_key, serial, gained_pos))
                serial += 1

    if bar is not None:
        bar.close()
    return vocab, merges
