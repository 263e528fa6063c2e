"""autograder.forbid: inside ``guard(name, namespace)`` tlcourse's reference for ``name`` and the library functions
the exercise forbids raise ``Forbidden`` wherever they were kept; afterwards everything is back, and the
instructor's solutions never trip it."""

from __future__ import annotations

import ast
import copy
import importlib
import sys
import time
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import tlcourse.attention as att
from autograder import forbid
from autograder.forbid import Forbidden, capture, guard, used
from autograder.remote import notebook_cells
from tlcourse.attention import masks, multi_head
from tlcourse.checks import REFERENCE_CALLS
from tlcourse.exercises import EXERCISES, get_exercise

SOLUTIONS = Path(__file__).resolve().parent.parent / "solutions"
SDPA = "scaled_dot_product_attention"
Q = torch.randn(1, 2, 3, 4, generator=torch.Generator().manual_seed(0))


def student(source: str, **names) -> dict:
    """A namespace in which the student's ``source`` ran, as the harness builds it."""
    namespace = {"__name__": "__main__", "att": att, "torch": torch, "F": F, "nn": nn, **names}
    exec(compile(source, "<cell 0>", "exec"), namespace)
    return namespace


def refused(name: str, namespace: dict, call) -> str:
    """The message of the ``Forbidden`` that ``call()`` raises inside ``guard(name, namespace)``."""
    with guard(name, namespace), pytest.raises(Forbidden) as refusal:
        call()
    assert used(name)
    return str(refusal.value)


def test_a_direct_call_of_the_reference_is_refused():
    namespace = student("def causal_mask(Tq, Tk=None):\n    return att.causal_mask(Tq, Tk)\n")
    message = refused("causal_mask", namespace, lambda: namespace["causal_mask"](3))
    assert message == "causal_mask is tlcourse's reference: write your own"


def test_an_alias_taken_before_the_block_is_refused():
    namespace = student("from tlcourse.attention.masks import causal_mask as cm\n"
                        "def causal_mask(Tq, Tk=None):\n    return cm(Tq, Tk)\n")
    refused("causal_mask", namespace, lambda: namespace["causal_mask"](3))
    kept_elsewhere = (att.causal_mask,)  # a tuple, which the guard cannot change: the function itself refuses
    refused("causal_mask", namespace, lambda: kept_elsewhere[0](3))


def test_default_arguments_and_closures_are_refused():
    namespace = student(
        "def by_default(Tq, _ref=att.causal_mask):\n    return _ref(Tq)\n"
        "def by_keyword(Tq, *, _ref=att.causal_mask):\n    return _ref(Tq)\n"
        "def make():\n    ref = att.causal_mask\n    return lambda Tq: ref(Tq)\n"
        "by_closure = make()\nkept = [att.causal_mask]\n")
    for helper in ("by_default", "by_keyword", "by_closure"):
        refused("causal_mask", namespace, lambda: namespace[helper](2))
    refused("causal_mask", namespace, lambda: namespace["kept"][0](2))
    assert namespace["by_default"].__defaults__ == (att.causal_mask,)
    assert namespace["by_keyword"].__kwdefaults__ == {"_ref": att.causal_mask}
    assert namespace["by_closure"].__closure__[0].cell_contents is att.causal_mask
    assert namespace["kept"] == [att.causal_mask] and namespace["by_closure"](1).tolist() == [[True]]


def test_the_raw_function_behind_wrapped_is_refused():
    raw = att.causal_mask.__wrapped__
    namespace = student("raw = att.causal_mask.__wrapped__\n")
    refused("causal_mask", namespace, lambda: raw(2))
    refused("causal_mask", namespace, lambda: namespace["raw"](2))
    refused("causal_mask", namespace, lambda: att.causal_mask.__wrapped__(2))
    assert att.causal_mask.__wrapped__ is raw and raw(1).tolist() == [[True]]


def test_catching_the_refusal_still_counts_and_resetting_the_counter_does_not_help():
    namespace = student(
        "from tlcourse.checks import REFERENCE_CALLS\n"
        "def causal_mask(Tq, Tk=None):\n"
        "    REFERENCE_CALLS.clear()\n"
        "    try:\n        return att.causal_mask(Tq, Tk)\n"
        "    except BaseException:\n        return torch.ones(Tq, Tq, dtype=torch.bool).tril()\n")
    with guard("causal_mask", namespace):
        namespace["causal_mask"](2)
    assert used("causal_mask") and REFERENCE_CALLS["causal_mask"] == 0
    with guard("causal_mask", namespace):  # a new guard starts afresh
        pass
    assert not used("causal_mask")


def test_except_exception_does_not_swallow_the_refusal():
    namespace = student("def causal_mask(Tq, Tk=None):\n    try:\n        return att.causal_mask(Tq, Tk)\n"
                        "    except Exception:\n        return None\n")
    refused("causal_mask", namespace, lambda: namespace["causal_mask"](2))


def test_fused_attention_is_refused_only_in_the_attention_exercises():
    namespace = student("def attend(q):\n    return F.scaled_dot_product_attention(q, q, q)\n"
                        "fused = torch.nn.functional.scaled_dot_product_attention\n")
    message = refused(SDPA, namespace, lambda: namespace["attend"](Q))
    assert message == f"torch.nn.functional.scaled_dot_product_attention is not allowed in {SDPA}: write your own"
    refused(SDPA, namespace, lambda: namespace["fused"](Q, Q, Q))
    refused("MultiHeadAttention", namespace, lambda: namespace["attend"](Q))
    with guard(SDPA, namespace):
        torch.softmax(Q, -1), F.softmax(Q, -1), Q.softmax(-1), F.linear(Q, torch.eye(4))
    with guard("causal_mask", namespace):
        namespace["attend"](Q)
    assert not used("causal_mask")
    assert torch.equal(namespace["attend"](Q), F.scaled_dot_product_attention(Q, Q, Q))


def test_the_reference_class_of_a_module_exercise_is_refused():
    built = att.MultiHeadAttention(8, 2)
    forward = att.MultiHeadAttention.forward
    namespace = student(
        "class Derived(att.MultiHeadAttention):\n    pass\n"
        "class Detached(att.MultiHeadAttention):\n"
        "    def __init__(self, d_model, n_heads):\n        nn.Module.__init__(self)\n"
        "    def forward(self, x, mask=None):\n        return x\n"
        "class Wrapped(nn.Module):\n"
        "    def __init__(self, d_model, n_heads):\n        super().__init__()\n"
        "        self.inner = nn.MultiheadAttention(d_model, n_heads, batch_first=True)\n")
    x = torch.randn(2, 5, 8)
    name = "MultiHeadAttention"
    assert refused(name, namespace, lambda: att.MultiHeadAttention(8, 2)) == f"{name} is tlcourse's reference: " \
                                                                              "write your own"
    refused(name, namespace, lambda: built(x))
    refused(name, namespace, lambda: forward(built, x))
    for cls in ("Derived", "Detached", "Wrapped"):
        refused(name, namespace, lambda: namespace[cls](8, 2))
    refused(name, namespace, lambda: F.multi_head_attention_forward(x, x, x))
    assert namespace["Detached"](8, 2)(x) is x and built(x).shape == (2, 5, 8)
    assert att.MultiHeadAttention.forward is forward and nn.MultiheadAttention(8, 2)


def test_peft_is_refused_inside_the_lora_exercises():
    import peft
    from peft.tuners.lora.layer import Linear

    def lora_layer():
        return Linear(nn.Linear(2, 2), "default", config=peft.LoraConfig(r=1), r=1)

    loaded = {m: sys.modules[m] for m in sys.modules if m == "peft" or m.startswith("peft.")}
    namespace = student("import peft as hf_peft\nfrom peft import get_peft_model\nfrom tlcourse import peft\n")
    for name in ("lora_forward", "merge_lora"):
        assert refused(name, namespace, lambda: importlib.import_module("peft")) == \
            f"peft is not allowed in {name}: write your own"
        refused(name, namespace, lambda: exec("from peft.tuners import lora", {}))
        refused(name, namespace, lora_layer)
        refused(name, namespace, lambda: namespace["hf_peft"].LoraConfig)
        refused(name, namespace, lambda: namespace["get_peft_model"](nn.Linear(2, 2), None))
        with guard(name, namespace):
            assert callable(namespace["peft"].lora.merge_lora)  # tlcourse.peft is not the library
    assert {m: sys.modules.get(m) for m in loaded} == loaded and namespace["hf_peft"] is peft
    assert isinstance(lora_layer(), Linear)
    with guard("adapter_forward", namespace):
        importlib.import_module("peft.tuners.lora")


def places(namespace: dict) -> dict:
    """Identity snapshot of what the guards touch."""
    classes = (att.MultiHeadAttention, nn.MultiheadAttention, nn.TransformerEncoderLayer)
    functions = [att.causal_mask, att.causal_mask.__wrapped__, att.MultiHeadAttention.forward,
                 att.MultiHeadAttention.forward.__wrapped__]
    return {
        "namespace": {k: id(v) for k, v in namespace.items()},
        "modules": {m: {k: id(v) for k, v in vars(sys.modules[m]).items()}
                    for m in ("torch.nn.functional", "torch._C._nn", "tlcourse.attention", "tlcourse.attention.masks",
                              "tlcourse.attention.multi_head", "tlcourse.attention.scaled_dot_product")},
        "classes": {c: {k: id(v) for k, v in vars(c).items()} for c in classes},
        "codes": [id(f.__code__) for f in functions],
        "cells": [id(c.cell_contents) for c in att.causal_mask.__closure__],
        "meta_path": [id(f) for f in sys.meta_path],
        "sys.modules": {k: id(v) for k, v in sys.modules.items()},
    }


def test_everything_is_restored_even_when_the_block_raises_and_guards_nest():
    namespace = student("from tlcourse.attention.masks import causal_mask\nref = att.MultiHeadAttention\n"
                        "fused = F.scaled_dot_product_attention\n")
    before, fused = places(namespace), F.scaled_dot_product_attention
    with pytest.raises(ZeroDivisionError):
        with guard("causal_mask", namespace):
            1 / 0
    with guard(SDPA, namespace), guard("MultiHeadAttention", namespace), guard(SDPA, namespace):
        assert namespace["fused"] is F.scaled_dot_product_attention is not fused
        with pytest.raises(Forbidden):
            F.scaled_dot_product_attention(Q, Q, Q)
    with guard("lora_forward", namespace), guard("TransformerBlock", namespace):
        pass
    assert places(namespace) == before
    assert namespace["causal_mask"] is masks.causal_mask is att.causal_mask


def test_tlcourse_uses_its_references_after_a_guard():
    for name in (SDPA, "MultiHeadAttention", "causal_mask"):
        with guard(name, {}):
            pass
    torch.manual_seed(0)
    for use_sdpa in (True, False):
        mha = att.MultiHeadAttention(8, 2, use_sdpa=use_sdpa).eval()
        y, weights = mha(torch.randn(2, 5, 8), att.causal_mask(5), return_weights=True)
        assert y.shape == (2, 5, 8) and torch.allclose(weights.sum(-1), torch.ones(2, 2, 5))
    out, _ = att.scaled_dot_product_attention(Q, Q, Q)
    assert torch.allclose(out, F.scaled_dot_product_attention(Q, Q, Q), atol=1e-6)


def test_a_guard_is_cheap_once_its_places_are_known():
    namespace = student("def attend(q):\n    return F.scaled_dot_product_attention(q, q, q)\n")
    for name in (SDPA, "lora_forward", "MultiHeadAttention"):
        with guard(name, namespace):
            pass
        times = []
        for _ in range(20):
            start = time.perf_counter()
            with guard(name, namespace):
                pass
            times.append(time.perf_counter() - start)
        assert sorted(times)[10] < 0.02, (name, sorted(times)[10])


# --- capture: the genuine objects, taken before the student's cells ran ----------------------------------------

#: A student's own causal mask, installed where tlcourse (and its MultiHeadAttention) looks it up.
OWN = ("calls = []\ndef mine(Tq, Tk=None, *, device=None):\n    calls.append(Tq)\n    Tk = Tq if Tk is None else Tk\n"
       "    return torch.ones(Tq, Tk, dtype=torch.bool, device=device).tril(Tk - Tq)\n"
       "import tlcourse.attention.masks, tlcourse.attention.multi_head\n"
       "for module in (att, tlcourse.attention.masks, tlcourse.attention.multi_head):\n    module.causal_mask = mine\n")


@pytest.fixture
def captured(monkeypatch):
    """``capture(["causal_mask"])`` with no plan yet, as the harness calls it before the student's cells; what the
    student puts into tlcourse is put back after the test. Returns the genuine reference."""
    monkeypatch.setattr(forbid, "_PLANS", {})
    for module in (att, masks, multi_head):
        monkeypatch.setattr(module, "causal_mask", module.causal_mask)
    capture(["causal_mask"])
    return att.causal_mask


def identities(namespace: dict, reference) -> list:
    return [{k: id(v) for k, v in d.items()} for d in (namespace, vars(att), vars(masks), vars(multi_head))] + [
        reference.__code__, reference.__wrapped__.__code__, reference.__wrapped__]


def test_a_decoy_at_the_import_path_leaves_the_captured_reference_refused(captured):
    namespace = student("real, alias = att.causal_mask.__wrapped__, att.causal_mask\n" + OWN
                        + "def causal_mask(Tq, Tk=None):\n    return real(Tq, Tk)\n")
    before = identities(namespace, captured)
    for call in (namespace["causal_mask"], namespace["alias"], captured, captured.__wrapped__):
        refused("causal_mask", namespace, lambda: call(3))
    with guard("causal_mask", namespace):  # the decoy is the student's own function
        assert masks.causal_mask(2, 3).tolist() == [[True, True, False], [True, True, True]]
    assert not used("causal_mask") and identities(namespace, captured) == before
    assert att.causal_mask is namespace["mine"] and namespace["causal_mask"](1).tolist() == [[True]]


def test_the_students_own_function_installed_in_tlcourse_is_not_refused(captured):
    namespace = student(OWN + "def causal_mask(Tq, Tk=None):\n    return mine(Tq, Tk)\n")
    before, x = identities(namespace, captured), torch.randn(2, 5, 8)
    mha = att.MultiHeadAttention(8, 2, use_sdpa=False).eval()
    with guard("causal_mask", namespace):
        assert namespace["causal_mask"](2, 3).tolist() == [[True, True, False], [True, True, True]]
        y = mha(x, is_causal=True)  # tlcourse looks causal_mask up in its module: the student's
    assert not used("causal_mask") and namespace["calls"] == [2, 5] and identities(namespace, captured) == before
    assert torch.allclose(y, mha(x, captured(5))) and att.causal_mask is namespace["mine"]


# --- the instructor's solutions never trip a guard ----------------------------------------------------------

def solution_namespace(assignment: str) -> dict:
    """The solution notebook's answer cells, run after the imports of its setup cells (not the setup itself,
    which loads and trains models)."""
    notebook = nbformat.read(SOLUTIONS / assignment / f"{assignment}.ipynb", as_version=4)
    cells = notebook_cells(notebook)
    answers = [c for c in cells if "BEGIN SOLUTION" in c]
    namespace: dict = {"__name__": "__main__"}
    for cell in cells[: len(cells) - len(answers)]:
        imports = [node for node in ast.parse(cell).body if isinstance(node, (ast.Import, ast.ImportFrom))]
        exec(compile(ast.Module(imports, type_ignores=[]), "<setup>", "exec"), namespace)
    for number, cell in enumerate(answers):
        exec(compile(cell, f"<answer {number}>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("assignment", sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir()))
def test_the_solutions_never_trip_a_guard(assignment):
    """Every exercise of every assignment (modules constructed from ``case.init``) on its public cases."""
    namespace = solution_namespace(assignment)
    names = [name for name in EXERCISES if name in namespace]
    assert names, f"{assignment}: no exercise defined"
    for name in names:
        exercise, student_fn = get_exercise(name), namespace[name]
        is_module = isinstance(exercise.reference_function(), type)
        for case in exercise.cases("public"):
            args, kwargs = copy.deepcopy((case.args, case.kwargs))
            if exercise.prepare is not None:
                exercise.prepare(args, kwargs)
            with guard(name, namespace):
                if is_module:
                    torch.manual_seed(0)
                    student_fn(**copy.deepcopy(case.init or {})).eval()(*args, **kwargs)
                else:
                    student_fn(*args, **kwargs)
            assert not used(name), (name, case.note)
