"""Hugging Face ``tokenizer.json`` for BPE tokenizers: the dict we write, and the checks when we read one.

Layout of tokenizers >= 0.20 (docs/reference-semantics.md, "tokenizer.json layout"): top-level ``version,
truncation, padding, added_tokens, normalizer, pre_tokenizer, post_processor, decoder, model``; merges as
``[left, right]`` pairs. Reading also accepts the legacy ``"left right"`` merge strings. Only what
:class:`BPETokenizer` reproduces exactly is accepted; anything else raises a ValueError that names the field.
"""

from __future__ import annotations

from typing import Any, Sequence

_BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
_MODEL_DEFAULTS = {
    "dropout": None,
    "continuing_subword_prefix": None,
    "end_of_word_suffix": None,
    "byte_fallback": False,
    "ignore_merges": False,
}


def to_json(
    vocab: dict[str, int],
    merges: Sequence[tuple[str, str]],
    special_tokens: Sequence[str],
    *,
    byte_level: bool,
    unk_token: str | None = None,
) -> dict[str, Any]:
    """The ``tokenizer.json`` content of a BPE tokenizer (a dict ready for ``json.dumps``)."""
    added = [
        {
            "id": vocab[token],
            "content": token,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for token in dict.fromkeys(special_tokens)
    ]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": dict(_BYTE_LEVEL) if byte_level else {"type": "Whitespace"},
        "post_processor": None,
        "decoder": dict(_BYTE_LEVEL) if byte_level else None,
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": unk_token,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": dict(sorted(vocab.items(), key=lambda item: item[1])),
            "merges": [[left, right] for left, right in merges],
        },
    }


def _merge_pair(merge: Any) -> tuple[str, str]:
    """One merge from either form: ``["a", "b"]`` or the legacy ``"a b"``."""
    if isinstance(merge, str):
        parts = merge.split(" ")
    else:
        parts = list(merge)
    if len(parts) != 2 or not all(isinstance(part, str) for part in parts):
        raise ValueError(f"model.merges: expected [left, right] or 'left right', got {merge!r}")
    return parts[0], parts[1]


def _byte_level_options(field: str, value: Any) -> dict[str, Any]:
    if value is None or value.get("type") != "ByteLevel" or not value.get("use_regex", True):
        raise ValueError(f"{field}: expected ByteLevel (use_regex=true) or Whitespace, got {value!r}")
    return {"byte_level": True, "add_prefix_space": bool(value.get("add_prefix_space", True))}


def from_json(data: dict[str, Any]) -> tuple[dict[str, int], list[tuple[str, str]], dict[str, Any]]:
    """``(vocab, merges, options)`` from a parsed ``tokenizer.json``; ``options`` are BPETokenizer keywords."""
    model = data.get("model") or {}
    if model.get("type", "BPE") != "BPE" or "merges" not in model:
        raise ValueError(f"model.type: expected a BPE model, got {model.get('type')!r}")
    for key, default in _MODEL_DEFAULTS.items():
        if model.get(key, default) != default:
            raise ValueError(f"model.{key}: expected {default!r} (not supported), got {model[key]!r}")
    if data.get("normalizer") is not None:
        raise ValueError(f"normalizer: expected null (not supported), got {data['normalizer']!r}")
    post_processor = data.get("post_processor")
    if post_processor is not None and post_processor.get("type") != "ByteLevel":
        raise ValueError(f"post_processor: expected null or ByteLevel, got {post_processor!r}")

    pre_tokenizer = data.get("pre_tokenizer")
    if pre_tokenizer is not None and pre_tokenizer.get("type") == "Whitespace":
        options: dict[str, Any] = {"byte_level": False}
    else:
        options = _byte_level_options("pre_tokenizer", pre_tokenizer)
    decoder = data.get("decoder")
    if options["byte_level"] != (decoder is not None):
        raise ValueError(f"decoder: expected ByteLevel with a ByteLevel pre-tokenizer, else null; got {decoder!r}")
    if decoder is not None:
        _byte_level_options("decoder", decoder)

    vocab = dict(model["vocab"])
    special_tokens = []
    for token in data.get("added_tokens", []):
        if token.get("single_word") or token.get("lstrip") or token.get("rstrip") or not token.get("special", True):
            raise ValueError(f"added_tokens: expected special tokens without strip options, got {token!r}")
        vocab[token["content"]] = token["id"]
        special_tokens.append(token["content"])
    options.update(
        special_tokens=special_tokens, unk_token=model.get("unk_token"), fuse_unk=bool(model.get("fuse_unk", False))
    )
    return vocab, [_merge_pair(merge) for merge in model["merges"]], options
