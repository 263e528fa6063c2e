"""Values across the boundary between the grader and a student's process, as plain data: never pickle.

A value is written as JSON, with its tensors in one ``safetensors`` buffer: ``encode(value) -> (text, blob)`` and
``decode(text, blob) -> value``. The kinds that cross are exactly ``None``, ``bool``, ``int``, ``float``
(``nan`` and the infinities too), ``str``, ``list``, ``tuple``, ``dict`` (keys: ``None``, ``bool``, ``int``,
``float``, ``str`` or tuples of them), and dense ``torch.Tensor``; anything else is refused by :func:`encode`
with the path to it. :func:`decode` runs no code from the data: it reads JSON and safetensors' raw buffers,
accepts only the markers below, and checks sizes, so whatever a student's process writes can at worst be
malformed, and then :class:`WireError` says how.

JSON forms: a list is a JSON array; ``{"tuple": [...]}``, ``{"dict": [[key, value], ...]}`` (order kept),
``{"float": "nan" | "inf" | "-inf"}``, ``{"tensor": "t3"}`` (the safetensors entry ``t3``); every other JSON
object is refused.

Example:
    >>> text, blob = encode({"ids": (1, 2), "probs": torch.tensor([0.5, float("nan")])})
    >>> text
    '{"dict": [["ids", {"tuple": [1, 2]}], ["probs", {"tensor": "t0"}]]}'
    >>> decode(text, blob)
    {'ids': (1, 2), 'probs': tensor([0.5000,    nan])}
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


class WireError(ValueError):
    """A value that cannot cross (encode) or data that is not a valid encoding (decode)."""


def encode(value: Any) -> tuple[str, bytes]:
    """``value`` as JSON text and a safetensors buffer of its tensors (empty when it has none)."""
    tensors: dict[str, torch.Tensor] = {}
    text = json.dumps(_to_json(value, tensors, "value"), allow_nan=False)
    try:
        return text, save_tensors(tensors) if tensors else b""
    except Exception as error:  # a dtype safetensors has no code for (complex32, quantized)
        raise WireError(f"value: expected tensors of a dtype safetensors stores, got {error}") from None


def _to_json(value: Any, tensors: dict[str, torch.Tensor], path: str) -> Any:
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if math.isfinite(value) else {"float": "nan" if math.isnan(value) else
                                                   ("inf" if value > 0 else "-inf")}
    if kind is list:
        return [_to_json(v, tensors, f"{path}[{i}]") for i, v in enumerate(value)]
    if kind is tuple:
        return {"tuple": [_to_json(v, tensors, f"{path}[{i}]") for i, v in enumerate(value)]}
    if kind is dict:
        bad = next((k for k in value if not _is_key(k)), None)
        if bad is not None:
            raise WireError(f"{path}: expected dict keys of None, bool, int, float, str or tuples of them, got the "
                            f"key {bad!r:.100} ({type(bad).__qualname__})")
        return {"dict": [[_to_json(k, tensors, path), _to_json(v, tensors, f"{path}[{k!r}]")]
                         for k, v in value.items()]}
    if isinstance(value, torch.Tensor):
        if value.layout != torch.strided:
            raise WireError(f"{path}: expected a dense tensor, got layout {value.layout}")
        name = f"t{len(tensors)}"
        tensors[name] = value.detach().to("cpu", copy=True).contiguous()
        return {"tensor": name}
    raise WireError(f"{path}: expected None, bool, int, float, str, list, tuple, dict or torch.Tensor, "
                    f"got {kind.__module__}.{kind.__qualname__}")


def _is_key(key: Any) -> bool:
    return key is None or type(key) in (bool, int, float, str) or (type(key) is tuple and all(map(_is_key, key)))


def decode(text: str | bytes, blob: bytes = b"") -> Any:
    """The value :func:`encode` wrote; raise :class:`WireError` for anything else."""
    if len(text) > MAX_TEXT_BYTES or len(blob) > MAX_BLOB_BYTES:
        raise WireError(f"data: expected at most {MAX_TEXT_BYTES:,} bytes of JSON and {MAX_BLOB_BYTES:,} of "
                        f"tensors, got {len(text):,} and {len(blob):,}")
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as error:
        raise WireError(f"text: expected JSON, got {error}") from None
    try:
        tensors = load_tensors(blob) if blob else {}
    except Exception as error:  # safetensors raises its own error types for a malformed header
        raise WireError(f"blob: expected a safetensors buffer, got {type(error).__name__}: {error}") from None
    used: set[str] = set()
    value = _from_json(data, tensors, used, "value")
    if used != set(tensors):
        raise WireError(f"blob: expected only the tensors the text refers to, got {sorted(set(tensors) - used)} "
                        "besides")
    return value


def _refuse_constant(name: str) -> None:
    raise WireError(f"text: expected no bare {name} (floats like it are written as {{\"float\": ...}})")


def _from_json(data: Any, tensors: dict[str, torch.Tensor], used: set[str], path: str) -> Any:
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is list:
        return [_from_json(v, tensors, used, f"{path}[{i}]") for i, v in enumerate(data)]
    if type(data) is not dict or len(data) != 1:
        raise WireError(f"{path}: expected a value or one of the markers tuple, dict, float, tensor, got {data!r:.200}")
    (marker, content), = data.items()
    if marker == "tuple" and type(content) is list:
        return tuple(_from_json(v, tensors, used, f"{path}[{i}]") for i, v in enumerate(content))
    if marker == "dict" and type(content) is list and all(type(item) is list and len(item) == 2 for item in content):
        keys = [_from_json(k, {}, set(), f"{path} key") for k, _ in content]
        if not all(map(_is_key, keys)) or len(set(keys)) != len(keys):
            raise WireError(f"{path}: expected distinct dict keys of None, bool, int, float, str or tuples of them, "
                            f"got {keys!r:.200}")
        return {k: _from_json(v, tensors, used, f"{path}[{k!r}]") for k, (_, v) in zip(keys, content)}
    if marker == "float" and content in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[content]
    if marker == "tensor" and type(content) is str:
        if content not in tensors or content in used:
            raise WireError(f"{path}: expected a tensor of the blob used once, got {content!r}")
        used.add(content)
        return tensors[content]
    raise WireError(f"{path}: expected a value or one of the markers tuple, dict, float, tensor, got {data!r:.200}")
