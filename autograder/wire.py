"""Results across the boundary from a student's process to the grader, as plain data: never pickle.

A value is written as JSON, with its tensors in one ``safetensors`` buffer: ``encode(value) -> (text, blob)`` in
the student's process, ``decode(text, blob) -> value`` in the grader's. The kinds are exactly ``None``, ``bool``,
``int``, ``float`` (``nan`` and the infinities too), ``str``, ``list``, ``tuple``, ``dict`` (keys: ``None``,
``bool``, ``int``, ``float``, ``str`` or tuples of them), ``set`` and ``frozenset`` (of such keys), and dense
``torch.Tensor``. Anything else is refused by the encoder with the path to it. Decoding runs no code from the
data: it reads JSON and safetensors' raw buffers, accepts only the markers below and checks sizes; nothing is
constructed but these kinds, so whatever a student's process writes can at worst be malformed, and then
:class:`WireError` says how. The other direction, the inputs the grader sends (which also carry a few
allow-listed objects), is :mod:`autograder.inputs`, built on the classes here.

JSON forms: a list is a JSON array; ``{"tuple": [...]}``, ``{"dict": [[key, value], ...]}`` (order kept),
``{"set": [...]}``, ``{"frozenset": [...]}``, ``{"float": "nan" | "inf" | "-inf"}``, ``{"tensor": "t3"}`` (the
safetensors entry ``t3``). Every other JSON object is refused.

Example:
    >>> text, blob = encode({"ids": (1, 2), "probs": torch.tensor([0.5, float("nan")])})
    >>> text
    '{"dict": [["ids", {"tuple": [1, 2]}], ["probs", {"tensor": "t0"}]]}'
    >>> decode(text, blob)
    {'ids': (1, 2), 'probs': tensor([0.5000,    nan])}
    >>> decode('{"module": {}}')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    autograder.wire.WireError: value: expected a value or one of the markers tuple, dict, set, frozenset, ...
"""

from __future__ import annotations

import json
import math
from typing import Any

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

#: The largest JSON text and tensor buffer :func:`decode` reads.
MAX_TEXT_BYTES = 64 * 2**20
MAX_BLOB_BYTES = 1024 * 2**20
_SPECIAL_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_PLAIN_MARKERS = ("tuple", "dict", "set", "frozenset", "float", "tensor")


class WireError(ValueError):
    """A value that cannot cross (encode) or data that is not a valid encoding (decode)."""


def encode(value: Any) -> tuple[str, bytes]:
    """``value`` (plain data, module docstring) as JSON text and a safetensors buffer of its tensors (empty when it
    has none)."""
    return _Encoder().run(value)


def decode(text: str | bytes, blob: bytes = b"") -> Any:
    """The plain value :func:`encode` wrote; raise :class:`WireError` for anything else (objects included)."""
    return _Decoder(text, blob).run()


def _is_key(key: Any) -> bool:
    return key is None or type(key) in (bool, int, float, str) or (type(key) is tuple and all(map(_is_key, key)))


def _kind(value: Any) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


class _Encoder:
    """One value's JSON and tensors (:class:`autograder.inputs` extends it with the inputs' objects)."""

    def __init__(self) -> None:
        self.tensors: dict[str, torch.Tensor] = {}

    def run(self, value: Any) -> tuple[str, bytes]:
        text = json.dumps(self.value(value, "value"), allow_nan=False)
        try:
            return text, save_tensors(self.tensors) if self.tensors else b""
        except Exception as error:  # a dtype safetensors has no code for (complex32, quantized)
            raise WireError(f"value: expected tensors of a dtype safetensors stores, got {error}") from None

    def value(self, value: Any, path: str) -> Any:
        kind = type(value)
        if value is None or kind in (bool, int, str):
            return value
        if kind is float:
            return value if math.isfinite(value) else {"float": "nan" if math.isnan(value) else
                                                       ("inf" if value > 0 else "-inf")}
        if kind is list:
            return [self.value(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if kind is tuple:
            return {"tuple": [self.value(v, f"{path}[{i}]") for i, v in enumerate(value)]}
        if kind is dict:
            self.keys(value, path)
            return {"dict": [[self.value(k, path), self.value(v, f"{path}[{k!r}]")] for k, v in value.items()]}
        if kind in (set, frozenset):
            self.keys(value, path)
            return {kind.__name__: [self.value(k, path) for k in value]}
        if isinstance(value, torch.Tensor):
            if value.layout != torch.strided:
                raise WireError(f"{path}: expected a dense tensor, got layout {value.layout}")
            name = f"t{len(self.tensors)}"
            self.tensors[name] = value.detach().to("cpu", copy=True).contiguous()
            return {"tensor": name}
        return self.other(value, path)

    def other(self, value: Any, path: str) -> Any:
        """A value of none of the plain kinds: refused."""
        raise WireError(f"{path}: expected None, bool, int, float, str, list, tuple, dict, set, frozenset or "
                        f"torch.Tensor, got {_kind(value)}")

    @staticmethod
    def keys(value: dict | set | frozenset, path: str) -> None:
        bad = next((k for k in value if not _is_key(k)), None)
        if bad is not None:
            raise WireError(f"{path}: expected dict keys and set items of None, bool, int, float, str or tuples of "
                            f"them, got {bad!r:.100} ({type(bad).__qualname__})")


class _Decoder:
    """One value from its JSON and tensors, every tensor of the blob used exactly once (:class:`autograder.inputs`
    extends it with the inputs' objects)."""

    #: The markers of the object kinds this decoder rebuilds, each with its method of the same name: none.
    OBJECT_MARKERS: tuple[str, ...] = ()

    def __init__(self, text: str | bytes, blob: bytes):
        if len(text) > MAX_TEXT_BYTES or len(blob) > MAX_BLOB_BYTES:
            raise WireError(f"data: expected at most {MAX_TEXT_BYTES:,} bytes of JSON and {MAX_BLOB_BYTES:,} of "
                            f"tensors, got {len(text):,} and {len(blob):,}")
        try:
            self.data = json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError) as error:
            raise WireError(f"text: expected JSON, got {error}") from None
        try:
            self.tensors = load_tensors(blob) if blob else {}
        except Exception as error:  # safetensors raises its own error types for a malformed header
            raise WireError(f"blob: expected a safetensors buffer, got {type(error).__name__}: {error}") from None
        self.used: set[str] = set()

    def run(self) -> Any:
        value = self.value(self.data, "value", objects=True)
        if self.used != set(self.tensors):
            raise WireError(f"blob: expected only the tensors the text refers to, got "
                            f"{sorted(set(self.tensors) - self.used)} besides")
        return value

    def value(self, data: Any, path: str, objects: bool) -> Any:
        """The value of ``data``; ``objects``: whether object markers are accepted here."""
        if data is None or type(data) in (bool, int, float, str):
            return data
        if type(data) is list:
            return [self.value(v, f"{path}[{i}]", objects) for i, v in enumerate(data)]
        markers = _PLAIN_MARKERS + (self.OBJECT_MARKERS if objects else ())
        if type(data) is not dict or len(data) != 1 or next(iter(data)) not in markers:
            raise WireError(f"{path}: expected a value or one of the markers {', '.join(markers)}, got {data!r:.200}")
        (marker, content), = data.items()
        if marker in self.OBJECT_MARKERS:
            return getattr(self, marker)(content, path)
        if marker == "tuple" and type(content) is list:
            return tuple(self.value(v, f"{path}[{i}]", objects) for i, v in enumerate(content))
        if marker == "dict" and type(content) is list and all(type(i) is list and len(i) == 2 for i in content):
            keys = self.keys([k for k, _ in content], path, "dict keys")
            return {k: self.value(v, f"{path}[{k!r}]", objects) for k, (_, v) in zip(keys, content)}
        if marker in ("set", "frozenset") and type(content) is list:
            return (set if marker == "set" else frozenset)(self.keys(content, path, "set items"))
        if marker == "float" and content in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[content]
        if marker == "tensor" and type(content) is str:
            if content not in self.tensors or content in self.used:
                raise WireError(f"{path}: expected a tensor of the blob used once, got {content!r}")
            self.used.add(content)
            return self.tensors[content]
        raise WireError(f"{path}: expected a value or one of the markers {', '.join(markers)}, got {data!r:.200}")

    def keys(self, data: list, path: str, what: str) -> list:
        """Dict keys or set items: hashable plain values (never tensors), all distinct."""
        keys = [self.value(k, path, False) for k in data] if all(map(_tensorless, data)) else None
        if keys is None or not all(map(_is_key, keys)) or len(set(keys)) != len(keys):
            raise WireError(f"{path}: expected distinct {what} of None, bool, int, float, str or tuples of them, "
                            f"got {data!r:.200}")
        return keys

def _tensorless(data: Any) -> bool:
    """Whether JSON data holds no tensor marker (keys and set items never do)."""
    if type(data) is list:
        return all(map(_tensorless, data))
    if type(data) is dict:
        return "tensor" not in data and all(map(_tensorless, data.values()))
    return True


def _refuse_constant(name: str) -> None:
    raise WireError(f"text: expected no bare {name} (floats like it are written as {{\"float\": ...}})")
