"""Byte-pair encoding, the readable way: count pairs, merge the most frequent one, repeat.

This is the algorithm of the lecture, written to be read. It equals Hugging Face ``tokenizers``' ``BpeTrainer``
and ``BPE`` model at the level of pre-tokenized words (docs/reference-semantics.md, "Tokenizers: BPE training" and
"Tokenizers: BPE encoding"):

* training works on unique words weighted by their counts, and pairs never cross words;
* the most frequent pair wins; ties go to the smallest pair of token *ids* (specials, then the alphabet sorted
  by code point, then merged tokens in creation order), which is not string order;
* encoding applies merges by rank: the lowest-rank pair first and, among equal ranks, the leftmost one.

:mod:`tlcourse.tokenization.bpe_fast` trains the same merges incrementally, for real corpora.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from tlcourse.checks import reference
from tlcourse.tokenization.validation import check_training_args


@reference
def count_pairs(words: dict[tuple[str, ...], int]) -> dict[tuple[str, str], int]:
    """Count every adjacent pair of symbols, weighted by how often its word occurs.

    Pairs overlap (``("a", "a", "a")`` holds ``("a", "a")`` twice) and never cross from one word to the next.

    Shapes:
        words: {symbols of one word (tuple of n strings): count}
        returns: {(left, right): total count}

    Example:
        >>> count_pairs({("a", "a", "a"): 2, ("a", "b"): 1})
        {('a', 'a'): 4, ('a', 'b'): 1}
    """
    counts: dict[tuple[str, str], int] = {}
    for symbols, count in words.items():
        for pair in zip(symbols, symbols[1:]):
            counts[pair] = counts.get(pair, 0) + count
    return counts


@reference
def merge_pair(symbols: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    """Replace each occurrence of ``pair`` by one symbol, scanning left to right without overlaps.

    Shapes:
        symbols: tuple of n strings; returns: tuple of m <= n strings.

    Example:
        >>> merge_pair(("a", "a", "a"), ("a", "a"))
        ('aa', 'a')
    """
    merged: list[str] = []
    i = 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            merged.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            merged.append(symbols[i])
            i += 1
    return tuple(merged)


def initial_vocab(
    words: Iterable[Iterable[str]], special_tokens: Sequence[str] = (), initial_alphabet: Iterable[str] = ()
) -> dict[str, int]:
    """The vocabulary before any merge: special tokens in order, then the alphabet sorted by code point.

    The alphabet is every character of the words plus ``initial_alphabet``; a character that is also a
    special token keeps the special token's id.

    Example:
        >>> initial_vocab(["hug", "pug"], special_tokens=["<s>"])
        {'<s>': 0, 'g': 1, 'h': 2, 'p': 3, 'u': 4}
    """
    vocab: dict[str, int] = {}
    for token in special_tokens:
        vocab.setdefault(token, len(vocab))
    alphabet = {char for word in words for char in word}.union(initial_alphabet)
    for char in sorted(alphabet):
        vocab.setdefault(char, len(vocab))
    return vocab


@reference
def train_bpe(
    word_counts: dict[str, int],
    vocab_size: int,
    *,
    min_frequency: int = 0,
    special_tokens: Sequence[str] = (),
    initial_alphabet: Iterable[str] = (),
) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Learn BPE merges from word counts, exactly as Hugging Face's ``BpeTrainer`` does.

    Each step counts all pairs, picks the most frequent one (ties: the smallest pair of token ids), stops if
    its count is below ``min_frequency`` (or no pair is left), and merges it in every word. The new token is
    ``left + right``; if that string is already in the vocabulary its id is reused (the merge still counts).
    Training stops when the vocabulary has ``vocab_size`` tokens, specials and alphabet included.

    Shapes:
        word_counts: {word: count}; returns: (vocab {token: id} with len <= vocab_size,
        merges [(left, right)] in the order they were learned).

    Example:
        >>> vocab, merges = train_bpe({"ab": 3, "cd": 2, "e": 1}, vocab_size=100, min_frequency=3)
        >>> merges
        [('a', 'b')]
        >>> vocab
        {'a': 0, 'b': 1, 'c': 2, 'd': 3, 'e': 4, 'ab': 5}
    """
    initial_alphabet = list(initial_alphabet)
    check_training_args(word_counts, vocab_size, min_frequency, special_tokens, initial_alphabet)
    words = {tuple(word): count for word, count in word_counts.items() if count > 0}
    vocab = initial_vocab(words, special_tokens, initial_alphabet)
    merges: list[tuple[str, str]] = []
    while len(vocab) < vocab_size:
        pair_counts = count_pairs(words)
        if not pair_counts:
            break
        best = min(pair_counts, key=lambda pair: (-pair_counts[pair], vocab[pair[0]], vocab[pair[1]]))
        if pair_counts[best] < min_frequency:
            break
        merges.append(best)
        vocab.setdefault(best[0] + best[1], len(vocab))
        words = {merge_pair(symbols, best): count for symbols, count in words.items()}
    return vocab, merges


def apply_merges(symbols: Sequence[str], ranks: Mapping[tuple[str, str], int]) -> list[str]:
    """Merge adjacent symbols by rank: the lowest-rank pair first, the leftmost one among equal ranks.

    This is the rule of Hugging Face's ``BPE`` model (its priority queue is keyed by (rank, position)).
    ``ranks`` maps a pair to its index in the merge list.

    Example:
        >>> apply_merges(list("aaaaa"), {("a", "a"): 0})
        ['aa', 'aa', 'a']
    """
    symbols = list(symbols)
    while len(symbols) > 1:
        candidates = [(ranks[pair], pos) for pos, pair in enumerate(zip(symbols, symbols[1:])) if pair in ranks]
        if not candidates:
            break
        _, best_pos = min(candidates)
        symbols[best_pos : best_pos + 2] = [symbols[best_pos] + symbols[best_pos + 1]]
    return symbols


@reference
def encode_word(word: str, merges: Sequence[tuple[str, str]]) -> list[str]:
    """Split one pre-tokenized word into characters and apply the merges by rank (see :func:`apply_merges`).

    Characters that no merge covers stay single characters, known or not.

    Shapes:
        word: string of n chars; merges: list of (left, right); returns: list of m <= n tokens whose
        concatenation is ``word``.

    Example:
        >>> encode_word("abc", [("b", "c"), ("a", "b")])
        ['a', 'bc']
        >>> encode_word("aaaaa", [("a", "a")])
        ['aa', 'aa', 'a']
    """
    ranks = {(left, right): rank for rank, (left, right) in enumerate(merges)}  # a repeated pair keeps its last rank
    return apply_merges(list(word), ranks)
