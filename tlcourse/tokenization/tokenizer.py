"""A complete BPE tokenizer: train, encode, decode, and read/write Hugging Face ``tokenizer.json`` files.

The pipeline is Hugging Face's: special tokens are cut out of the text whole, the rest is pre-tokenized
(byte-level GPT-2 style, or ``Whitespace``), and each pre-token is encoded by merge rank
(docs/reference-semantics.md, "Tokenizers: BPE encoding"). A tokenizer saved here loads in
``tokenizers.Tokenizer.from_file`` and gives the same ids, and the other way round.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

from tlcourse.tokenization import tokenizer_json
from tlcourse.tokenization.bpe import apply_merges, initial_vocab, train_bpe
from tlcourse.tokenization.bpe_fast import train_bpe_fast
from tlcourse.tokenization.byte_level import (
    byte_level_alphabet,
    byte_level_decode,
    byte_level_pretokenize,
    gpt2_split,
    to_byte_chars,
)
from tlcourse.tokenization.pretokenize import special_tokens_pattern, split_on_special_tokens, whitespace_pretokenize
from tlcourse.tokenization.validation import check_int, check_strings, type_name

_ALGORITHMS = {"fast": train_bpe_fast, "readable": train_bpe}
_CACHE_SIZE = 100_000


class BPETokenizer:
    """Byte-pair-encoding tokenizer equal to a Hugging Face ``tokenizers`` BPE tokenizer.

    Attributes:
        vocab: {token: id}, special tokens included.
        merges: [(left, right)], in rank order.
        special_tokens: tokens matched whole in the text and never split (HF "added tokens").
        byte_level: True for GPT-2 byte-level BPE, False for ``Whitespace`` pre-tokenization over characters.
        unk_token: token for characters outside the vocabulary, or None to drop them (as HF does).

    Example:
        >>> tok = BPETokenizer.train(["low lower lowest"] * 5, vocab_size=260, special_tokens=["<|eot|>"])
        >>> ids = tok.encode("lowest<|eot|>")
        >>> tok.decode(ids), tok.decode(ids, skip_special_tokens=False)
        ('lowest', 'lowest<|eot|>')
    """

    def __init__(
        self,
        vocab: dict[str, int],
        merges: Sequence[tuple[str, str]],
        *,
        special_tokens: Sequence[str] = (),
        byte_level: bool = True,
        unk_token: str | None = None,
        fuse_unk: bool = False,
        add_prefix_space: bool = False,
    ) -> None:
        check_strings("special_tokens", special_tokens)
        self.vocab = dict(vocab)
        self.merges = [(left, right) for left, right in merges]
        for left, right in self.merges:
            if not {left, right, left + right} <= self.vocab.keys():
                raise ValueError(f"merges: expected tokens of the vocabulary, got the merge {(left, right)!r}")
        self.special_tokens = list(special_tokens)
        for token in self.special_tokens:
            self.vocab.setdefault(token, len(self.vocab))
        if unk_token is not None and unk_token not in self.vocab:
            raise ValueError(f"unk_token: expected a token of the vocabulary, got {unk_token!r}")
        self.byte_level = byte_level
        self.unk_token = unk_token
        self.fuse_unk = fuse_unk
        self.add_prefix_space = add_prefix_space
        self._ranks = {pair: rank for rank, pair in enumerate(self.merges)}  # a repeated pair keeps its last rank
        self._id_to_token = {token_id: token for token, token_id in self.vocab.items()}
        self._special_pattern = special_tokens_pattern(self.special_tokens)
        self._cache: dict[str, list[str]] = {}

    # ------------------------------------------------------------------ training
    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int,
        *,
        min_frequency: int = 0,
        special_tokens: Sequence[str] = (),
        byte_level: bool = True,
        algorithm: str = "fast",
    ) -> BPETokenizer:
        """Train on ``texts`` like ``tokenizers``' ``BpeTrainer`` (byte-level: with the 256-byte alphabet).

        ``algorithm`` is ``"fast"`` (incremental, :mod:`bpe_fast`) or ``"readable"`` (:func:`train_bpe`);
        both learn the same merges. Special tokens get the first ids; in the training text they are ordinary
        text, as in HF.

        Shapes:
            texts: iterable of N strings; the result has ``len(vocab) <= vocab_size``.
        """
        if algorithm not in _ALGORITHMS:
            raise ValueError(f"algorithm: expected one of {sorted(_ALGORITHMS)}, got {algorithm!r}")
        check_int("vocab_size", vocab_size, 0)
        check_strings("special_tokens", special_tokens)
        if isinstance(texts, str):
            raise TypeError("texts: expected an iterable of str, got a single str (wrap it in a list)")
        split = gpt2_split if byte_level else whitespace_pretokenize
        piece_counts: Counter[str] = Counter()
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"texts: expected an iterable of str, got an item of type {type_name(text)}")
            piece_counts.update(split(text))
        # Map each distinct piece to its byte characters once (the mapping is one-to-one).
        word_counts = {to_byte_chars(piece) if byte_level else piece: n for piece, n in piece_counts.items()}
        if not word_counts:
            raise ValueError("texts: expected at least one text with a word to learn from, got an empty corpus")
        alphabet = byte_level_alphabet() if byte_level else []
        minimum = len(initial_vocab(word_counts, special_tokens, alphabet))
        if vocab_size < minimum:
            raise ValueError(
                f"vocab_size: expected at least {minimum} (the special tokens plus the alphabet), got {vocab_size}"
            )
        trainer = _ALGORITHMS[algorithm]
        options = {"show_progress": None} if trainer is train_bpe_fast else {}
        vocab, merges = trainer(
            word_counts,
            vocab_size,
            min_frequency=min_frequency,
            special_tokens=special_tokens,
            initial_alphabet=alphabet,
            **options,
        )
        return cls(vocab, merges, special_tokens=special_tokens, byte_level=byte_level)

    # ------------------------------------------------------------------ encoding
    def _pretokenize(self, text: str) -> list[str]:
        if not self.byte_level:
            return whitespace_pretokenize(text)
        if self.add_prefix_space and not text.startswith(" "):
            text = " " + text
        return byte_level_pretokenize(text)

    def _symbols(self, word: str) -> list[str]:
        """The word's characters; unknown ones become ``unk_token`` (fused if ``fuse_unk``) or are dropped."""
        symbols: list[str] = []
        unknown_before = False
        for char in word:
            if char in self.vocab:
                symbols.append(char)
                unknown_before = False
            elif self.unk_token is not None:
                if not (self.fuse_unk and unknown_before):
                    symbols.append(self.unk_token)
                unknown_before = True
        return symbols

    def _encode_word(self, word: str) -> list[str]:
        tokens = self._cache.get(word)
        if tokens is None:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            tokens = self._cache[word] = apply_merges(self._symbols(word), self._ranks)
        return tokens

    def tokenize(self, text: str) -> list[str]:
        """The token strings of ``text``.

        Example:
            >>> BPETokenizer({"a": 0, "b": 1, "ab": 2}, [("a", "b")], byte_level=False).tokenize("abb a")
            ['ab', 'b', 'a']
        """
        if not isinstance(text, str):
            raise TypeError(f"text: expected str, got {type_name(text)}")
        tokens: list[str] = []
        for piece, is_special in split_on_special_tokens(text, self._special_pattern):
            if is_special:
                tokens.append(piece)
            else:
                for word in self._pretokenize(piece):
                    tokens.extend(self._encode_word(word))
        return tokens

    def encode(self, text: str) -> list[int]:
        """The token ids of ``text``, equal to ``tokenizers.Tokenizer.encode(text).ids`` for the same file.

        Shapes:
            text: string; returns: list of n ints.
        """
        return [self.vocab[token] for token in self.tokenize(text)]

    def decode(self, ids: Sequence[int], *, skip_special_tokens: bool = True) -> str:
        """Text from ids, like ``tokenizers.Tokenizer.decode``.

        Byte-level: the ``ByteLevel`` decoder (bytes back, lossy UTF-8), so ``decode(encode(s)) == s``.
        Otherwise tokens are joined by spaces, as HF does without a decoder.
        """
        tokens = []
        for token_id in ids:
            if token_id not in self._id_to_token:
                raise ValueError(f"ids: expected ids of the vocabulary, got {token_id!r}")
            tokens.append(self._id_to_token[token_id])
        if skip_special_tokens:
            special = set(self.special_tokens)
            tokens = [token for token in tokens if token not in special]
        return byte_level_decode(tokens) if self.byte_level else " ".join(tokens)

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> None:
        """Write a ``tokenizer.json`` (tokenizers >= 0.20 layout) that ``Tokenizer.from_file`` loads."""
        data = tokenizer_json.to_json(
            self.vocab, self.merges, self.special_tokens, byte_level=self.byte_level, unk_token=self.unk_token
        )
        Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")

    @classmethod
    def from_file(cls, path: str | Path) -> BPETokenizer:
        """Load a BPE ``tokenizer.json`` written by :meth:`save` or by Hugging Face ``tokenizers``.

        Merges may be ``[["a", "b"], ...]`` (tokenizers >= 0.20) or the legacy ``["a b", ...]``.
        """
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        vocab, merges, options = tokenizer_json.from_json(data)
        return cls(vocab, merges, **options)
