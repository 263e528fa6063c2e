"""Out-of-process judging: right answers pass, wrong or hostile ones get the verdict they earned, whatever the
student's process does to itself, and hidden cases stay hidden."""

from __future__ import annotations

import nbformat
import pytest

from autograder.course import SOLUTIONS
from autograder.examples import BUGS
from autograder.remote import COURSE, Verdict, judge, notebook_cells
from autograder.sandbox import Limits

EXERCISES = ["adapter_forward", "adapter_parameter_count", "lora_forward", "merge_lora", "bitfit_parameters",
             "prompt_inputs"]
LIMITS = Limits(wall_seconds=60, cpu_seconds=60)


@pytest.fixture(scope="module")
def answers() -> dict[str, str]:
    """The instructor's answer cells of 07_peft, by exercise."""
    notebook = nbformat.read(SOLUTIONS / "07_peft" / "07_peft.ipynb", as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in notebook.cells
            if c.metadata.get("nbgrader", {}).get("solution") and not c.metadata["nbgrader"].get("grade")}


def _judge(answers: dict[str, str], limits: Limits = LIMITS, **replaced: str) -> dict[str, Verdict]:
    cells = ["import torch"] + [replaced.get(name, source) for name, source in answers.items()]
    return judge(cells, EXERCISES, seed=7, limits=limits)


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
     "merge_lora calls tlcourse's reference merge_lora: write your own"),
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
    ("merge_lora", f"open({str(COURSE / 'solutions' / '07_peft' / '07_peft.ipynb')!r}).read()\n", "missing",
     "No such file or directory"),
])
def test_hostile_or_broken_answers_get_the_verdict_they_earned(answers, name, source, status, message):
    verdicts = _judge(answers, **{name: source})
    assert verdicts[name].status == status and message in verdicts[name].message, verdicts[name]
    assert {v.status for n, v in verdicts.items() if n != name} == {"passed"}  # the other exercises are unaffected


def test_a_dead_process_loses_the_unfinished_exercises_only(answers):
    hang = "def bitfit_parameters(names):\n    while True:\n        pass\n"
    verdicts = _judge(answers, Limits(wall_seconds=20, cpu_seconds=60), bitfit_parameters=hang)
    assert [verdicts[n].status for n in EXERCISES] == ["passed"] * 4 + ["timeout"] * 2
    assert verdicts["bitfit_parameters"].message.startswith("bitfit_parameters, public case 1 of 3: no result (it "
                                                            "ran longer than the limit of 20 s and was stopped)")
    exits = answers["prompt_inputs"] + "\nimport os\nos._exit(0)\n"
    verdicts = _judge(answers, prompt_inputs=exits)
    assert set(_statuses(verdicts).values()) == {"kernel died"}
