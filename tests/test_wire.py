"""The grader's wire format: values round-trip exactly, nothing else crosses, and no data runs code; the inputs'
objects are rebuilt only from allow-listed classes, and only on the student's side."""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
import random

import pytest
import torch
from torch import nn

from autograder.inputs import GENERATOR_STATE_BYTES, decode_inputs, encode_inputs
from autograder.wire import WireError, decode, encode
from tlcourse.attention.block import BlockConfig
from tlcourse.finetuning.heads import SequenceClassifier
from tlcourse.models import BertConfig, BertForMaskedLM, BertModel


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
    {"a", "b", ("c", 1)}, frozenset({1, 2.5, None}), set(), [{True}, {"k": frozenset()}],  # a WordPiece vocab
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
    if isinstance(a, (set, frozenset)):
        return a == b and all(type(x) is type(y) for x, y in zip(sorted(a, key=repr), sorted(b, key=repr)))
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
    (AlwaysEqual(), "value: expected None, bool, int, float, str, list, tuple, dict, set, frozenset or "
                    "torch.Tensor, got test_wire.AlwaysEqual"),
    ([1, {"k": LyingInt(3)}], r"value\[1\]\['k'\]: expected None, .* got test_wire.LyingInt"),
    ({frozenset(): "a"}, r"value: expected dict keys and set items of None, bool, int, float, str or tuples of "
                         r"them, got frozenset\(\) \(frozenset\)"),
    ({LyingInt(1): 0}, r"got 1 \(LyingInt\)"),
    ([{torch.ones(1)}], r"value\[0\]: expected dict keys and set items .* \(Tensor\)"),
    (torch.Generator(), "got torch._C.Generator"),  # objects are inputs only
    (random.Random(0), "got random.Random"),
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


def test_set_items_must_be_distinct_plain_keys():
    with pytest.raises(WireError, match=r"value: expected distinct set items of None, .* got \[1, 1\]"):
        decode('{"set": [1, 1]}')
    with pytest.raises(WireError, match="value: expected distinct set items"):
        decode('{"frozenset": [{"tensor": "t0"}]}', encode(torch.ones(1))[1])


# --- the objects of exercise inputs --------------------------------------------------------------------------

def _tiny_bert() -> BertConfig:
    return BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
                      max_position_embeddings=16, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def _round_trip(value):
    return decode_inputs(*encode_inputs(value))


def _same_module(a: nn.Module, b: nn.Module) -> bool:
    return (type(a) is type(b) and a.training == b.training and list(a.state_dict()) == list(b.state_dict())
            and all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
            and [(n, p.requires_grad, p.grad) for n, p in a.named_parameters() if p.grad is None]
            == [(n, p.requires_grad, p.grad) for n, p in b.named_parameters() if p.grad is None]
            and all(torch.equal(p.grad, q.grad) for p, q in zip(a.parameters(), b.parameters()) if p.grad is not None))


def test_generators_and_rngs_cross_as_their_state_and_draw_the_same():
    generator = torch.Generator().manual_seed(5)
    torch.rand(3, generator=generator)
    rng = random.Random(9)
    rng.gauss(0, 1)  # gauss_next is part of the state
    back = _round_trip({"generator": generator, "rng": rng})
    assert type(back["generator"]) is torch.Generator and type(back["rng"]) is random.Random
    assert torch.equal(torch.rand(4, generator=back["generator"]), torch.rand(4, generator=generator))
    assert back["rng"].gauss(0, 1) == rng.gauss(0, 1) and back["rng"].random() == rng.random()


def test_configs_cross_by_their_fields():
    for config in (BlockConfig.bert(d_model=8, n_heads=2, d_ff=16), _tiny_bert()):
        back = _round_trip([config])[0]
        assert type(back) is type(config) and dataclasses.asdict(back) == dataclasses.asdict(config)


def test_modules_cross_with_weights_trainable_flags_gradients_and_mode():
    torch.manual_seed(0)
    embedding = nn.Embedding(5, 3, padding_idx=0).eval()
    embedding.weight.requires_grad_(False)
    classifier = SequenceClassifier(BertModel(_tiny_bert()), 3, pooling="mean", dropout=0.0)
    classifier.encoder.embeddings.requires_grad_(False)
    classifier(torch.tensor([[2, 5, 7]]), labels=torch.tensor([1])).loss.backward()
    tied = BertForMaskedLM(_tiny_bert())
    back = _round_trip((embedding, classifier, tied))
    assert all(_same_module(a, b) for a, b in zip((embedding, classifier, tied), back))
    assert back[0].padding_idx == 0 and back[1].pooling == "mean"
    assert back[2].decoder.weight is back[2].bert.embeddings.word_embeddings.weight  # the tie is the class's own


def test_an_optimiser_crosses_over_the_parameters_of_the_model_sent_before_it():
    torch.manual_seed(0)
    model = SequenceClassifier(BertModel(_tiny_bert()), 2, pooling="cls")
    model.encoder.requires_grad_(False)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.05)
    batch = {"input_ids": torch.tensor([[2, 5, 7]]), "labels": torch.tensor([1])}
    model(**batch).loss.backward()
    optimizer.step()  # AdamW now has per-parameter state
    back_model, back_optimizer = _round_trip([model, optimizer])
    assert type(back_optimizer) is torch.optim.AdamW and back_optimizer.param_groups[0]["lr"] == 0.05
    parameters = {id(p) for p in back_model.parameters()}
    assert all(id(p) in parameters for p in back_optimizer.param_groups[0]["params"])
    for back, original in ((back_model, model), (back_optimizer, optimizer)):
        back.zero_grad()
        original.zero_grad()
    for m, o in ((model, optimizer), (back_model, back_optimizer)):
        m(**batch).loss.backward()
        o.step()
    assert _same_module(back_model, model)


@pytest.mark.parametrize("value, message", [
    (nn.Linear(2, 2), r"value\[0\]: expected .* an allow-listed object .* got torch.nn.modules.linear.Linear"),
    (BertModel(_tiny_bert()).embeddings, "got tlcourse.models.bert.BertEmbeddings"),
    (dataclasses.make_dataclass("BlockConfig", [("d_model", int)])(8), "got types.BlockConfig"),  # a namesake
    (torch.optim.SGD([nn.Parameter(torch.ones(1))], lr=0.1), r"value\[0\]: expected an optimiser of the parameters "
                                                             "of a module sent before it, got 1 other parameters"),
])
def test_only_allow_listed_objects_are_sent(value, message):
    with pytest.raises(WireError, match=message):
        encode_inputs([value])


def _inputs_json(value) -> tuple[dict, bytes]:
    text, blob = encode_inputs(value)
    return json.loads(text), blob


@pytest.mark.parametrize("value", [torch.Generator(), random.Random(1), _tiny_bert(), nn.Embedding(2, 2),
                                   [nn.Embedding(2, 2), torch.optim.SGD(nn.Embedding(2, 2).parameters())]],
                         ids=["generator", "random", "config", "module", "optimizer"])
def test_the_graders_decode_refuses_every_object_kind(value):
    """A student's process cannot make the grader construct anything: results are read as plain data."""
    if isinstance(value, list):  # an optimiser over the module before it
        value[1].param_groups[0]["params"] = list(value[0].parameters())
    with pytest.raises(WireError, match=r"expected a value or one of the markers tuple, dict, set, frozenset, float, "
                                        r"tensor, got \{'(generator|random|config|module|optimizer)'"):
        decode(*encode_inputs([value]))


def _generator_state(size: int, dtype=torch.uint8) -> bytes:
    return encode(torch.zeros(size, dtype=dtype))[1]


def _module_json(**changes) -> tuple[str, bytes]:
    torch.manual_seed(0)  # the same weights in every process that collects the tests (pytest-xdist compares ids)
    data, blob = _inputs_json([nn.Embedding(2, 2)])
    fields = dict(data[0]["module"]["dict"])
    fields.update(changes)
    data[0]["module"]["dict"] = [list(item) for item in fields.items()]
    return json.dumps(data), blob


@pytest.mark.parametrize("text, blob, message", [
    ('{"generator": {"tensor": "t0"}}', _generator_state(10),
     rf"value: expected a torch.Generator state of {GENERATOR_STATE_BYTES} bytes \(uint8\), got 'shape \(10,\)"),
    ('{"generator": {"tensor": "t0"}}', _generator_state(GENERATOR_STATE_BYTES, torch.int8), "dtype torch.int8"),
    ('{"generator": 3}', b"", "value: expected a torch.Generator state"),
    ('{"random": [3, [1, 2, 3], null]}', b"", r"value: expected a random.Random state \[3, \[625 ints"),
    ('{"random": [2, [' + ", ".join(["1"] * 625) + '], null]}', b"", "value: expected a random.Random state"),
    ('{"random": [3, [' + ", ".join(["1"] * 624) + ', 625], null]}', b"", "value: expected a random.Random state"),
    ('[{"config": {"dict": [["class", "os:system"], ["fields", {"dict": []}]]}}]', b"",
     r"value\[0\]\['class'\]: expected one of the allow-listed \['BertConfig', 'BlockConfig'\], got 'os:system'"),
    ('{"config": {"dict": [["class", "BlockConfig"], ["fields", {"dict": [["__class__", 1]]}]]}}', b"",
     r"value: expected fields of BlockConfig \[.*\], got \['__class__'\] besides"),
    ('{"config": {"dict": [["class", "BlockConfig"], ["fields", {"dict": [["d_model", 3], ["n_heads", 2], '
     '["d_ff", 4]]}]]}}', b"", "value: could not rebuild the BlockConfig: ValueError: d_model: expected a multiple"),
    ('{"config": {"dict": [["class", "BertConfig"], ["fields", {"dict": [["hidden_act", {"module": 1}]]}]]}}', b"",
     r"value\['fields'\]\['hidden_act'\]: expected a value or one of the markers tuple, dict, set, frozenset, "
     r"float, tensor, got"),
    (*_module_json(**{"class": "Sequential"}), r"value\[0\]\['class'\]: expected one of the allow-listed"),
    (*_module_json(init={"dict": [["num_embeddings", 2], ["embedding_dim", 3]]}),
     r"value\[0\]: could not rebuild the Embedding: RuntimeError: Error\(s\) in loading state_dict"),
    (*_module_json(requires_grad={"dict": [["bias", True]]}),
     r"value\[0\]: expected requires_grad and grad of the parameters \['weight'\]"),
    (*_module_json(training=1), r"value\[0\]\['training'\]: expected a bool, got 1"),
    ('[{"optimizer": {"dict": [["class", "SGD"], ["params", [[[0, "weight"]]]], ["state", {"dict": []}]]}}]', b"",
     r"value\[0\]\['params'\]: expected \[module number, parameter name\] of modules sent before"),
])
def test_malformed_inputs_are_refused_with_where(text, blob, message):
    with pytest.raises(WireError, match=message):
        decode_inputs(text, blob)
