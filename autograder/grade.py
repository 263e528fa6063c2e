"""Grade a batch of submissions with nbgrader: autograde, gradebook, feedback, and a grade table.

``grade(assignment, submissions, out)`` takes nbgrader's submitted layout,
``submissions/<student_id>/<assignment>/<notebook>.ipynb``, and writes into ``out``:

- ``grades.csv``: ``student_id, assignment, score, max_score, status, reason, feedback`` and one column of points
  per graded test cell;
- ``gradebook.db``: nbgrader's gradebook (``out`` is an nbgrader course directory: ``nbgrader formgrader`` works
  there);
- ``feedback/<student_id>/<assignment>/<notebook>.html``: what each student gets back;
- ``logs/<student_id>.log``: what ``nbgrader autograde`` printed for the student, with the seconds it took.

Each student is autograded in a process of its own with a time limit, so a submission that crashes its kernel,
hangs, or is not a notebook at all gets a zero with a reason, and the batch goes on.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from autograder.course import SOLUTIONS, check_assignment, nbgrader, prepare_models, write_config

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class StudentGrade:
    """One row of ``grades.csv``."""

    student_id: str
    assignment: str
    score: float = 0.0
    max_score: float = 0.0
    status: str = "graded"  # graded | failed | missing
    reason: str = ""
    feedback: str = ""
    cells: dict[str, float] = field(default_factory=dict)


class GradingError(RuntimeError):
    """The batch itself cannot be graded (not one student's submission: that never raises)."""


def grade(assignment: str, submissions: Path, out: Path, *, timeout: float = 1200) -> list[StudentGrade]:
    """Autograde every student in ``submissions`` and write the results into ``out``; return the rows.

    ``timeout`` bounds the seconds one student's autograding may take.
    """
    check_assignment(assignment)
    submissions, out = Path(submissions), Path(out)
    if not submissions.is_dir():
        raise ValueError(f"submissions: expected a folder of <student_id>/{assignment}/*.ipynb, got {submissions}")
    for old in ("submitted", "autograded", "feedback", "release", "gradebook.db", "grades.csv"):
        target = out / old
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    write_config(out, source=SOLUTIONS, release="release", submitted="submitted",
                 autograded="autograded", feedback="feedback")

    made = nbgrader(out, "generate_assignment", assignment, "--force")
    if made.returncode != 0:
        raise GradingError(f"nbgrader generate_assignment {assignment} failed:\n{made.stdout}{made.stderr}")
    prepare_models(assignment)

    rows = []
    students = sorted(p for p in submissions.iterdir() if p.is_dir())
    for student in tqdm(students, desc=f"grading {assignment}", unit="student"):
        rows.append(_grade_student(assignment, student, out, timeout))

    feedback = nbgrader(out, "generate_feedback", assignment, "--force")
    if feedback.returncode != 0:  # the grades stand; students without feedback show an empty feedback column
        print(f"warning: nbgrader generate_feedback failed:\n{feedback.stdout}{feedback.stderr}", file=sys.stderr)
    _read_gradebook(assignment, out, rows)
    _write_csv(out / "grades.csv", rows)
    return rows


def _grade_student(assignment: str, student: Path, out: Path, timeout: float) -> StudentGrade:
    row = StudentGrade(student.name, assignment)
    if not STUDENT_ID.match(student.name):
        row.status, row.reason = "failed", "the student id may hold only letters, digits, '_', '.' and '-'"
        return row
    notebooks = sorted((student / assignment).glob("*.ipynb"))
    if not notebooks:
        row.status, row.reason = "missing", f"no notebook in {student.name}/{assignment}/"
        return row
    target = out / "submitted" / student.name / assignment
    target.mkdir(parents=True)
    for path in notebooks + sorted((student / assignment).glob("timestamp.txt")):
        shutil.copyfile(path, target / path.name)
    log = out / "logs" / f"{student.name}.log"
    log.parent.mkdir(exist_ok=True)
    start = time.perf_counter()
    try:
        result = nbgrader(out, "autograde", assignment, "--student", student.name, "--force", timeout=timeout)
    except subprocess.TimeoutExpired as error:
        log.write_text(f"{_text(error.stdout)}{_text(error.stderr)}\nstopped after {timeout:.0f} s\n", encoding="utf-8")
        row.status, row.reason = "failed", f"grading took longer than {timeout:.0f} s"
        return row
    log.write_text(f"{result.stdout}{result.stderr}\ntook {time.perf_counter() - start:.1f} s\n", encoding="utf-8")
    if result.returncode != 0:
        row.status, row.reason = "failed", failure_reason(result.stdout + result.stderr)
    return row


def _text(output: str | bytes | None) -> str:
    """What a timed-out process had printed (``TimeoutExpired`` may hold bytes, or nothing)."""
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def failure_reason(log: str) -> str:
    """Say in one line why nbgrader could not autograde a submission, from its log."""
    known = [
        ("DeadKernelError", "the kernel died while running the notebook (did the code exit, or run out of memory?)"),
        ("NotJSONError", "the file is not a notebook (it is not valid notebook JSON)"),
        ("JSONDecodeError", "the file is not a notebook (it is not valid notebook JSON)"),
        ("ValidationError", "the notebook does not follow the notebook format"),
        ("CellTimeoutError", "a cell ran longer than the time limit"),
        ("cells were deleted", "graded cells were deleted from the notebook"),
    ]
    for needle, reason in known:
        if needle in log:
            return reason
    # Otherwise the last exception line of a traceback, e.g. "ValueError: ..." (nbgrader's own log lines start
    # with "[").
    errors = [line.strip() for line in log.splitlines() if re.match(r"\s*[\w.]*(Error|Exception)\b.*", line)]
    return errors[-1][:300] if errors else "nbgrader could not autograde this submission"


def _read_gradebook(assignment: str, out: Path, rows: list[StudentGrade]) -> None:
    """Fill scores, failed cells and feedback paths from nbgrader's gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{(out / 'gradebook.db').resolve()}") as gradebook:
        max_score = gradebook.find_assignment(assignment).max_score
        for row in rows:
            row.max_score = max_score
            if row.status != "graded":
                continue
            try:
                submission = gradebook.find_submission(assignment, row.student_id)
            except MissingEntry:
                row.status, row.reason = "failed", "nbgrader recorded no grade for this submission"
                continue
            row.score = submission.score
            failed = []
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    row.cells[grade.name] = grade.score
                    if grade.score < grade.max_score:
                        failed.append(grade.name)
                feedback = out / "feedback" / row.student_id / assignment / f"{notebook.name}.html"
                if feedback.exists():
                    row.feedback = str(feedback.relative_to(out))
            if failed:
                row.reason = "lost points in " + ", ".join(failed)


def _write_csv(path: Path, rows: list[StudentGrade]) -> None:
    cell_names = sorted({name for row in rows for name in row.cells})
    columns = ["student_id", "assignment", "score", "max_score", "status", "reason", "feedback", *cell_names]
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.student_id, row.assignment, f"{row.score:g}", f"{row.max_score:g}", row.status,
                             row.reason, row.feedback, *(f"{row.cells.get(n, 0):g}" for n in cell_names)])


def format_table(rows: list[StudentGrade]) -> str:
    """The grade table printed at the end of a batch."""
    lines = [f"{'student':<16} {'score':>11}  {'status':<8} reason", "-" * 72]
    for row in rows:
        score = f"{row.score:g} / {row.max_score:g}"
        lines.append(f"{row.student_id:<16} {score:>11}  {row.status:<8} {row.reason}")
    return "\n".join(lines)
