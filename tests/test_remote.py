"""Out-of-process judging: right answers pass, wrong or hostile ones get the verdict they earned, whatever the
student's process does to itself, and hidden cases stay hidden; every registered exercise is judged so, modules,
RNGs and models among the inputs included."""

from __future__ import annotations

import math
import re
import time

import nbformat
import pytest

from autograder.course import SOLUTIONS, assignments
from autograder.examples import BUGS
from autograder.hardened import instructor_tests
from autograder.remote import COURSE, Budgets, Verdict, judge, notebook_cells, supported
from autograder.sandbox import Limits
from tlcourse.exercises import EXERCISES as REGISTERED

EXERCISES = ["adapter_forward", "adapter_parameter_count", "lora_forward", "merge_lora", "bitfit_parameters",
             "prompt_inputs"]
LIMITS = Limits(wall_seconds=60, cpu_seconds=60)


@pytest.fixture(scope="module")
def answers() -> dict[str, str]:
    """The instructor's answer cells of 07_peft, by exercise."""
    notebook = nbformat.read(SOLUTIONS / "07_peft" / "07_peft.ipynb", as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in notebook.cells
            if c.metadata.get("nbgrader", {}).get("solution") and not c.metadata["nbgrader"].get("grade")}


def _judge(answers: dict[str, str], limits: Limits = LIMITS, budgets: Budgets = Budgets(),
           **replaced: str) -> dict[str, Verdict]:
    cells = ["import torch"] + [replaced.get(name, source) for name, source in answers.items()]
    return judge(cells, EXERCISES, seed=7, limits=limits, budgets=budgets)


def _statuses(verdicts: dict[str, Verdict]) -> dict[str, str]:
    return {name: v.status for name, v in verdicts.items()}


def test_the_solutions_pass_every_case(answers):
    verdicts = _judge(answers)
    assert _statuses(verdicts) == dict.fromkeys(EXERCISES, "passed")
    lora = verdicts["lora_forward"]
    assert (lora.cases, lora.message) == (3 + 5, "lora_forward: 8 cases passed")


def test_the_example_bugs_fail_with_the_public_case_that_shows_them(answers):
    verdicts = _judge(answers, **BUGS["07_peft"])
    wrong = {"lora_forward", "bitfit_parameters", "prompt_inputs"}
    assert _statuses(verdicts) == {n: "failed" if n in wrong else "passed" for n in EXERCISES}
    assert verdicts["lora_forward"].message.startswith("lora_forward, public case 1 of 3 differs from the reference\n"
                                                       "  called with: ")


def test_the_notebook_cells_are_the_setup_then_the_answers():
    notebook = nbformat.read(SOLUTIONS / "07_peft" / "07_peft.ipynb", as_version=4)
    code = [c.source for c in notebook.cells if c.cell_type == "code"]
    first_answer = code.index(next(s for s in code if s.startswith("def adapter_forward(")))
    cells = notebook_cells(notebook)
    assert cells[:first_answer] == code[:first_answer] and cells[0].startswith("import copy")
    assert [c.split("(")[0] for c in cells[first_answer:]] == [f"def {name}" for name in EXERCISES]


def test_a_hidden_case_failure_shows_no_inputs_or_expected_values(answers):
    memorised = ("def adapter_parameter_count(d, m):\n"
                 "    return {(768, 48): 74544, (384, 24): 18840, (4, 1): 13}.get((d, m), 0)\n")
    verdict = _judge(answers, adapter_parameter_count=memorised)["adapter_parameter_count"]
    assert verdict.status == "failed"
    assert verdict.message == "adapter_parameter_count, hidden case 1 of 6 differs from the reference"


@pytest.mark.parametrize("name, source, status, message", [
    ("merge_lora", "from tlcourse.peft.lora import merge_lora", "forbidden",
     "merge_lora calls tlcourse's reference merge_lora"),  # refused by autograder.forbid's guard, or counted
    ("merge_lora", "import tlcourse.peft.lora as L\ndef merge_lora(weight, lora_A, lora_B, scaling):\n"
                   "    return L.merge_lora(weight, lora_A, lora_B, scaling)", "forbidden",
     "calls tlcourse's reference"),
    ("merge_lora", "def merge_lora(weight, lora_A, lora_B, scaling):\n    raise NotImplementedError()", "missing",
     "merge_lora is not implemented yet"),
    ("merge_lora", "from collections import Countr\ndef merge_lora(weight, lora_A, lora_B, scaling):\n    pass",
     "missing", "merge_lora is not defined (a cell raised ImportError: cannot import name 'Countr'"),
    ("merge_lora", "class Same:\n    def __eq__(self, other):\n        return True\n"
                   "def merge_lora(weight, lora_A, lora_B, scaling):\n    return Same()", "error",
     "it returned a __main__.Same, which cannot be graded"),
    ("merge_lora", "import tlcourse.checks, numpy\ntlcourse.checks.check = lambda *a, **k: None\n"
                   "numpy.testing.assert_allclose = lambda *a, **k: None\n"
                   "def merge_lora(weight, lora_A, lora_B, scaling):\n    return weight", "failed",
     "merge_lora, public case 1 of 3 differs from the reference"),
    ("merge_lora", "def merge_lora(weight, lora_A, lora_B, scaling):\n"
                   "    return (weight + scaling * lora_B @ lora_A).as_subclass(type('T', (torch.Tensor,), "
                   "{'__eq__': lambda s, o: True}))\n", "passed", ""),  # a subclass crosses as its numbers
    ("merge_lora", "class Forbidden(BaseException):\n    pass\n"
                   "def merge_lora(weight, lora_A, lora_B, scaling):\n    raise Forbidden('torch.addmm')", "forbidden",
     "merge_lora calls tlcourse's reference merge_lora (or a library function the exercise replaces): write your own"),
    ("merge_lora", "def merge_lora(weight, lora_A, lora_B, scaling):\n    return torch.Generator()", "error",
     "it returned a torch._C.Generator, which cannot be graded"),  # objects cross only into the sandbox
    ("merge_lora", "def merge_lora(weight, lora_A, lora_B, scaling):\n    return {1, 2}", "failed",
     "merge_lora, public case 1 of 3 differs from the reference"),  # a set is data: it differs, as in a notebook
    ("merge_lora", f"open({str(COURSE / 'solutions' / '07_peft' / '07_peft.ipynb')!r}).read()\n", "missing",
     "No such file or directory"),
])
def test_hostile_or_broken_answers_get_the_verdict_they_earned(answers, name, source, status, message):
    verdicts = _judge(answers, **{name: source})
    assert verdicts[name].status == status and message in verdicts[name].message, verdicts[name]
    assert {v.status for n, v in verdicts.items() if n != name} == {"passed"}  # the other exercises are unaffected


UNBOUNDED = Budgets(cell_seconds=math.inf, call_seconds=math.inf)


def test_a_dead_process_loses_the_unfinished_exercises_only(answers):
    """Without budgets, the limit of the whole process stops a hanging function, and what was left to run of it."""
    hang = "def bitfit_parameters(names):\n    while True:\n        pass\n"
    verdicts = _judge(answers, Limits(wall_seconds=20, cpu_seconds=60), UNBOUNDED, bitfit_parameters=hang)
    assert [verdicts[n].status for n in EXERCISES] == ["passed"] * 4 + ["timeout"] * 2
    assert verdicts["bitfit_parameters"].message.startswith("bitfit_parameters, public case 1 of 3: no result (it "
                                                            "ran longer than the limit of 20 s and was stopped)")
    exits = answers["prompt_inputs"] + "\nimport os\nos._exit(0)\n"
    verdicts = _judge(answers, prompt_inputs=exits)
    assert set(_statuses(verdicts).values()) == {"kernel died"}


# --- time budgets -------------------------------------------------------------------------------------------------

SPIN = "    while True:\n        pass\n"
# Code that catches the interruption and goes on: only stopping the process ends it.
STUBBORN = "    while True:\n        try:\n            while True:\n                pass\n        except BaseException:\n" \
           "            pass\n"


@pytest.mark.parametrize("body, how", [(SPIN, "interrupted after 2."), (STUBBORN, "stopped;")],
                         ids=["spins", "stubborn"])
def test_a_function_over_its_budget_loses_its_own_exercise_only(answers, body, how):
    budgets = Budgets(call_seconds=2, call_times=2)
    start = time.perf_counter()
    verdicts = _judge(answers, budgets=budgets, bitfit_parameters=f"def bitfit_parameters(names):\n{body}")
    seconds = time.perf_counter() - start
    assert _statuses(verdicts) == {**dict.fromkeys(EXERCISES, "passed"), "bitfit_parameters": "timeout"}
    message = verdicts["bitfit_parameters"].message
    assert message.startswith(f"bitfit_parameters, public case 1 of 3: no result (it ran longer than its budget of 2 s "
                              f"and was {how}"), message
    assert re.search(r"; a call may take 2 times what the reference takes on the same case \([\d.e-]+ s\), and at "
                     r"least 2 s\)$", message), message
    assert seconds < LIMITS.wall_seconds, seconds  # far from the whole submission's limit


def test_a_cell_over_its_budget_is_interrupted_and_keeps_what_it_defined(answers):
    """As Jupyter's interrupt button would: the function defined before the loop is graded, and so is the rest."""
    hangs = answers["bitfit_parameters"] + "\nif True:\n" + SPIN
    verdicts = _judge(answers, budgets=Budgets(cell_seconds=3), bitfit_parameters=hangs)
    assert set(_statuses(verdicts).values()) == {"passed"}


def test_a_cell_that_defeats_the_interruption_is_left_out_and_the_rest_is_graded(answers):
    hangs = answers["bitfit_parameters"] + "\nif True:\n" + STUBBORN
    verdicts = _judge(answers, budgets=Budgets(cell_seconds=3), bitfit_parameters=hangs)
    assert {v.status for n, v in verdicts.items() if n != "bitfit_parameters"} == {"passed"}
    assert (verdicts["bitfit_parameters"].status, verdicts["bitfit_parameters"].message) == (
        "missing", "bitfit_parameters is not defined (a cell raised TimeoutError: it ran longer than its budget of "
                   "3 s and was stopped; the notebook was run again without it)")


def test_budgets_are_checked():
    with pytest.raises(ValueError, match="call_times: expected a positive number of seconds, got 0"):
        Budgets(call_times=0)


# --- every exercise: the instructor's answers pass, wrong ones fail -----------------------------------------------

SLOW = Limits(wall_seconds=300, cpu_seconds=300)
#: Appended to an assignment's answers: each exercise's function (or module class) returns a different answer of
#: the same kind (calls between the answers stay right, so that each exercise is wrong on its own account).
WRONG = """
import functools as _functools
import torch as _torch

_depth = [0]


def _wrong(value):
    if isinstance(value, _torch.Tensor):
        return ~value if value.dtype == _torch.bool else value + 1
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "?"
    if isinstance(value, (list, tuple)):
        return type(value)(map(_wrong, value)) if value else type(value)([0])
    if isinstance(value, dict):
        return {**value, "?": 0}
    return value


def _outermost_wrong(function):
    @_functools.wraps(function)
    def wrong(*args, **kwargs):
        _depth[0] += 1
        try:
            value = function(*args, **kwargs)
        finally:
            _depth[0] -= 1
        return value if _depth[0] else _wrong(value)
    return wrong


for _name in NAMES:
    _right = globals()[_name]
    if isinstance(_right, type):
        globals()[_name] = type(_name, (_right,), {"forward": _outermost_wrong(_right.forward)})
    else:
        globals()[_name] = _outermost_wrong(_right)
"""


def _answers(assignment: str) -> tuple[list[str], list[str]]:
    """The instructor's answer cells of ``assignment`` after its imports (the other setup cells load trained
    models, which the tests' private cache does not hold), and the exercises its test cells grade."""
    names = list(dict.fromkeys(t.exercise for t in instructor_tests(assignment)))
    notebook = nbformat.read(SOLUTIONS / assignment / f"{assignment}.ipynb", as_version=4)
    cells = [c for c in notebook.cells if c.cell_type == "code"]
    answers = [c.source for c in cells if c.metadata.get("nbgrader", {}).get("solution")
               and not c.metadata["nbgrader"].get("grade")]
    assert notebook_cells(notebook)[-len(answers):] == answers
    return [cells[0].source, *answers], names


def test_every_registered_exercise_is_supported_and_graded_by_an_assignment():
    assert [name for name, exercise in REGISTERED.items() if not supported(exercise)] == []
    assert {name for a in assignments() for name in _answers(a)[1]} == set(REGISTERED)


@pytest.mark.parametrize("assignment", assignments())
def test_the_instructors_answers_pass_and_wrong_ones_fail_for_every_exercise(assignment):
    cells, names = _answers(assignment)
    verdicts = judge(cells, names, seed=11, limits=SLOW)
    assert _statuses(verdicts) == dict.fromkeys(names, "passed"), verdicts
    verdicts = judge([*cells, WRONG.replace("NAMES", repr(names))], names, seed=11, limits=SLOW)
    assert _statuses(verdicts) == dict.fromkeys(names, "failed"), verdicts


def _replaced(assignment: str, **replacements: tuple[str, str]) -> dict[str, Verdict]:
    """Judge ``assignment``'s answers with ``replacements[name] = (old, new)`` applied to the answer of ``name``."""
    cells, names = _answers(assignment)
    for name, (old, new) in replacements.items():
        index = next(i for i, c in enumerate(cells) if c.startswith((f"def {name}(", f"class {name}(")))
        assert old in cells[index], (name, old)
        cells[index] = cells[index].replace(old, new)
    return judge(cells, names, seed=11, limits=SLOW)


def test_a_module_with_other_parameter_names_or_a_forgotten_layer_fails_with_the_reason():
    verdicts = _replaced("02_attention", MultiHeadAttention=("self.out", "self.proj"),
                         LMHead=("if bias else None", "if False else None"),
                         TransformerBlock=("return self.ln_2(x + self.drop(mlp(x)))", "return x + self.drop(mlp(x))"))
    assert verdicts["MultiHeadAttention"].message == (
        "MultiHeadAttention: expected parameters named ['key.bias', 'key.weight', 'out.bias', 'out.weight', "
        "'query.bias', 'query.weight', 'value.bias', 'value.weight'], got ['key.bias', 'key.weight', 'proj.bias', "
        "'proj.weight', 'query.bias', 'query.weight', 'value.bias', 'value.weight'] (missing ['out.bias', "
        "'out.weight'], unexpected ['proj.bias', 'proj.weight']); keep the names of the exercise, so that "
        "checkpoints load")
    assert verdicts["LMHead"].message.startswith("LMHead: expected parameters named ['bias', 'weight'], got "
                                                 "['weight'] (missing ['bias'], unexpected [])")
    assert verdicts["TransformerBlock"].message.startswith(  # the post-LN case: ln_2 left out
        "TransformerBlock, public case 2 of 3 differs from the reference\n  called with: constructed with "
        "config=BlockConfig(d_model=8, n_heads=2, d_ff=16")
    assert {n: v.status for n, v in verdicts.items() if v.status != "passed"} == dict.fromkeys(
        ["MultiHeadAttention", "TransformerBlock", "LMHead"], "failed")


def test_a_module_that_cannot_be_built_or_forgets_to_add_its_bias():
    verdicts = _replaced("02_attention", MultiHeadAttention=("super().__init__()", "raise ValueError('no')"),
                         TransformerBlock=("(nn.Module)", ""),
                         LMHead=("return logits if self.bias is None else logits + self.bias", "return logits"))
    message = verdicts["MultiHeadAttention"].message
    assert message.startswith("MultiHeadAttention, public case 1 of 4: constructing your module raised ValueError: no "
                              "(line ")
    assert message.endswith("called with: constructed with d_model=8, n_heads=2; forward(<tensor of shape (2, 5, 8), "
                            "torch.float32>)")
    assert verdicts["TransformerBlock"].message.startswith(
        "TransformerBlock, public case 1 of 3: constructing your module raised TypeError: expected an nn.Module, "
        "got TransformerBlock")
    assert verdicts["LMHead"].message.startswith("LMHead, public case 2 of 3 differs from the reference")
    assert [verdicts[n].status for n in ("MultiHeadAttention", "TransformerBlock", "LMHead")] == [
        "error", "error", "failed"]


def test_what_a_function_does_to_the_model_is_judged_here():
    """freeze_except and training_step: the flags and weights the student's call leaves in its models come back
    as data and are observed in the grader's process (.grad from the previous step crosses too)."""
    only_freezes = "requires_grad = parameter.requires_grad and name"  # never unfreezes: ben's bug
    verdicts = _replaced("06_finetuning", freeze_except=("requires_grad = name", only_freezes),
                         training_step=("    optimizer.zero_grad()\n", ""))
    assert verdicts["freeze_except"].message.startswith(
        "freeze_except, public case 3 of 5 differs from the reference\n  called with: <SequenceClassifier with ")
    assert verdicts["training_step"].message.startswith(
        "training_step, public case 1 of 3 differs from the reference\n  called with: <SequenceClassifier with ")
    assert _statuses(verdicts) == {**dict.fromkeys(_answers("06_finetuning")[1], "passed"),
                                   "freeze_except": "failed", "training_step": "failed"}


@pytest.mark.parametrize("ended, status", [("resource limit", "resource limit"), ("timeout", "timeout"),
                                           ("ok", "error")])
def test_a_result_cut_off_by_the_sandbox_counts_as_no_result(ended, status):
    """A process stopped by its limits while the harness wrote a result (an output flood) leaves half a file: the
    verdict is the limit, as if nothing were written; the same bytes from a process that ended by itself are an
    unreadable result."""
    from autograder.remote import _cases, _settled, _verdict
    from autograder.sandbox import SandboxResult
    from autograder.wire import WireError

    exercise = REGISTERED["merge_lora"]
    stopped = SandboxResult(ended, "stopped", -9, "", "", 1.0, {})
    runs = [(planned, _settled(planned, WireError("call-3.json: not JSON"), stopped))
            for planned in _cases(exercise, seed=7)]
    verdict = _verdict(exercise, runs, [])
    assert verdict.status == status, verdict
