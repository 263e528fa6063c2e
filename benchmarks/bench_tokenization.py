"""BPE training: tlcourse (readable and fast) side by side with Hugging Face ``tokenizers``.

Run ``python benchmarks/bench_tokenization.py``. Every row is measured in this run, on Python standard-library
docstrings (``tlcourse.corpora.python_docs``), byte-level BPE with the 256-byte alphabet; each of our rows
asserts that its merges equal HF's on the same text. Times include pre-tokenization and word counting.
"""

from __future__ import annotations

import argparse
import json
import time

from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from tlcourse.corpora import python_docs
from tlcourse.tokenization import BPETokenizer


def hf_train(texts: list[str], vocab_size: int) -> tuple[float, list[tuple[str, str]]]:
    """Seconds HF takes to train, and its merges."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    start = time.perf_counter()
    tokenizer.train_from_iterator(texts, trainer)
    seconds = time.perf_counter() - start
    return seconds, [tuple(merge) for merge in json.loads(tokenizer.to_str())["model"]["merges"]]


def ours_train(texts: list[str], vocab_size: int, algorithm: str) -> tuple[float, list[tuple[str, str]]]:
    """Seconds our tokenizer takes to train, and its merges."""
    start = time.perf_counter()
    tokenizer = BPETokenizer.train(texts, vocab_size, algorithm=algorithm)
    return time.perf_counter() - start, tokenizer.merges


def best_of(repeats: int, train, *args) -> tuple[float, list[tuple[str, str]]]:
    """The fastest of ``repeats`` runs (the merges are the same every time)."""
    runs = [train(*args) for _ in range(repeats)]
    return min(seconds for seconds, _ in runs), runs[0][1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-bytes", type=int, default=1_100_000, help="corpus size for fast and HF")
    parser.add_argument("--vocab-size", type=int, default=2000)
    parser.add_argument("--readable-bytes", type=int, default=100_000, help="corpus size for the readable trainer")
    parser.add_argument("--readable-merges", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    big = python_docs(max_bytes=args.max_bytes)
    small = python_docs(max_bytes=args.readable_bytes)
    small_vocab = 256 + args.readable_merges
    rows = []
    for label, texts, vocab_size, algorithm, repeats in [
        ("readable", small, small_vocab, "readable", 1),
        ("fast", small, small_vocab, "fast", args.repeats),
        ("fast", big, args.vocab_size, "fast", args.repeats),
    ]:
        hf_seconds, hf_merges = best_of(args.repeats, hf_train, texts, vocab_size)
        seconds, merges = best_of(repeats, ours_train, texts, vocab_size, algorithm)
        assert merges == hf_merges, f"{label}: merges differ from HF's"
        rows.append((label, sum(len(t.encode()) for t in texts), vocab_size, len(merges), seconds, hf_seconds))
    if rows[0][4] >= 30:
        raise AssertionError(f"the readable trainer took {rows[0][4]:.1f} s, expected under 30 s")

    print(f"{'trainer':<10}{'corpus':>12}{'vocab':>7}{'merges':>8}{'ours (s)':>10}{'HF (s)':>9}{'ours/HF':>9}")
    for label, size, vocab_size, merges, seconds, hf_seconds in rows:
        print(
            f"{label:<10}{size / 1e6:>9.2f} MB{vocab_size:>7}{merges:>8}{seconds:>10.3f}{hf_seconds:>9.3f}"
            f"{seconds / hf_seconds:>8.1f}x"
        )
    print("merges identical to HF's in every row")


if __name__ == "__main__":
    main()
