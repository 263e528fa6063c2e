"""Tokenizers for pretraining: BERT-style WordPiece and GPT-style byte-level BPE, trained on the world corpus.

- :func:`world_wordpiece` (assignment 03): a Hugging Face ``tokenizers`` WordPiece with BERT's pipeline,
  ``BertNormalizer`` (lowercase) -> ``BertPreTokenizer`` -> WordPiece -> ``[CLS] A [SEP] B [SEP]`` with token
  type ids 0 for A and 1 for B; special tokens ``[PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3, [MASK]=4``. Its
  vocabulary is learned by :func:`wordpiece_vocab`, the algorithm of HF's ``WordPieceTrainer`` (BPE whose
  non-initial symbols carry ``##``) on the course's :func:`~tlcourse.tokenization.train_bpe_fast`: HF's
  trainer breaks ties between equally frequent pairs in hash-map order, so two of its trainings can give
  different files; this one always gives the same.
- :func:`world_bpe` (assignment 04): the course's own byte-level :class:`~tlcourse.tokenization.BPETokenizer`
  (GPT-2 pre-tokenization, equal to HF) with ``<|endoftext|>``, the separator between documents.

Both train in about a second and are cached on disk (:mod:`tlcourse.data.cache`) under a key made of the
vocabulary size, the corpus arguments and :data:`~tlcourse.data.world.WORLD_VERSION`; both files are
``tokenizer.json`` that ``tokenizers.Tokenizer.from_file`` reads. :func:`wordpiece_tokenizer` and
:func:`bpe_tokenizer` train the same tokenizers on any texts (a real corpus, for instance).

Example:
    >>> tok = wordpiece_tokenizer(["Anna lives in Oslo.", "Tom lives in Rome."] * 10, vocab_size=120)
    >>> encoding = tok.encode("Anna lives in Oslo.", "Tom lives in Rome.")
    >>> " ".join(encoding.tokens)
    '[CLS] an ##n ##a lives in os ##lo . [SEP] tom lives in rom ##e . [SEP]'
    >>> encoding.type_ids
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1]
"""

from __future__ import annotations

import string
from collections import Counter
from typing import Sequence

import tokenizers
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from tlcourse.data.cache import atomic_write, cache_path
from tlcourse.data.text_corpora import END_OF_TEXT
from tlcourse.data.world import WORLD_VERSION, world_corpus
from tlcourse.tokenization import BPETokenizer, train_bpe_fast

#: BERT's special tokens, in id order.
WORDPIECE_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
#: Characters always in the WordPiece alphabet: what BERT's normalizer leaves of printable ASCII.
ALPHABET = string.ascii_lowercase + string.digits + string.punctuation
#: First code point of the continuation characters (plane 15, private use): ``##a`` is spelled ``chr(F0000 + i)``.
_CONTINUATION = 0xF0000


def _check_texts(texts: Sequence[str]) -> None:
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise TypeError(f"texts: expected a list of str, got {type(texts).__name__}")
    if not texts or not all(isinstance(text, str) for text in texts):
        raise ValueError("texts: expected a non-empty list of str")


def wordpiece_vocab(texts: Sequence[str], vocab_size: int) -> dict[str, int]:
    """Learn a WordPiece vocabulary as HF's ``WordPieceTrainer`` does, deterministically.

    Texts are normalized and pre-tokenized like BERT's; each word is spelled as its first character followed
    by *continuation* characters (the ``##`` symbols, here private-use code points sorted after every real
    character), BPE merges the most frequent pair (ties: smallest ids) until ``vocab_size`` tokens, and the
    continuation characters are spelled back as ``##``. The alphabet holds every character of the texts and
    of :data:`ALPHABET`, plus ``##`` forms of lowercase letters and digits, so no ASCII text gives ``[UNK]``.

    Shapes:
        texts: N strings; returns: {token: id}, the 5 specials first, then the alphabet, then the merges.

    Example:
        >>> vocab = wordpiece_vocab(["hug hugs pug"] * 3, vocab_size=180)
        >>> [token for token in vocab if len(token.strip("#")) > 1 and token not in WORDPIECE_SPECIALS]
        ['##ug', 'hug', 'pug', 'hugs']
    """
    _check_texts(texts)
    normalizer, pre_tokenizer = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    words: Counter[str] = Counter()
    for text in texts:
        words.update(word for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)))
    chars = sorted({char for word in words for char in word}.union(ALPHABET))
    if ord(chars[-1]) >= _CONTINUATION:
        raise ValueError(f"texts: expected no characters from U+{_CONTINUATION:X} on, got {chars[-1]!r}")
    continuation = {char: chr(_CONTINUATION + i) for i, char in enumerate(chars)}
    spelled = {word[0] + "".join(continuation[char] for char in word[1:]): n for word, n in words.items()}
    alphabet = chars + [continuation[char] for char in string.ascii_lowercase + string.digits]
    minimum = len(WORDPIECE_SPECIALS) + len({*alphabet, *(char for word in spelled for char in word)})
    if not isinstance(vocab_size, int) or isinstance(vocab_size, bool) or vocab_size < minimum:
        raise ValueError(f"vocab_size: expected an int >= {minimum} (specials and alphabet), got {vocab_size!r}")
    vocab, _ = train_bpe_fast(spelled, vocab_size, special_tokens=WORDPIECE_SPECIALS, initial_alphabet=alphabet)
    plain = {symbol: char for char, symbol in continuation.items()}

    def spell_back(token: str) -> str:
        text = "".join(plain.get(char, char) for char in token)
        return "##" + text if token[0] in plain else text

    return {spell_back(token): token_id for token, token_id in vocab.items()}


def wordpiece_tokenizer(texts: Sequence[str], vocab_size: int) -> Tokenizer:
    """BERT's WordPiece pipeline with the vocabulary :func:`wordpiece_vocab` learns from ``texts``.

    Shapes:
        texts: N strings; the vocabulary has at most ``vocab_size`` tokens, the 5 specials first.
    """
    vocab = wordpiece_vocab(texts, vocab_size)
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.add_special_tokens(list(WORDPIECE_SPECIALS))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A:0 [SEP]:0",
        pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    return tokenizer


def bpe_tokenizer(texts: Sequence[str], vocab_size: int) -> BPETokenizer:
    """Train GPT-2's byte-level BPE on ``texts`` with ``<|endoftext|>`` (id 0), the course's implementation.

    Shapes:
        texts: N strings; the vocabulary has at most ``vocab_size`` tokens (at least 257: specials + bytes).
    """
    _check_texts(texts)
    return BPETokenizer.train(texts, vocab_size, special_tokens=[END_OF_TEXT])


def _world_texts(n_documents: int, seed: int) -> list[str]:
    return [document.text for document in world_corpus(n_documents, seed)]


def world_wordpiece(vocab_size: int = 1024, *, n_documents: int = 8000, seed: int = 0) -> Tokenizer:
    """The WordPiece tokenizer of the world corpus, loaded from the cache or trained (about a second) and cached.

    Example:
        >>> tok = world_wordpiece()
        >>> tok.encode("Anna lives in Oslo.").tokens
        ['[CLS]', 'anna', 'lives', 'in', 'oslo', '.', '[SEP]']
    """
    path = cache_path("tokenizers", "world-wordpiece", ".json", vocab_size=vocab_size, n_documents=n_documents,
                      seed=seed, world=WORLD_VERSION, library=tokenizers.__version__)  # fmt: skip
    if path.exists():
        return Tokenizer.from_file(str(path))
    tokenizer = wordpiece_tokenizer(_world_texts(n_documents, seed), vocab_size)
    with atomic_write(path) as tmp:
        tokenizer.save(str(tmp))
    return tokenizer


def world_bpe(vocab_size: int = 1024, *, n_documents: int = 8000, seed: int = 0) -> BPETokenizer:
    """The byte-level BPE tokenizer of the world corpus, loaded from the cache or trained and cached.

    ``tokenizers.Tokenizer.from_file`` reads the same cached file and gives the same ids.

    Example:
        >>> tok = world_bpe()
        >>> ids = tok.encode("Anna lives in Oslo." + END_OF_TEXT)
        >>> tok.decode(ids), ids[-1] == tok.vocab[END_OF_TEXT]
        ('Anna lives in Oslo.', True)
    """
    path = cache_path("tokenizers", "world-bpe", ".json", vocab_size=vocab_size, n_documents=n_documents,
                      seed=seed, world=WORLD_VERSION)  # fmt: skip
    if path.exists():
        return BPETokenizer.from_file(path)
    tokenizer = bpe_tokenizer(_world_texts(n_documents, seed), vocab_size)
    with atomic_write(path) as tmp:
        tokenizer.save(tmp)
    return tokenizer
