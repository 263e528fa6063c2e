"""WordPiece, BERT's tokenizer: greedy longest-match-first over a fixed vocabulary.

Each word (after :func:`bert_pretokenize`) is cut from the left into the longest pieces found in the
vocabulary; pieces after the first carry the ``##`` prefix. If some position matches nothing, the whole word
becomes ``[UNK]`` (HF ``models/wordpiece/mod.rs``; docs/reference-semantics.md, "WordPiece encoding").
"""

from __future__ import annotations

from pathlib import Path
from typing import Container, Sequence

from tlcourse.checks import reference
from tlcourse.tokenization.bert_pretokenize import bert_pretokenize
from tlcourse.tokenization.pretokenize import special_tokens_pattern, split_on_special_tokens

__all__ = ["WordPieceTokenizer", "bert_pretokenize", "wordpiece_tokenize"]

#: BERT's special tokens; those in the vocabulary are matched whole in the text, like HF added tokens.
_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


@reference
def wordpiece_tokenize(
    word: str, vocab: Container[str], *, unk_token: str = "[UNK]", max_input_chars_per_word: int = 100
) -> list[str]:
    """Split one word into WordPiece tokens, greedily taking the longest match at each position.

    From ``start``, try ``word[start:end]`` with ``end`` shrinking one character at a time; pieces after the
    first are looked up as ``"##" + piece``. The whole word becomes ``[unk_token]`` when a position matches
    nothing or when the word has more than ``max_input_chars_per_word`` characters.

    Shapes:
        word: string of n chars; returns: list of pieces (or ``[unk_token]``).

    Example:
        >>> vocab = {"un", "##aff", "unaff", "##able"}
        >>> wordpiece_tokenize("unaffable", vocab)
        ['unaff', '##able']
        >>> wordpiece_tokenize("unaffablex", vocab)
        ['[UNK]']
    """
    if len(word) > max_input_chars_per_word:
        return [unk_token]
    pieces: list[str] = []
    start = 0
    while start < len(word):
        end = len(word)
        while end > start:
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                break
            end -= 1
        if end == start:  # nothing matched at this position
            return [unk_token]
        pieces.append(piece)
        start = end
    return pieces


class WordPieceTokenizer:
    """BERT's tokenizer: :func:`bert_pretokenize`, then :func:`wordpiece_tokenize` on every word.

    Equal to HF ``BertWordPieceTokenizer`` (or a BERT ``tokenizer.json``) for the same vocabulary.

    Attributes:
        vocab: {token: id}; lowercase: whether text is lowercased and stripped of accents;
        unk_token, cls_token, sep_token: the special tokens used by :meth:`tokenize` and :meth:`encode`;
        special_tokens: tokens matched whole in the text and skipped by :meth:`decode` ([PAD] [UNK] [CLS]
        [SEP] [MASK] where present).

    Example:
        >>> tok = WordPieceTokenizer({"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "hello": 3, "!": 4, "##s": 5})
        >>> tok.tokenize("Hellos!"), tok.encode("Hellos!")
        (['hello', '##s', '!'], [1, 3, 5, 4, 2])
    """

    def __init__(
        self,
        vocab: dict[str, int],
        *,
        lowercase: bool = True,
        unk_token: str = "[UNK]",
        cls_token: str = "[CLS]",
        sep_token: str = "[SEP]",
        max_input_chars_per_word: int = 100,
    ) -> None:
        for name, token in (("unk_token", unk_token), ("cls_token", cls_token), ("sep_token", sep_token)):
            if token not in vocab:
                raise ValueError(f"{name}: expected a token of the vocabulary, got {token!r}")
        self.vocab = dict(vocab)
        self.lowercase = lowercase
        self.unk_token = unk_token
        self.cls_token = cls_token
        self.sep_token = sep_token
        self.max_input_chars_per_word = max_input_chars_per_word
        self.special_tokens = [token for token in _SPECIAL_TOKENS if token in self.vocab]
        for token in (unk_token, cls_token, sep_token):
            if token not in self.special_tokens:
                self.special_tokens.append(token)
        self._special_pattern = special_tokens_pattern(self.special_tokens)
        self._id_to_token = {token_id: token for token, token_id in self.vocab.items()}

    @classmethod
    def from_vocab(cls, path: str | Path, lowercase: bool = True) -> WordPieceTokenizer:
        """Read a BERT ``vocab.txt``: one token per line, the id is the line number (from 0)."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"path: expected a BERT vocab.txt file, got {str(path)!r}, which does not exist")
        lines = path.read_text(encoding="utf-8").splitlines()
        vocab: dict[str, int] = {}
        for line_number, token in enumerate(lines):
            vocab.setdefault(token, line_number)  # a repeated line keeps its first id
        return cls(vocab, lowercase=lowercase)

    def tokenize(self, text: str) -> list[str]:
        """WordPiece tokens of ``text``, without [CLS] / [SEP].

        Example:
            >>> WordPieceTokenizer({"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "a": 3}).tokenize("A b")
            ['a', '[UNK]']
        """
        if not isinstance(text, str):
            raise TypeError(f"text: expected str, got {type(text).__name__}")
        tokens: list[str] = []
        for piece, is_special in split_on_special_tokens(text, self._special_pattern):
            if is_special:
                tokens.append(piece)
                continue
            for word in bert_pretokenize(piece, lowercase=self.lowercase):
                tokens.extend(
                    wordpiece_tokenize.__wrapped__(  # the plain function: library use is no call of the exercise
                        word,
                        self.vocab,
                        unk_token=self.unk_token,
                        max_input_chars_per_word=self.max_input_chars_per_word,
                    )
                )
        return tokens

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        """Token ids of ``text``, as ``[CLS] tokens [SEP]`` when ``add_special_tokens``.

        Shapes:
            text: string; returns: list of n ints (n >= 2 with special tokens).
        """
        ids = [self.vocab[token] for token in self.tokenize(text)]
        if add_special_tokens:
            ids = [self.vocab[self.cls_token], *ids, self.vocab[self.sep_token]]
        return ids

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """Text from ids, like HF's ``WordPiece`` decoder (``cleanup=True``).

        A ``##`` piece joins the token before it; other tokens (but the first) get a space before them, and a
        space before ``.?!,`` is removed.

        Example:
            >>> tok = WordPieceTokenizer({"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "hug": 3, "##s": 4, "!": 5})
            >>> tok.decode([1, 3, 4, 3, 5, 2])
            'hugs hug!'
        """
        tokens = []
        for token_id in ids:
            if token_id not in self._id_to_token:
                raise ValueError(f"ids: expected ids of the vocabulary, got {token_id!r}")
            token = self._id_to_token[token_id]
            if not (skip_special_tokens and token in self.special_tokens):
                tokens.append(token)
        pieces = []
        for i, token in enumerate(tokens):
            if i > 0:
                token = token[2:] if token.startswith("##") else " " + token
            pieces.append(_cleanup(token))
        return "".join(pieces)


def _cleanup(token: str) -> str:
    """HF's ``decoders.WordPiece`` clean-up of one decoded token: no space before some punctuation."""
    for dirty, clean in _CLEANUP:
        token = token.replace(dirty, clean)
    return token


_CLEANUP = (
    (" .", "."),
    (" ?", "?"),
    (" !", "!"),
    (" ,", ","),
    (" ' ", "'"),
    (" n't", "n't"),
    (" 'm", "'m"),
    (" do not", " don't"),
    (" 's", "'s"),
    (" 've", "'ve"),
    (" 're", "'re"),
)
