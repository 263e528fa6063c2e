"""Grade one submission from the instructor's copy alone, judging out of process (:mod:`autograder.remote`).

What is graded, and for how many points, comes only from ``solutions/``: each graded test cell there names its
exercise (``check_exercise("name", ...)``) and its points. The submission contributes only the code it defines,
so test cells a student edited, deleted or duplicated change nothing; :func:`tampering` reports them. A file
that is too large, not UTF-8, not JSON or not a notebook gets every test at zero with the reason; an nbformat 3
notebook is converted and graded. :func:`gradescope_results` writes Gradescope's ``results.json`` form.

Example:
    >>> [(t.grade_id, t.exercise, t.points) for t in instructor_tests("07_peft")][:2]
    [('test_adapter_forward', 'adapter_forward', 3.0), ('test_adapter_parameter_count', 'adapter_parameter_count', 2.0)]
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import nbformat

from autograder.course import LECTURES, SOLUTIONS, check_assignment
from autograder.remote import Budgets, judge, notebook_cells
from autograder.sandbox import Limits

#: The largest notebook read; a larger file gets zero with the reason.
MAX_NOTEBOOK_BYTES = 20 * 2**20
_EXERCISE = re.compile(r"""check_exercise\(\s*["']([A-Za-z_][A-Za-z0-9_]*)["']""")


@dataclass(frozen=True)
class InstructorTest:
    """A graded test cell of the instructor's notebook: its ``grade_id``, the exercise it checks, its points."""

    grade_id: str
    exercise: str
    points: float


@dataclass(frozen=True)
class GradedTest:
    """One test's outcome; only ``passed`` earns its points."""

    grade_id: str
    exercise: str
    points: float
    status: str
    message: str

    @property
    def score(self) -> float:
        return self.points if self.status == "passed" else 0.0


@dataclass
class SubmissionResult:
    """Every instructor test of the assignment, graded, and what was wrong with the file itself."""

    assignment: str
    tests: list[GradedTest]
    problems: list[str] = field(default_factory=list)
    readable: bool = True  # False: the file could not be read as a notebook (``problems[0]`` says why)

    @property
    def score(self) -> float:
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.points for t in self.tests)


def _instructor_notebook(assignment: str) -> nbformat.NotebookNode:
    check_assignment(assignment)
    (path,) = sorted((SOLUTIONS / assignment).glob("*.ipynb"))
    return nbformat.read(path, as_version=4)


def _graded_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")
            and c.cell_type == "code"]


def instructor_tests(assignment: str) -> list[InstructorTest]:
    """The graded test cells of the instructor's notebook of ``assignment``, in order."""
    tests = []
    for cell in _graded_cells(_instructor_notebook(assignment)):
        meta = cell.metadata["nbgrader"]
        match = _EXERCISE.search(cell.source)
        if match is None:
            raise ValueError(f"{assignment}: expected the test cell {meta['grade_id']} to call check_exercise, "
                             "got none")
        tests.append(InstructorTest(meta["grade_id"], match.group(1), float(meta.get("points", 0))))
    return tests


def read_submission(path: Path, max_bytes: int = MAX_NOTEBOOK_BYTES) -> tuple[nbformat.NotebookNode | None, list[str]]:
    """The submitted notebook (nbformat 4), or None, and the problems found reading it."""
    size = path.stat().st_size
    if size > max_bytes:
        return None, [f"the notebook is {size / 2**20:.1f} MB, more than the {max_bytes / 2**20:.0f} MB accepted"]
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        return None, [f"the notebook is not UTF-8 text ({error.reason} at byte {error.start})"]
    try:
        raw = json.loads(text)
    except ValueError as error:
        return None, [f"the file is not JSON ({str(error)[:200]}); was the upload cut off?"]
    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat raises validation and version errors of several types
        return None, [f"the file is not a readable notebook ({type(error).__name__}: {str(error)[:200]})"]
    problems = []
    if isinstance(raw, dict) and raw.get("nbformat") == 3:
        problems.append("the notebook was in nbformat 3; it was converted to nbformat 4 and graded")
    return notebook, problems


def tampering(submitted: nbformat.NotebookNode, instructor: nbformat.NotebookNode) -> list[str]:
    """What the submission changed in the instructor's graded test cells (graded from the instructor's copy
    anyway): cells deleted, duplicated or edited."""
    theirs: dict[str, list[str]] = {}
    for cell in submitted.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id is not None:
            theirs.setdefault(grade_id, []).append(cell.get("source", ""))
    problems = []
    for cell in _graded_cells(instructor):
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        copies = theirs.get(grade_id, [])
        public = cell.source.split("### BEGIN HIDDEN TESTS")[0].strip()
        if not copies:
            problems.append(f"test cell {grade_id} was deleted; it is graded from the instructor's copy")
        elif len(copies) > 1:
            problems.append(f"test cell {grade_id} appears {len(copies)} times; it is graded once")
        elif copies[0].split("### BEGIN HIDDEN TESTS")[0].strip() != public:
            problems.append(f"test cell {grade_id} was edited; it is graded from the instructor's copy")
    return problems


def grade_submission(assignment: str, path: Path, *, seed: int = 0, limits: Limits = Limits(),
                     budgets: Budgets = Budgets(), hidden: Sequence[str | Path] = ()) -> SubmissionResult:
    """Grade the notebook at ``path`` against every instructor test of ``assignment`` (module docstring).
    ``budgets``: the time each cell and call may take (:class:`autograder.remote.Budgets`); ``limits``: the student
    process's, ``wall_seconds`` for the whole submission. ``hidden``: the grader's folders (gradebook, other
    submissions) the student code must not see."""
    tests = instructor_tests(assignment)
    notebook, problems = read_submission(path)
    if notebook is None:
        return SubmissionResult(assignment, [GradedTest(t.grade_id, t.exercise, t.points, "missing", problems[0])
                                             for t in tests], problems, readable=False)
    if any(c.get("metadata", {}).get("nbgrader") for c in notebook.cells):
        problems += tampering(notebook, _instructor_notebook(assignment))
    else:
        problems.append("the notebook has no nbgrader metadata (were its cells copied into a new notebook?), so no "
                        "answer cell was found; submit the notebook you downloaded, with your answers in it")
    release = nbformat.read(LECTURES / assignment / f"{assignment}.ipynb", as_version=4)
    verdicts = judge(notebook_cells(notebook, release), list(dict.fromkeys(t.exercise for t in tests)), seed=seed,
                     limits=limits, budgets=budgets, hidden=hidden)
    graded = [GradedTest(t.grade_id, t.exercise, t.points, verdicts[t.exercise].status, verdicts[t.exercise].message)
              for t in tests]
    return SubmissionResult(assignment, graded, problems)


def gradescope_results(result: SubmissionResult) -> dict:
    """``result`` in Gradescope's ``results.json`` form: the score, one entry per test (score, max_score,
    status, output), and the file's problems as the overall output."""
    return {
        "score": result.score,
        "output": "\n".join(result.problems),
        "tests": [{"name": t.grade_id, "score": t.score, "max_score": t.points,
                   "status": "passed" if t.status == "passed" else "failed",
                   "output": t.message, "visibility": "visible"} for t in result.tests],
    }
