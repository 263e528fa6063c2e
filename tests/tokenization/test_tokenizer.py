"""BPETokenizer against HF ``tokenizers``: training, encoding, decoding and tokenizer.json in both directions.

Unicode versions: our pre-tokenizers use the ``regex`` package, whose Unicode tables are newer than those
compiled into ``tokenizers``; the two disagree only on characters that Python's own database (Unicode 14)
lists as unassigned. Generated text therefore excludes category Cn (and surrogates, which are not text).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenization_oracle import hf_train, model_parts
from tokenizers import Tokenizer

from tlcourse.tokenization import BPETokenizer

SPECIALS = ["<|endoftext|>", "<pad>", "[a b]"]
assigned_text = st.text(st.characters(exclude_categories=["Cn", "Cs"]), max_size=80)
ascii_mix = st.lists(st.sampled_from([*"abcdefgh ,.!'\n\t0123é日🤗", *SPECIALS]), max_size=40).map("".join)
EXAMPLES = [
    "",
    " ",
    "Hello, world! It's 2024 and they'll say: “ok”.",
    "def f(x):\n    return x ** 2  # squares\n\n\n",
    "naïve café, 日本語, emoji 🤗🤗 and \u200b zero width",
    "<|endoftext|>start<|endoftext|><|endoftext|> mid <pad>[a b]end<|endoftext|",
    "qqqq zzzz ~~~~ ```` \x00\x01",
]


@pytest.fixture(scope="module", params=[True, False], ids=["byte_level", "whitespace"])
def trained(request, docs_100k):
    """(ours, HF's) trained on the same ~100 KB with the same settings."""
    byte_level = request.param
    vocab_size = 700 if byte_level else 500
    ours = BPETokenizer.train(docs_100k, vocab_size, special_tokens=SPECIALS, byte_level=byte_level)
    theirs = hf_train(docs_100k, vocab_size, special_tokens=SPECIALS, byte_level=byte_level)
    return ours, theirs


# ---------------------------------------------------------------- training
def test_fast_training_equals_hf(trained):
    ours, theirs = trained
    assert (ours.vocab, ours.merges) == model_parts(theirs)


@pytest.mark.parametrize("byte_level", [True, False], ids=["byte_level", "whitespace"])
def test_readable_training_equals_hf(docs_100k, byte_level):
    vocab_size = (256 if byte_level else 100) + 300
    ours = BPETokenizer.train(docs_100k, vocab_size, byte_level=byte_level, algorithm="readable")
    assert (ours.vocab, ours.merges) == model_parts(hf_train(docs_100k, vocab_size, byte_level=byte_level))


@settings(max_examples=60)
@given(
    texts=st.lists(st.text(st.sampled_from("aab bc\nx!é"), max_size=30), min_size=1, max_size=6).filter(
        lambda texts: any(text.strip() for text in texts)
    ),
    extra=st.integers(min_value=0, max_value=30),
    min_frequency=st.integers(min_value=0, max_value=4),
    byte_level=st.booleans(),
    algorithm=st.sampled_from(["fast", "readable"]),
)
def test_training_equals_hf_on_generated_corpora(texts, extra, min_frequency, byte_level, algorithm):
    alphabet = 256 if byte_level else len(set("".join(texts)) - set(" \n"))
    vocab_size = alphabet + 1 + extra
    ours = BPETokenizer.train(
        texts, vocab_size, min_frequency=min_frequency, special_tokens=["<s>"], byte_level=byte_level,
        algorithm=algorithm,
    )
    theirs = hf_train(texts, vocab_size, min_frequency=min_frequency, special_tokens=["<s>"], byte_level=byte_level)
    assert (ours.vocab, ours.merges) == model_parts(theirs)


# ---------------------------------------------------------------- encoding and decoding
@pytest.mark.parametrize("text", EXAMPLES)
def test_encode_examples_equal_hf(trained, text):
    ours, theirs = trained
    assert ours.encode(text) == theirs.encode(text).ids


def test_encode_real_text_equals_hf(trained):
    from tlcourse.corpora import python_docs

    ours, theirs = trained
    held_out = python_docs(max_bytes=300_000)[-300:]  # docstrings after the training slice
    assert [ours.encode(text) for text in held_out] == [encoding.ids for encoding in theirs.encode_batch(held_out)]


@settings(max_examples=150)
@given(text=assigned_text | ascii_mix)
def test_encode_any_text_equals_hf(trained, text):
    ours, theirs = trained
    assert ours.encode(text) == theirs.encode(text).ids


@settings(max_examples=100)
@given(text=assigned_text | ascii_mix, skip=st.booleans())
def test_decode_equals_hf(trained, text, skip):
    ours, theirs = trained
    ids = theirs.encode(text).ids
    assert ours.decode(ids, skip_special_tokens=skip) == theirs.decode(ids, skip_special_tokens=skip)


@settings(max_examples=150)
@given(text=assigned_text | ascii_mix)
def test_byte_level_round_trip(trained, text):
    ours, _ = trained
    if ours.byte_level:
        assert ours.decode(ours.encode(text), skip_special_tokens=False) == text


def test_unknown_characters_are_dropped_without_unk():
    tokenizer = BPETokenizer({"a": 0, "b": 1, "ab": 2}, [("a", "b")], byte_level=False)
    assert tokenizer.tokenize("aqb") == ["ab"]  # HF drops "q" before merging


# ---------------------------------------------------------------- tokenizer.json
@settings(max_examples=60)
@given(text=assigned_text | ascii_mix)
def test_saved_file_loads_in_hf_with_the_same_ids(trained, tmp_path_factory, text):
    ours, _ = trained
    path = tmp_path_factory.mktemp("saved") / "tokenizer.json"
    ours.save(path)
    assert Tokenizer.from_file(str(path)).encode(text).ids == ours.encode(text)


def test_saved_file_layout(trained, tmp_path):
    ours, _ = trained
    ours.save(tmp_path / "tokenizer.json")
    data = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))
    assert list(data) == [
        "version", "truncation", "padding", "added_tokens", "normalizer", "pre_tokenizer", "post_processor",
        "decoder", "model",
    ]
    assert all(isinstance(merge, list) and len(merge) == 2 for merge in data["model"]["merges"])
    assert [token["content"] for token in data["added_tokens"]] == SPECIALS
    reloaded = BPETokenizer.from_file(tmp_path / "tokenizer.json")
    assert (reloaded.vocab, reloaded.merges, reloaded.special_tokens) == (ours.vocab, ours.merges, SPECIALS)


def test_hf_trained_file_loads_with_the_same_ids(trained, tmp_path):
    _, theirs = trained
    theirs.save(str(tmp_path / "tokenizer.json"))
    ours = BPETokenizer.from_file(tmp_path / "tokenizer.json")
    for text in EXAMPLES:
        assert ours.encode(text) == theirs.encode(text).ids


def test_legacy_merges_file_loads(trained, tmp_path):
    _, theirs = trained
    data = json.loads(theirs.to_str())
    data["model"]["merges"] = [f"{left} {right}" for left, right in data["model"]["merges"]]
    (tmp_path / "legacy.json").write_text(json.dumps(data), encoding="utf-8")
    ours = BPETokenizer.from_file(tmp_path / "legacy.json")
    hf_legacy = Tokenizer.from_file(str(tmp_path / "legacy.json"))
    for text in EXAMPLES:
        assert ours.encode(text) == hf_legacy.encode(text).ids == theirs.encode(text).ids


def test_hf_file_with_prefix_space_and_unk(tmp_path):
    from tokenizers import decoders, models, pre_tokenizers, trainers

    theirs = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True))
    theirs.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    theirs.decoder = decoders.ByteLevel()
    theirs.train_from_iterator(["hello hello world"] * 5, trainers.BpeTrainer(vocab_size=40, special_tokens=["<unk>"]))
    theirs.save(str(tmp_path / "tokenizer.json"))
    ours = BPETokenizer.from_file(tmp_path / "tokenizer.json")
    for text in ["hello world", "hello<unk>world", "héllo xyz", "hello"]:
        assert ours.encode(text) == theirs.encode(text).ids


def test_unsupported_file_names_the_field(tmp_path, trained):
    _, theirs = trained
    data = json.loads(theirs.to_str())
    data["normalizer"] = {"type": "Lowercase"}
    (tmp_path / "t.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="normalizer"):
        BPETokenizer.from_file(tmp_path / "t.json")


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("texts", "kwargs", "argument", "error"),
    [
        (["abc"], {"vocab_size": 100}, "vocab_size", ValueError),  # below the 256 bytes
        (["abc"], {"vocab_size": 2, "byte_level": False}, "vocab_size", ValueError),
        (["abc"], {"vocab_size": 300.0}, "vocab_size", TypeError),
        ([], {"vocab_size": 300}, "texts", ValueError),
        (["   ", ""], {"vocab_size": 300, "byte_level": False}, "texts", ValueError),
        ([""], {"vocab_size": 300}, "texts", ValueError),
        ("abc", {"vocab_size": 300}, "texts", TypeError),
        (["abc", 3], {"vocab_size": 300}, "texts", TypeError),
        (["abc"], {"vocab_size": 300, "algorithm": "magic"}, "algorithm", ValueError),
        (["abc"], {"vocab_size": 300, "special_tokens": "<s>"}, "special_tokens", TypeError),
        (["abc"], {"vocab_size": 300, "min_frequency": -1}, "min_frequency", ValueError),
    ],
)
def test_train_bad_arguments_name_the_argument(texts, kwargs, argument, error):
    with pytest.raises(error, match=argument):
        BPETokenizer.train(texts, **kwargs)


def test_encode_and_decode_bad_arguments(trained):
    ours, _ = trained
    with pytest.raises(TypeError, match="text"):
        ours.encode(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ids"):
        ours.decode([10**9])
