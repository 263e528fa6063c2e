"""The grader's wire format: values round-trip exactly, nothing else crosses, and no data runs code."""

from __future__ import annotations

import math
import pickle

import pytest
import torch

from autograder.wire import WireError, decode, encode


class AlwaysEqual:
    def __eq__(self, other):
        return True


class SneakyTensor(torch.Tensor):
    def __eq__(self, other):  # an "always equal" tensor
        return torch.ones_like(other, dtype=torch.bool)


class LyingInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


VALUES = [
    None, True, False, 0, -3, 2**70, 1.5, -0.0, "", "héllo\n", [], (), {},
    [1, [2, (3, None)], {"a": (True, "b")}],
    {"z": 1, "a": 2},  # key order kept
    {("l", "o"): 3, ("w",): 1, 7: None, None: 1.5, (1, (2.5, True)): "nested"},  # BPE pair counts and the like
    ("nan-free", 1e308, -1e-308),
    torch.tensor([1.0, -2.5]), torch.zeros(0, 3), torch.tensor(7), torch.arange(12).view(3, 4).T,  # non-contiguous
    torch.tensor([True, False]), torch.randn(2, 3, dtype=torch.float64), torch.randn(4).to(torch.bfloat16),
    torch.randint(0, 9, (2, 2), dtype=torch.int32), torch.tensor([1, 2], dtype=torch.uint8),
    {"same twice": [torch.ones(2), torch.ones(2)]},
]


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return (type(b) is torch.Tensor and a.dtype == b.dtype and a.shape == b.shape
                and torch.equal(a.cpu(), b))
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return a == b


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_values_round_trip_exactly_with_their_types_dtypes_and_shapes(value):
    assert _same(value, decode(*encode(value)))


def test_special_floats_round_trip():
    back = decode(*encode([math.nan, math.inf, -math.inf]))
    assert math.isnan(back[0]) and back[1:] == [math.inf, -math.inf]


def test_a_tensor_that_requires_grad_crosses_as_plain_data():
    weight = torch.nn.Parameter(torch.ones(2))
    back = decode(*encode(weight * 2))
    assert type(back) is torch.Tensor and not back.requires_grad and torch.equal(back, torch.full((2,), 2.0))


@pytest.mark.parametrize("value, message", [
    (AlwaysEqual(), "value: expected None, bool, int, float, str, list, tuple, dict or torch.Tensor, got "
                    "test_wire.AlwaysEqual"),
    ([1, {"k": LyingInt(3)}], r"value\[1\]\['k'\]: expected None, .* got test_wire.LyingInt"),
    ({frozenset(): "a"}, r"value: expected dict keys of None, bool, int, float, str or tuples of them, got the key "
                         r"frozenset\(\) \(frozenset\)"),
    ({LyingInt(1): 0}, r"got the key 1 \(LyingInt\)"),
    ({1, 2}, "got builtins.set"),
    (lambda: 0, "got builtins.function"),
    (torch.ones(2).to_sparse(), "value: expected a dense tensor, got layout torch.sparse_coo"),
    (torch.zeros(2, dtype=torch.complex32), "value: expected tensors of a dtype safetensors stores"),
])
def test_what_cannot_cross_is_refused_with_where_it_is(value, message):
    with pytest.raises(WireError, match=message):
        encode(value)


def test_a_tensor_subclass_crosses_only_as_its_numbers():
    """Whatever its methods do, only the data arrives: a plain tensor, whose == is torch's."""
    sneaky = torch.tensor([1.0, 2.0]).as_subclass(SneakyTensor)
    back = decode(*encode(sneaky))
    assert type(back) is torch.Tensor and not torch.equal(back, torch.tensor([9.0, 9.0]))


@pytest.mark.parametrize("text, blob, message", [
    (pickle.dumps({"a": 1}), b"", "text: expected JSON"),
    ("not json", b"", "text: expected JSON"),
    ("NaN", b"", "text: expected no bare NaN"),
    ('{"__reduce__": 1}', b"", "value: expected a value or one of the markers"),
    ('{"tuple": [1], "dict": []}', b"", "value: expected a value or one of the markers"),
    ('{"float": "1e400"}', b"", "value: expected a value or one of the markers"),
    ('{"dict": [["a", 1], ["a", 2]]}', b"", "value: expected distinct dict keys"),
    ('{"dict": [[[1], 2]]}', b"", r"value: expected distinct dict keys of None, .* got \[\[1\]\]"),
    ('{"dict": [[1, 2, 3]]}', b"", "value: expected a value or one of the markers"),
    ('{"tensor": "t0"}', b"", "value: expected a tensor of the blob used once, got 't0'"),
    ('[{"tensor": "t0"}, {"tensor": "t0"}]', None, r"value\[1\]: expected a tensor of the blob used once"),
    ("1", None, r"blob: expected only the tensors the text refers to, got \['t0'\] besides"),
    ('{"tensor": "t0"}', b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage", "blob: expected a safetensors buffer"),
])
def test_malformed_data_is_refused_and_runs_nothing(text, blob, message):
    if blob is None:
        blob = encode(torch.ones(1))[1]
    with pytest.raises(WireError, match=message):
        decode(text, blob)


def test_oversized_data_is_refused(monkeypatch):
    import autograder.wire as wire

    monkeypatch.setattr(wire, "MAX_TEXT_BYTES", 10)
    with pytest.raises(WireError, match="data: expected at most 10 bytes of JSON"):
        decode("[" + "1," * 10 + "1]")
