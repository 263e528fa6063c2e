"""Grade a student's functions out of process: the sandbox only computes, this process judges.

:func:`judge` takes the code cells of a submission and the names of exercises (specs in
:mod:`tlcourse.exercises`). It builds every public and hidden case, sends their inputs to
:mod:`autograder.harness` in the :mod:`autograder.sandbox` as plain data (:mod:`autograder.wire`), computes the
expected outputs with the references *here*, and compares with :func:`tlcourse.checks.check` (exact type, dtype
and shape, then values within the exercise's tolerance). Each exercise ends as one :class:`Verdict`:

===================  ===============================================================================================
``passed``           every case equal to the reference's
``failed``           a case differs (public: what differed; hidden: only its number)
``error``            the function raised, or returned something that cannot be graded
``missing``          the function is not defined (its cell raised, or it was deleted)
``forbidden``        it called tlcourse's reference for the exercise
``timeout``          the sandbox ran out of time before this exercise's cases ended
``resource limit``   CPU time, memory, file size or output over the sandbox's limits
``kernel died``      the process ended (``os._exit``, a signal) before this exercise's cases ended
===================  ===============================================================================================

Only ``passed`` earns points. Feedback never shows a hidden case's inputs or expected output.
Exercises whose cases are not plain data (modules, optimisers: :func:`supported` says) are not judged here yet.
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import nbformat

from autograder.sandbox import Limits, SandboxResult, run
from autograder.wire import WireError, decode, encode
from tlcourse.checks import TOLERANCES, CheckFailure, check
from tlcourse.data.cache import CACHE_ENV, cache_dir
from tlcourse.exercises.registry import Case, Exercise, get_exercise

HARNESS = Path(__file__).with_name("harness.py")
#: What a student process must not see, besides the grader's own folders passed to :func:`judge`.
COURSE = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Verdict:
    """How one exercise ended; ``cases`` is how many were run (public, then hidden)."""

    exercise: str
    status: str
    message: str
    cases: int

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def supported(exercise: Exercise) -> bool:
    """Whether :func:`judge` can grade ``exercise``: a plain function (no module, observe or prepare hook) whose
    cases cross as plain data."""
    if isinstance(exercise.reference_function(), type) or exercise.observe or exercise.prepare:
        return False
    try:
        for which in ("public", "hidden"):
            encode([[c.args, c.kwargs] for c in exercise.cases(which)])
    except WireError:
        return False
    return True


def notebook_cells(notebook: nbformat.NotebookNode) -> list[str]:
    """The code a submission defines its answers with: the code cells before the first answer cell (imports and
    setup), then every answer cell (nbgrader ``solution``, not ``grade``)."""
    cells = [c for c in notebook.cells if c.cell_type == "code"]
    answers = [i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("solution")
               and not c.metadata.get("nbgrader", {}).get("grade")]
    if not answers:
        return []
    return [c.source for c in cells[: answers[0]]] + [cells[i].source for i in answers]


def _cases(exercise: Exercise, seed: int) -> list[tuple[str, int, int, Case]]:
    """(which, number, of, case) for the public then the hidden cases."""
    out = []
    for which in ("public", "hidden"):
        cases = exercise.cases(which, seed)
        out += [(which, n, len(cases), case) for n, case in enumerate(cases, start=1)]
    return out


def judge(cells: Sequence[str], exercises: Sequence[str], *, seed: int, limits: Limits = Limits(),
          hidden: Sequence[str | Path] = ()) -> dict[str, Verdict]:
    """Run ``cells`` in the sandbox, call each exercise's function on its cases there, and judge the outputs here
    (module docstring). ``seed`` picks the hidden cases; ``hidden`` adds folders the code must not see to the
    course's ``solutions/``. The course cache (trained models) is shared read-only, so setup cells load what the
    grader prepared instead of training it. Never raises for what the submission does."""
    specs = [get_exercise(name) for name in exercises]
    unsupported = [e.name for e in specs if not supported(e)]
    if unsupported:
        raise ValueError(f"exercises: expected plain-function exercises, got {unsupported} (modules, optimisers or "
                         "hooks are not graded out of process yet)")
    planned = [(e, which, n, of, case) for e in specs for which, n, of, case in _cases(e, seed)]
    with tempfile.TemporaryDirectory(prefix="grading-job-") as folder:
        job = Path(folder)
        (job / "out").mkdir()
        (job / "out").chmod(0o777)  # the sandbox's user writes its results there
        (job / "cells.json").write_text(json.dumps(list(cells)), encoding="utf-8")
        text, blob = encode([[e.name, case.args, case.kwargs] for e, _, _, _, case in planned])
        (job / "calls.json").write_text(text, encoding="utf-8")
        if blob:
            (job / "calls.safetensors").write_bytes(blob)
        ended = run([sys.executable, str(HARNESS), str(job)], limits, readable=[job],
                    hidden=[COURSE / "solutions", *hidden], shared={CACHE_ENV: cache_dir()})
        results = [_read(job / "out", f"call-{i}") for i in range(len(planned))]
        cell_errors = _read(job / "out", "cells")
    verdicts = {}
    for exercise in specs:
        mine = [(which, n, of, case, result) for (e, which, n, of, case), result in zip(planned, results)
                if e is exercise]
        verdicts[exercise.name] = _verdict(exercise, mine, cell_errors, ended)
    return verdicts


def _read(folder: Path, name: str) -> object:
    """The decoded file, None if the student process never wrote it, or a WireError if it is malformed."""
    text = folder / f"{name}.json"
    if not text.exists():
        return None
    blob = folder / f"{name}.safetensors"
    try:
        return decode(text.read_bytes(), blob.read_bytes() if blob.exists() else b"")
    except WireError as error:
        return error


_ENDED = {"timeout": "timeout", "resource limit": "resource limit", "died": "kernel died", "error": "kernel died",
          "ok": "kernel died"}


def _verdict(exercise: Exercise, runs: list, cell_errors: object, ended: SandboxResult) -> Verdict:
    name, total = exercise.name, len(runs)
    tolerance = TOLERANCES[exercise.tolerance]
    reference = exercise.reference_function()
    for which, number, of, case, result in runs:
        where = f"{name}, {which} case {number} of {of}"
        if result is None:
            status = _ENDED[ended.status]
            return Verdict(name, status, f"{where}: no result ({ended.reason or 'the process ended early'})", total)
        if isinstance(result, WireError) or type(result) is not dict or "reference_calls" not in result:
            return Verdict(name, "error", f"{where}: the result could not be read", total)
        if result["reference_calls"]:
            return Verdict(name, "forbidden", f"{name} calls tlcourse's reference {name}: write your own", total)
        if "error" in result:
            error = str(result["error"])
            if error.startswith(f"NameError: {name} is not defined"):
                return Verdict(name, "missing", f"{name} is not defined{_cell_hint(cell_errors)}", total)
            if error.startswith("NotImplementedError"):
                return Verdict(name, "missing", f"{name} is not implemented yet", total)
            return Verdict(name, "error", f"{where}: your function raised {error}"
                           + (f"\n  called with: {case.describe()}" if which == "public" else ""), total)
        expected = reference(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
        try:
            check(result["value"], expected, tol=tolerance)
        except CheckFailure as failure:
            detail = f"\n  called with: {case.describe()}\n  {failure}" if which == "public" else ""
            return Verdict(name, "failed", f"{where} differs from the reference{detail}", total)
    return Verdict(name, "passed", f"{name}: {total} cases passed", total)


def _cell_hint(cell_errors: object) -> str:
    errors = [e for e in cell_errors or [] if e] if isinstance(cell_errors, list) else []
    return f" (a cell raised {errors[0]})" if errors else ""
