"""Grading one submission from the instructor's copy, out of process: the example class of 07_peft gets its exact
scores, broken files get zero with the reason, and tampered test cells change nothing but are reported."""

from __future__ import annotations

import json
import re

import nbformat
import pytest

from autograder.examples import make_class
from autograder.hardened import (
    grade_submission,
    gradescope_results,
    instructor_tests,
    read_submission,
)
from autograder.sandbox import Limits

pytestmark = pytest.mark.grading

ASSIGNMENT = "07_peft"
LIMITS = Limits(wall_seconds=120, cpu_seconds=120)
POINTS = {"test_adapter_forward": 3.0, "test_adapter_parameter_count": 2.0, "test_lora_forward": 3.0,
          "test_merge_lora": 2.0, "test_bitfit_parameters": 2.0, "test_prompt_inputs": 3.0}


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    make_class(ASSIGNMENT, root)
    return {student: root / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb" for student in
            ("ada", "ben", "cy", "dee", "eve", "fay")}


@pytest.fixture(scope="module")
def graded(submissions):
    return {student: grade_submission(ASSIGNMENT, path, limits=LIMITS) for student, path in submissions.items()}


def test_tests_and_points_come_from_the_instructors_copy():
    assert {t.grade_id: t.points for t in instructor_tests(ASSIGNMENT)} == POINTS


@pytest.mark.parametrize("student, score, statuses", [
    ("ada", 15, {}),
    ("ben", 7, {"test_lora_forward": "failed", "test_bitfit_parameters": "failed", "test_prompt_inputs": "failed"}),
    ("cy", 0, dict.fromkeys(POINTS, "missing")),
    ("dee", 12, {"test_adapter_forward": "missing"}),      # the typo stops the first answer cell only
    ("eve", 0, dict.fromkeys(POINTS, "kernel died")),       # os._exit while the answers are defined
    ("fay", 0, dict.fromkeys(POINTS, "missing")),           # not a notebook
])
def test_the_example_class_gets_its_exact_scores(graded, student, score, statuses):
    result = graded[student]
    assert (result.score, result.max_score) == (score, 15)
    assert {t.grade_id: t.status for t in result.tests} == {g: statuses.get(g, "passed") for g in POINTS}


def test_a_file_that_is_not_a_notebook_says_so(graded):
    assert graded["fay"].problems == [graded["fay"].tests[0].message]
    assert graded["fay"].problems[0].startswith("the file is not JSON")


def test_regrading_gives_the_same_result(submissions, graded):
    again = grade_submission(ASSIGNMENT, submissions["ben"], limits=LIMITS)
    assert again == graded["ben"]


def test_tampered_test_cells_change_nothing_and_are_reported(submissions, tmp_path):
    notebook = nbformat.read(submissions["ada"], as_version=4)
    tests = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]
    tests[0].source = "pass  # nothing to see"                     # edited
    notebook.cells.remove(tests[1])                                 # deleted
    notebook.cells.append(nbformat.from_dict(json.loads(json.dumps(tests[2]))))  # duplicated
    path = tmp_path / "tampered.ipynb"
    nbformat.write(notebook, path)
    result = grade_submission(ASSIGNMENT, path, limits=LIMITS)
    assert result.score == 15
    assert result.problems == [
        "test cell test_adapter_forward was edited; it is graded from the instructor's copy",
        "test cell test_adapter_parameter_count was deleted; it is graded from the instructor's copy",
        "test cell test_lora_forward appears 2 times; it is graded once",
    ]


def test_an_nbformat_3_notebook_is_converted_and_graded(submissions, tmp_path):
    path = tmp_path / "old.ipynb"
    nbformat.write(nbformat.convert(nbformat.read(submissions["ada"], as_version=4), 3), path)
    result = grade_submission(ASSIGNMENT, path, limits=LIMITS)
    assert result.score == 15
    assert result.problems == ["the notebook was in nbformat 3; it was converted to nbformat 4 and graded"]


@pytest.mark.parametrize("content, problem", [
    (b"\xff\xfe{}", "the notebook is not UTF-8 text (invalid start byte at byte 0)"),
    (b'{"cells": []', "the file is not JSON"),
    (b'{"nbformat": 4, "cells": "no"}', "the file is not a readable notebook"),
    (b"x" * 2048, "the notebook is 0.0 MB, more than the 0 MB accepted"),
])
def test_unreadable_files_are_refused_with_the_reason(tmp_path, content, problem):
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    notebook, problems = read_submission(path, max_bytes=1024)
    assert notebook is None and problems[0].startswith(problem)


def test_gradescope_results(graded):
    results = gradescope_results(graded["ben"])
    assert results["score"] == 7
    lora = next(t for t in results["tests"] if t["name"] == "test_lora_forward")
    assert (lora["score"], lora["max_score"], lora["status"], lora["visibility"]) == (0.0, 3.0, "failed", "visible")
    assert lora["output"].startswith("lora_forward, public case 1 of 3 differs from the reference")
    json.dumps(results)  # plain JSON


def test_the_command_line_judges_one_notebook(submissions, tmp_path, capsys):
    from autograder.__main__ import main

    assert main(["judge", ASSIGNMENT, str(submissions["dee"]), "--results", str(tmp_path / "results.json")]) == 0
    assert "score: 12 / 15" in capsys.readouterr().out
    assert json.loads((tmp_path / "results.json").read_text())["score"] == 12
    from autograder.examples import _solved

    nbformat.write(_solved("02_attention", "02_attention.ipynb"), tmp_path / "02_attention.ipynb")
    assert main(["judge", "02_attention", str(tmp_path / "02_attention.ipynb")]) == 0  # module exercises too
    printed = capsys.readouterr().out
    assert "score: 40 / 40" in printed and re.search(r"test_MultiHeadAttention +8 / 8 +passed", printed), printed
