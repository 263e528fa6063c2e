"""Exercise specs of assignment 01_tokenization: counting pairs, merging, training, encoding, decoding, WordPiece."""

from __future__ import annotations

import random

from tlcourse.exercises.registry import Case, Exercise, register

BPE = "tlcourse.tokenization.bpe"

# Sennrich et al. (2016)'s toy corpus: word -> count.
TOY_CORPUS = {"low": 5, "lower": 2, "newest": 6, "widest": 3}


def _random_words(rng: random.Random, alphabet: str, n_words: int, max_len: int = 7) -> dict[str, int]:
    """Random word counts over a small alphabet, so that pair counts tie often."""
    words: dict[str, int] = {}
    for _ in range(n_words):
        word = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, max_len)))
        words[word] = words.get(word, 0) + rng.randint(1, 5)
    return words


def _random_segmentation(rng: random.Random, word: str) -> tuple[str, ...]:
    """Cut ``word`` into random pieces, as a word looks halfway through BPE training."""
    pieces, start = [], 0
    while start < len(word):
        end = min(len(word), start + rng.choice((1, 1, 1, 2, 3)))
        pieces.append(word[start:end])
        start = end
    return tuple(pieces)


# --- count_pairs -----------------------------------------------------------------------------------------------

def _count_pairs_public() -> list[Case]:
    return [
        Case(({("l", "o", "w"): 5, ("l", "o", "w", "e", "r"): 2},), note="counts are weighted by word frequency"),
        Case(({("a", "a", "a"): 3},), note="overlapping pairs: 'aaa' holds (a, a) twice"),
        Case(({("lo", "w"): 2, ("w",): 7},), note="symbols can be longer than one character; one-symbol words add nothing"),
        Case(({},), note="no words, no pairs"),
    ]


def _count_pairs_hidden(rng: random.Random) -> list[Case]:
    cases = []
    for _ in range(10):
        words = _random_words(rng, rng.choice(("ab", "abc", "abcde")), rng.randint(1, 12))
        cases.append(Case(({_random_segmentation(rng, w): c for w, c in words.items()},)))
    return cases


register(Exercise("count_pairs", f"{BPE}:count_pairs", _count_pairs_public, _count_pairs_hidden))


# --- merge_pair ------------------------------------------------------------------------------------------------

def _merge_pair_public() -> list[Case]:
    return [
        Case((("l", "o", "w", "e", "r"), ("l", "o")), note="a simple merge"),
        Case((("a", "a", "a"), ("a", "a")), note="left to right, without overlaps: ('aa', 'a')"),
        Case((("a", "b", "a", "b"), ("a", "b")), note="every occurrence is merged"),
        Case((("x", "y"), ("a", "b")), note="a pair that does not occur leaves the word as it is"),
        Case((("ab", "c", "a", "bc"), ("a", "bc")), note="only the pair of symbols, not the string 'abc'"),
    ]


def _merge_pair_hidden(rng: random.Random) -> list[Case]:
    cases = []
    for _ in range(15):
        word = "".join(rng.choice("aab") for _ in range(rng.randint(1, 10)))
        symbols = _random_segmentation(rng, word)
        if len(symbols) >= 2 and rng.random() < 0.8:
            i = rng.randrange(len(symbols) - 1)
            pair = (symbols[i], symbols[i + 1])
        else:
            pair = (rng.choice("ab"), rng.choice("ab"))
        cases.append(Case((symbols, pair)))
    return cases


register(Exercise("merge_pair", f"{BPE}:merge_pair", _merge_pair_public, _merge_pair_hidden))


# --- train_bpe -------------------------------------------------------------------------------------------------

def _train_bpe_public() -> list[Case]:
    return [
        Case((TOY_CORPUS, 10 + 10), note="the toy corpus: 10 characters, then 10 merges"),
        Case(({"xy": 2, "bc": 2}, 5), note="a tie: the pair with the smaller token ids wins, (b, c) before (x, y)"),
        Case(({"ab": 3, "cd": 2, "e": 1, "f": 1}, 100), {"min_frequency": 3},
             note="min_frequency stops training once the best pair is rarer"),
        Case((TOY_CORPUS, 14), {"special_tokens": ("<pad>", "<unk>")},
             note="special tokens come first in the vocabulary and count towards vocab_size"),
        Case(({"aaaa": 1}, 3), note="'aaaa' -> 'aa aa' -> 'aaaa'"),
    ]


def _train_bpe_hidden(rng: random.Random) -> list[Case]:
    cases = []
    for _ in range(10):
        alphabet = rng.choice(("ab", "abc", "abcdef", "aeiouxyz"))
        words = _random_words(rng, alphabet, rng.randint(1, 25))
        specials = rng.choice(((), ("[PAD]",), ("<s>", "</s>")))
        n_chars = len(set("".join(words)))
        kwargs: dict = {"min_frequency": rng.choice((0, 0, 1, 2, 4))}
        if specials:
            kwargs["special_tokens"] = specials
        cases.append(Case((words, len(specials) + n_chars + rng.randint(0, 30)), kwargs))
    return cases


register(Exercise("train_bpe", f"{BPE}:train_bpe", _train_bpe_public, _train_bpe_hidden))


# --- encode_word -----------------------------------------------------------------------------------------------

def _toy_merges() -> list[tuple[str, str]]:
    from tlcourse.tokenization.bpe import train_bpe

    return train_bpe(TOY_CORPUS, 20)[1]


def _encode_word_public() -> list[Case]:
    merges = _toy_merges()
    return [
        Case(("lowest", merges), note="an unseen word, built from learned pieces"),
        Case(("abc", [("b", "c"), ("a", "b")]), note="the merge learned first is applied first: ['a', 'bc']"),
        Case(("abc", [("a", "b"), ("b", "c")]), note="...and in the other order: ['ab', 'c']"),
        Case(("aaaaa", [("a", "a")]), note="leftmost first, without overlaps: ['aa', 'aa', 'a']"),
        Case(("", merges), note="the empty word has no tokens"),
    ]


def _encode_word_hidden(rng: random.Random) -> list[Case]:
    from tlcourse.tokenization.bpe import train_bpe

    cases = []
    for _ in range(5):
        alphabet = rng.choice(("ab", "abc", "abcdef"))
        words = _random_words(rng, alphabet, rng.randint(3, 20))
        merges = train_bpe(words, len(set("".join(words))) + rng.randint(1, 25))[1]
        for _ in range(3):
            word = "".join(rng.choice(alphabet + "z") for _ in range(rng.randint(1, 12)))
            cases.append(Case((word, merges)))
    return cases


register(Exercise("encode_word", f"{BPE}:encode_word", _encode_word_public, _encode_word_hidden))


# --- decode_ids ------------------------------------------------------------------------------------------------

def _byte_vocab(extra_tokens: list[str]) -> dict[str, int]:
    """The 256 byte characters (ids 0-255, in byte order), then ``extra_tokens``."""
    from tlcourse.tokenization.byte_level import bytes_to_unicode

    vocab = {char: byte for byte, char in bytes_to_unicode().items()}
    for token in extra_tokens:
        vocab.setdefault(token, len(vocab))
    return vocab


def _decode_ids_public() -> list[Case]:
    vocab = _byte_vocab(["Ġt", "he", "Ġthe", "Ġw", "or", "ld"])
    hello = [vocab[c] for c in "hello"]
    return [
        Case((hello + [vocab["Ġw"], vocab["or"], vocab["ld"]], vocab), note="'Ġ' is the byte of a space"),
        Case(([vocab["Ġthe"], vocab["Ġthe"]], vocab), note="merged tokens decode to their bytes"),
        Case((list("héllo 🤗".encode("utf-8")), vocab), note="multi-byte characters span several tokens"),
        Case(([0xE2, 0x82], vocab), note="an incomplete UTF-8 sequence decodes to '\ufffd' (errors='replace')"),
        Case(([], vocab), note="no ids, empty string"),
    ]


def _decode_ids_hidden(rng: random.Random) -> list[Case]:
    cases = []
    for _ in range(10):
        text = "".join(rng.choice("abc é€🤗\n\t") for _ in range(rng.randint(0, 20)))
        data = text.encode("utf-8")
        chars = _byte_vocab([])
        byte_chars = {v: k for k, v in chars.items()}
        pieces = [byte_chars[b] for b in data]
        merged = ["".join(pieces[i:i + 2]) for i in range(0, len(pieces), 2)]
        vocab = _byte_vocab(merged)
        ids = [vocab[p] for p in merged]
        if ids and rng.random() < 0.3:
            ids.insert(rng.randrange(len(ids)), rng.randrange(128, 256))  # a stray continuation or lead byte
        cases.append(Case((ids, vocab)))
    return cases


register(Exercise("decode_ids", "tlcourse.tokenization.byte_level:decode_ids", _decode_ids_public, _decode_ids_hidden))


# --- wordpiece_tokenize ----------------------------------------------------------------------------------------

WORDPIECE_VOCAB = frozenset({"[UNK]", "un", "unaff", "##aff", "##able", "runn", "##ing", "##s", "a", "##a", "play"})


def _wordpiece_public() -> list[Case]:
    vocab = set(WORDPIECE_VOCAB)
    return [
        Case(("unaffable", vocab), note="longest match first: 'unaff' beats 'un'"),
        Case(("running", vocab), note="pieces after the first carry the '##' prefix"),
        Case(("unaffablex", vocab), note="if any part has no match, the whole word is [UNK]"),
        Case(("play", vocab), note="a word in the vocabulary is one token"),
        Case(("a" * 101, vocab), note="words longer than max_input_chars_per_word are [UNK]"),
        Case(("xyz", vocab | {"<unk>"}), {"unk_token": "<unk>"}, note="the unknown token is an argument"),
        Case(("aaaa", vocab), {"max_input_chars_per_word": 4}, note="4 characters is not too long for the limit 4"),
    ]


def _wordpiece_hidden(rng: random.Random) -> list[Case]:
    cases = []
    for _ in range(15):
        alphabet = rng.choice(("ab", "abc", "abcd"))
        vocab = {"[UNK]"}
        for _ in range(rng.randint(1, 12)):
            piece = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4)))
            vocab.add(piece if rng.random() < 0.4 else "##" + piece)
        word = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9)))
        kwargs = {"max_input_chars_per_word": rng.choice((100, 100, 5))}
        cases.append(Case((word, vocab), kwargs))
    return cases


register(Exercise("wordpiece_tokenize", "tlcourse.tokenization.wordpiece:wordpiece_tokenize",
                  _wordpiece_public, _wordpiece_hidden))
