"""Exercise inputs across the boundary from the grader to a student's process: plain data and a few objects,
rebuilt from their state by allow-listed classes; never pickle.

:func:`encode_inputs` (grader) and :func:`decode_inputs` (the student's process) extend :mod:`autograder.wire`'s
plain data with the objects that exercises take as arguments: a CPU ``torch.Generator`` (its state), a
``random.Random`` (its ``getstate()``), a config dataclass of :data:`CONFIGS` (its fields), a module of
:data:`MODULES` (constructor arguments, ``state_dict``, ``requires_grad``, ``.grad`` and train mode) and an
optimiser of :data:`OPTIMIZERS` over the parameters of a module sent before it (its ``state_dict``). Decoding
calls only the allow-listed constructors (and ``load_state_dict``/``setstate``) on validated data. Only the
student's side decodes inputs: the grader reads results with :func:`autograder.wire.decode`, which refuses these
kinds (and this module is not what it imports to do so).

JSON forms, besides :mod:`autograder.wire`'s: ``{"generator": {"tensor": ...}}``, ``{"random": [3, [625 ints],
gauss_next]}``, and ``{"config": ...}``, ``{"module": ...}``, ``{"optimizer": ...}``, each holding the encoding
of a dict (class name and state, see :meth:`_InputEncoder.other`). Modules are numbered in the order their
encoding ends (nested ones first), so that an optimiser sent later can name its parameters as ``[module number,
parameter name]``.

Example:
    >>> text, blob = encode_inputs({"rng": random.Random(7)})
    >>> decode_inputs(text, blob)["rng"].random() == random.Random(7).random()
    True
    >>> from autograder.wire import decode
    >>> decode(text, blob)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    autograder.wire.WireError: value['rng']: expected a value or one of the markers tuple, dict, set, ...
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import random
from typing import Any, Callable

import torch
from torch import nn

from autograder.wire import WireError, _Decoder, _Encoder, _kind

#: The size of a CPU ``torch.Generator``'s state (mt19937 and its normal-sampling cache), in bytes.
GENERATOR_STATE_BYTES = torch.Generator().get_state().numel()


def _embedding_init(module: nn.Embedding) -> dict:
    return {"num_embeddings": module.num_embeddings, "embedding_dim": module.embedding_dim,
            "padding_idx": module.padding_idx, "max_norm": module.max_norm, "norm_type": module.norm_type,
            "scale_grad_by_freq": module.scale_grad_by_freq, "sparse": module.sparse}


def _classifier_init(module: nn.Module) -> dict:
    dense = module.head.dense
    return {"encoder": module.encoder, "num_labels": module.num_labels, "pooling": module.pooling,
            "hidden": None if dense is None else dense.out_features, "dropout": module.head.dropout.p}


#: Config dataclasses an input may hold: wire name -> import path. Rebuilt as ``cls(**fields)``.
CONFIGS: dict[str, str] = {
    "BlockConfig": "tlcourse.attention.block:BlockConfig",
    "BertConfig": "tlcourse.models.bert:BertConfig",
}
#: Modules an input may hold: wire name -> (import path, instance -> constructor keyword arguments).
MODULES: dict[str, tuple[str, Callable[[Any], dict]]] = {
    "Embedding": ("torch.nn:Embedding", _embedding_init),
    "BertModel": ("tlcourse.models.bert:BertModel",
                  lambda m: {"config": m.config, "add_pooling_layer": m.pooler is not None}),
    "BertForMaskedLM": ("tlcourse.models.bert_heads:BertForMaskedLM", lambda m: {"config": m.config}),
    "SequenceClassifier": ("tlcourse.finetuning.heads:SequenceClassifier", _classifier_init),
}
#: Optimisers an input may hold: wire name -> import path. Rebuilt over their parameters, then ``load_state_dict``.
OPTIMIZERS: dict[str, str] = {"SGD": "torch.optim:SGD", "AdamW": "torch.optim:AdamW"}


@functools.cache
def _allowed(path: str) -> type:
    """The class at ``"module:Class"``, one of the allow-lists' constant paths."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _wire_name(kind: type, paths: dict[str, str]) -> str | None:
    return next((name for name, path in paths.items() if _allowed(path) is kind), None)


def encode_inputs(value: Any) -> tuple[str, bytes]:
    """``value`` (plain data and allow-listed objects, module docstring) as JSON text and a safetensors buffer."""
    return _InputEncoder().run(value)


def decode_inputs(text: str | bytes, blob: bytes = b"") -> Any:
    """The value :func:`encode_inputs` wrote, its objects rebuilt; raise :class:`WireError` for anything else."""
    return _InputDecoder(text, blob).run()


class _InputEncoder(_Encoder):
    """:class:`autograder.wire._Encoder` with the allow-listed objects; every parameter of a module remembers the
    module's number and its name, so that an optimiser sent later can point at them."""

    def __init__(self) -> None:
        super().__init__()
        self.modules = 0
        self.parameters: dict[int, list] = {}  # id(parameter) -> [module number, parameter name]

    def other(self, value: Any, path: str) -> Any:
        """An allow-listed input object as ``{marker: encoding of {"class": name, ...its state}}``."""
        kind = type(value)
        if kind is torch.Generator and value.device.type == "cpu":
            return {"generator": self.value(value.get_state(), path)}
        if kind is random.Random:
            version, state, gauss = value.getstate()
            return {"random": [version, list(state), self.value(gauss, path)]}
        if dataclasses.is_dataclass(value) and _wire_name(kind, CONFIGS):
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.init}
            return {"config": self.value({"class": _wire_name(kind, CONFIGS), "fields": fields}, path)}
        module_name = _wire_name(kind, {name: p for name, (p, _) in MODULES.items()})
        if module_name is not None:
            return {"module": self.module(module_name, value, path)}
        if _wire_name(kind, OPTIMIZERS):
            return {"optimizer": self.optimizer(value, path)}
        raise WireError(f"{path}: expected None, bool, int, float, str, list, tuple, dict, set, frozenset, "
                        f"torch.Tensor or an allow-listed object (a CPU torch.Generator, a random.Random, a config "
                        f"{sorted(CONFIGS)}, a module {sorted(MODULES)}, an optimiser {sorted(OPTIMIZERS)}), got "
                        f"{_kind(value)}")

    def module(self, name: str, module: nn.Module, path: str) -> Any:
        modes = {m.training for m in module.modules()}
        if len(modes) != 1:
            raise WireError(f"{path}: expected a module whose submodules are all in train or all in eval mode")
        parameters = dict(module.named_parameters())
        data = self.value({"class": name, "init": MODULES[name][1](module), "state": dict(module.state_dict()),
                           "requires_grad": {n: p.requires_grad for n, p in parameters.items()},
                           "grad": {n: p.grad for n, p in parameters.items() if p.grad is not None},
                           "training": module.training}, path)
        for parameter_name, parameter in parameters.items():
            self.parameters[id(parameter)] = [self.modules, parameter_name]
        self.modules += 1
        return data

    def optimizer(self, optimizer: torch.optim.Optimizer, path: str) -> Any:
        groups = []
        for group in optimizer.param_groups:
            missing = [p for p in group["params"] if id(p) not in self.parameters]
            if missing:
                raise WireError(f"{path}: expected an optimiser of the parameters of a module sent before it, got "
                                f"{len(missing)} other parameters")
            groups.append([self.parameters[id(p)] for p in group["params"]])
        return self.value({"class": _wire_name(type(optimizer), OPTIMIZERS), "params": groups,
                           "state": optimizer.state_dict()}, path)


class _InputDecoder(_Decoder):
    """:class:`autograder.wire._Decoder` that rebuilds the allow-listed objects, modules numbered as
    :class:`_InputEncoder` numbers them."""

    OBJECT_MARKERS = ("generator", "random", "config", "module", "optimizer")

    def __init__(self, text: str | bytes, blob: bytes):
        super().__init__(text, blob)
        self.modules: list[nn.Module] = []

    def fields(self, content: Any, path: str, expected: dict[str, tuple[Callable[[Any], bool], str]],
               objects: bool) -> dict:
        """The dict encoded in an object marker: exactly the ``expected`` keys, each value passing its test
        (``expected[key] = (test, what the value must be)``)."""
        value = self.value(content, path, objects)
        if type(value) is not dict or set(value) != set(expected):
            raise WireError(f"{path}: expected a dict of {sorted(expected)}, got {value!r:.200}")
        bad = next((k for k, (test, _) in expected.items() if not test(value[k])), None)
        if bad is not None:
            raise WireError(f"{path}[{bad!r}]: expected {expected[bad][1]}, got {value[bad]!r:.200}")
        return value

    def generator(self, content: Any, path: str) -> torch.Generator:
        state = self.value(content, path, False)
        if type(state) is not torch.Tensor or state.dtype != torch.uint8 or state.shape != (GENERATOR_STATE_BYTES,):
            got = f"shape {tuple(state.shape)} and dtype {state.dtype}" if type(state) is torch.Tensor else state
            raise WireError(f"{path}: expected a torch.Generator state of {GENERATOR_STATE_BYTES} bytes (uint8), got "
                            f"{got!r:.200}")
        return _built(path, "torch.Generator", lambda: torch.Generator().set_state(state))

    def random(self, content: Any, path: str) -> random.Random:
        ok = (type(content) is list and len(content) == 3 and content[0] == 3 and type(content[1]) is list
              and len(content[1]) == 625 and all(type(x) is int and 0 <= x < 2**32 for x in content[1])
              and content[1][-1] <= 624 and (content[2] is None or type(content[2]) is float))
        if not ok:
            raise WireError(f"{path}: expected a random.Random state [3, [625 ints of 32 bits], None or a float], got "
                            f"{content!r:.200}")
        rng = random.Random()
        _built(path, "random.Random", lambda: rng.setstate((3, tuple(content[1]), content[2])))
        return rng

    def config(self, content: Any, path: str) -> Any:
        value = self.fields(content, path, {"class": _one_of(CONFIGS), "fields": _STR_DICT}, objects=False)
        cls = _allowed(CONFIGS[value["class"]])
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        if not set(value["fields"]) <= names:
            raise WireError(f"{path}: expected fields of {value['class']} {sorted(names)}, got "
                            f"{sorted(set(value['fields']) - names)} besides")
        return _built(path, value["class"], lambda: cls(**value["fields"]))

    def module(self, content: Any, path: str) -> nn.Module:
        value = self.fields(content, path, {"class": _one_of(MODULES), "init": _STR_DICT, "state": _TENSOR_DICT,
                                            "requires_grad": (_is_bool_dict, "a dict of str to bool"),
                                            "grad": _TENSOR_DICT, "training": (_is_bool, "a bool")}, objects=True)
        module = _built(path, value["class"], lambda: _allowed(MODULES[value["class"]][0])(**value["init"]))
        parameters = dict(module.named_parameters())
        if set(value["requires_grad"]) != set(parameters) or not set(value["grad"]) <= set(parameters):
            raise WireError(f"{path}: expected requires_grad and grad of the parameters {sorted(parameters)}, got "
                            f"{sorted(value['requires_grad'])} and {sorted(value['grad'])}")

        def load() -> nn.Module:
            module.load_state_dict(value["state"])
            for name, parameter in parameters.items():
                parameter.requires_grad_(value["requires_grad"][name])
                parameter.grad = value["grad"].get(name)
            return module.train(value["training"])

        self.modules.append(_built(path, value["class"], load))
        return module

    def optimizer(self, content: Any, path: str) -> torch.optim.Optimizer:
        value = self.fields(content, path, {"class": _one_of(OPTIMIZERS), "state": _STR_DICT,
                                            "params": (_is_groups, "lists of [module number, parameter name]")},
                            objects=False)
        named = [dict(m.named_parameters()) for m in self.modules]
        if not all(number < len(named) and name in named[number] for group in value["params"]
                   for number, name in group):
            raise WireError(f"{path}['params']: expected [module number, parameter name] of modules sent before, got "
                            f"{value['params']!r:.200}")
        groups = [{"params": [named[number][name] for number, name in group]} for group in value["params"]]

        def build() -> torch.optim.Optimizer:
            optimizer = _allowed(OPTIMIZERS[value["class"]])(groups)
            optimizer.load_state_dict(value["state"])
            return optimizer

        return _built(path, value["class"], build)


def _built(path: str, name: str, build: Callable[[], Any]) -> Any:
    """``build()``, its errors (invalid sizes, states, names) as a :class:`WireError` at ``path``."""
    try:
        return build()
    except Exception as error:
        raise WireError(f"{path}: could not rebuild the {name}: {type(error).__name__}: {error}"[:1000]) from None


def _one_of(allowed: dict) -> tuple[Callable[[Any], bool], str]:
    return (lambda name: type(name) is str and name in allowed), f"one of the allow-listed {sorted(allowed)}"


def _is_bool(value: Any) -> bool:
    return type(value) is bool


def _is_str_dict(value: Any) -> bool:
    return type(value) is dict and all(type(k) is str for k in value)


def _is_tensor_dict(value: Any) -> bool:
    return _is_str_dict(value) and all(type(v) is torch.Tensor for v in value.values())


def _is_bool_dict(value: Any) -> bool:
    return _is_str_dict(value) and all(map(_is_bool, value.values()))


_STR_DICT = (_is_str_dict, "a dict with str keys")
_TENSOR_DICT = (_is_tensor_dict, "a dict of str to tensors")


def _is_groups(value: Any) -> bool:
    return type(value) is list and all(
        type(group) is list and all(type(ref) is list and len(ref) == 2 and type(ref[0]) is int and ref[0] >= 0
                                    and type(ref[1]) is str for ref in group) for group in value)
