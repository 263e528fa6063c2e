"""Grade a class out of process: in parallel, resumable after a crash, shardable, with nbgrader's gradebook.

``grade_batch(assignment, submissions, out)`` takes nbgrader's submitted layout,
``submissions/<student_id>/<assignment>/<notebook>.ipynb``, grades each notebook with
:func:`autograder.hardened.grade_submission` (the student's code in a sandbox of its own, the verdicts in this
process) and writes into ``out``:

===============================  ===================================================================================
``journal/*.jsonl``              one line per graded submission, appended and synced as each one ends: the resume log
``grades.csv``                   ``student_id, assignment, score, max_score, status, reason, feedback`` and the points
                                 of each test
``results/<student>.json``       Gradescope's ``results.json`` for every student (every test 0, with the reason,
                                 when there was no notebook to grade)
``gradebook.db``                 nbgrader's gradebook with every test's score (``out`` is an nbgrader course folder:
                                 ``nbgrader formgrader`` works there)
``feedback/<student>/...html``   nbgrader's feedback page: the student's answers, the public tests and each verdict;
                                 never a hidden test's source, inputs or expected values
``timing.csv``                   seconds per submission
``isolation.json``               which sandbox layers the runs got on this machine (a layer that is off says why)
===============================  ===================================================================================

**Resume.** A submission is graded again only if the journal has no line for it with the same notebook bytes
(SHA-256), instructor notebook and seed. A batch killed at any point (``kill -9`` included; a line cut in half is
ignored) and started again grades only what is left and ends with the grades of an uninterrupted run.

**Scale.** ``workers`` grades that many submissions at once (one sandbox each). Beyond one machine, two ways:

- ``scheduler="tcp://host:8786"``: a `Dask distributed <https://distributed.dask.org>`_ cluster grades them, one
  task per notebook, while this process keeps the journal. Every Dask worker needs this course installed (``make
  install``) and the ``submissions`` folder at the same path (a shared filesystem); it trains or finds the course
  models once before the first task. Dask pickles the tasks between this process and its workers, all of them the
  grader's; the student's code runs in a sandbox on the worker and sends back plain data, as everywhere else.
- ``shard=(i, n)`` grades only every n-th student from the i-th on (``i`` from 1) into a journal of its own and
  writes no report: the shards of a batch scheduler's array job share ``out`` and :func:`collect` then writes the
  report from all journals.

Example (the 04 example class, made by :func:`autograder.examples.make_class`)::

    rows = grade_batch("04_pretraining_clm", Path("class"), Path("out"), workers=2)
    [(r.student_id, r.score) for r in rows]   # [('ada', 15.0), ('ben', 7.0), ...]
"""

from __future__ import annotations

import contextlib
import copy
import csv
import dataclasses
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import time
import warnings
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Iterator

import nbformat
from tqdm.auto import tqdm

from autograder.course import SOLUTIONS, check_assignment, nbgrader, prepare_models, write_config
from autograder.grade import STUDENT_ID, GradingError, StudentGrade, _write_csv
from autograder.hardened import GradedTest, SubmissionResult, grade_submission, gradescope_results, instructor_tests
from autograder.remote import Budgets, isolation
from autograder.sandbox import Limits, threads_per_run

#: What ``grade_batch`` rewrites in ``out`` on every run (the journal is kept: it is how a batch resumes).
REPORTS = ("release", "autograded", "feedback", "results", "gradebook.db", "grades.csv", "timing.csv",
           "isolation.json")


@dataclasses.dataclass(frozen=True)
class Submission:
    """One student's folder: the notebook to grade (None when there is none) and why it cannot be graded, if so."""

    student_id: str
    notebook: Path | None
    problem: str = ""
    status: str = "graded"  # graded | missing | failed

    def key(self, assignment: str, seed: int) -> str:
        """What a journal line must match to stand for this submission: its bytes, the instructor's notebook and
        the seed."""
        digest = hashlib.sha256()
        for part in (self.notebook.read_bytes() if self.notebook else b"", _instructor_bytes(assignment),
                     str(seed).encode()):
            digest.update(hashlib.sha256(part).digest())
        return digest.hexdigest()


def _instructor_bytes(assignment: str) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((SOLUTIONS / assignment).glob("*.ipynb")))


def find_submissions(assignment: str, submissions: Path) -> list[Submission]:
    """Every student folder in ``submissions``, sorted by id, with the notebook to grade.

    A folder with one notebook under another name (``Untitled.ipynb``) has that one graded; with several, the one
    named like the assignment's, else the first by name, and the others are named in ``problem``.
    """
    found = []
    for folder in sorted(p for p in submissions.iterdir() if p.is_dir()):
        if not STUDENT_ID.match(folder.name):
            found.append(Submission(folder.name, None, "the student id may hold only letters, digits, '_', '.' "
                                    "and '-'", "failed"))
            continue
        notebooks = sorted(p for p in (folder / assignment).glob("*.ipynb") if p.is_file())
        if not notebooks:
            found.append(Submission(folder.name, None, f"no notebook in {folder.name}/{assignment}/", "missing"))
            continue
        expected = [p for p in notebooks if p.name == f"{assignment}.ipynb"]
        chosen = (expected or notebooks)[0]
        others = [p.name for p in notebooks if p != chosen]
        problem = f"graded {chosen.name}; also found {', '.join(others)}" if others else (
            f"the notebook was renamed to {chosen.name}; it was graded" if not expected else "")
        found.append(Submission(folder.name, chosen, problem))
    return found


def _result_json(result: SubmissionResult) -> dict:
    return dataclasses.asdict(result)


def _result_from_json(data: dict) -> SubmissionResult:
    return SubmissionResult(data["assignment"], [GradedTest(**t) for t in data["tests"]], list(data["problems"]),
                            data["readable"])


def read_journals(out: Path) -> dict[str, dict]:
    """The last journal line of each student over every journal in ``out/journal``; cut or corrupt lines (a
    batch killed while writing) are skipped."""
    entries: dict[str, dict] = {}
    for path in sorted((out / "journal").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
                entries[entry["student_id"]] = entry
            except (ValueError, KeyError, TypeError):
                continue
    return entries


def _append(journal: Path, entry: dict) -> None:
    """Add ``entry`` as one line and sync it; after a line cut off by a crash, on a line of its own."""
    with journal.open("a+b") as file:  # appends go to the end wherever the file position is
        size = file.seek(0, os.SEEK_END)
        if size:
            file.seek(size - 1)
            if file.read(1) != b"\n":
                file.write(b"\n")
        file.write(json.dumps(entry).encode() + b"\n")
        file.flush()
        os.fsync(file.fileno())


def _grade_one(assignment: str, submission: Submission, seed: int, limits: Limits, budgets: Budgets,
               hidden: list[Path]) -> tuple[dict, float]:
    """Grade one notebook (in a worker process); return the result as JSON data and the seconds it took."""
    start = time.perf_counter()
    result = grade_submission(assignment, submission.notebook, seed=seed, limits=limits, budgets=budgets,
                              hidden=hidden)
    return _result_json(result), time.perf_counter() - start


def grade_shard(assignment: str, submissions: Path, out: Path, *, workers: int = 1, seed: int = 0,
                limits: Limits = Limits(), budgets: Budgets = Budgets(), shard: tuple[int, int] = (1, 1),
                scheduler: str | None = None, progress: bool = True) -> None:
    """Grade the shard's submissions that the journals do not hold yet, appending each to this shard's journal
    (module docstring)."""
    index, count = shard
    if not (isinstance(workers, int) and workers >= 1):
        raise ValueError(f"workers: expected a positive int, got {workers!r}")
    if not (1 <= index <= count):
        raise ValueError(f"shard: expected (i, n) with 1 <= i <= n, got {shard!r}")
    (out / "journal").mkdir(parents=True, exist_ok=True)
    journal = out / "journal" / f"shard-{index}-of-{count}.jsonl"
    done = read_journals(out)
    mine = [s for n, s in enumerate(find_submissions(assignment, submissions)) if n % count == index - 1]
    keys = {s.student_id: s.key(assignment, seed) for s in mine if s.notebook is not None}
    todo = [s for s in mine if s.student_id in keys and done.get(s.student_id, {}).get("key") != keys[s.student_id]]
    if not todo:
        return
    prepare_models(assignment, progress)
    hidden = [submissions.resolve(), out.resolve()]
    bar = tqdm(total=len(todo), desc=f"grading {assignment}", unit="notebook", disable=not progress)
    for submission, result, seconds in _graded(assignment, todo, seed, limits, budgets, hidden, workers, scheduler):
        _append(journal, {"student_id": submission.student_id, "key": keys[submission.student_id],
                          "seconds": round(seconds, 3), "result": result})
        bar.update()
    bar.close()


def _graded(assignment: str, todo: list[Submission], seed: int, limits: Limits, budgets: Budgets,
            hidden: list[Path], workers: int, scheduler: str | None) -> Iterator[tuple[Submission, dict, float]]:
    """Each submission with its result as it ends: in this process (one worker and no scheduler), else in a
    process pool or on the Dask cluster (:func:`_pool`)."""
    if workers == 1 and scheduler is None:
        for submission in todo:
            yield submission, *_grade_one(assignment, submission, seed, limits, budgets, hidden)
        return
    with threads_per_run(workers), _pool(assignment, workers, scheduler) as pool:
        futures: dict[Future, Submission] = {
            pool.submit(_grade_one, assignment, s, seed, limits, budgets, hidden): s for s in todo}
        for future in as_completed(futures):
            yield futures[future], *future.result()


#: How long to wait for a Dask scheduler to answer.
CONNECT_TIMEOUT = "10s"


@contextlib.contextmanager
def _pool(assignment: str, workers: int, scheduler: str | None) -> Iterator[Executor]:
    """A pool of ``workers`` local processes, or the executor of the Dask cluster at ``scheduler``."""
    if scheduler is None:
        # spawn, not fork: torch's thread pools do not survive a fork
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            yield pool
        return
    try:
        from distributed import Client
    except ImportError:
        raise ValueError("scheduler: grading on a Dask cluster needs the distributed package "
                         "(pip install distributed)") from None
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, ValueError) as error:
        raise ValueError(f"scheduler: expected the address of a running Dask scheduler, such as "
                         f"tcp://host:8786; {scheduler!r} did not answer ({error})") from None
    with client:
        client.run(prepare_models, assignment, False)  # once per worker, before any task needs the models
        with client.get_executor(pure=False) as executor:
            yield executor


def collect(assignment: str, submissions: Path, out: Path, *, seed: int = 0) -> list[StudentGrade]:
    """Write the report of ``out`` (module docstring) from the journals; return the rows of ``grades.csv``.

    A submission that no journal holds (a shard that has not run) is ``failed`` with that reason."""
    for name in REPORTS:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    write_config(out, source=SOLUTIONS, release="release", submitted="submitted", autograded="autograded",
                 feedback="feedback")
    made = nbgrader(out, "generate_assignment", assignment, "--force")
    if made.returncode != 0:
        raise GradingError(f"nbgrader generate_assignment {assignment} failed:\n{made.stdout}{made.stderr}")
    entries = read_journals(out)
    max_score = sum(t.points for t in instructor_tests(assignment))
    rows, results, timing = [], {}, []
    for submission in find_submissions(assignment, submissions):
        row = StudentGrade(submission.student_id, assignment, max_score=max_score, status=submission.status,
                           reason=submission.problem)
        rows.append(row)
        if submission.notebook is None:
            continue
        entry = entries.get(submission.student_id)
        if entry is None or entry["key"] != submission.key(assignment, seed):
            row.status, row.reason = "failed", "not graded yet (its shard has not run, or the file changed since)"
            continue
        result = results[submission.student_id] = _result_from_json(entry["result"])
        timing.append((submission.student_id, entry["seconds"], result.score))
        _fill_row(row, submission, result)
    _write_gradebook(assignment, out, results, submissions)
    feedback = nbgrader(out, "generate_feedback", assignment, "--force")
    if feedback.returncode != 0:  # the grades stand; students without feedback show an empty feedback column
        print(f"warning: nbgrader generate_feedback failed:\n{feedback.stdout}{feedback.stderr}", file=sys.stderr)
    for row in rows:
        page = out / "feedback" / row.student_id / assignment / f"{assignment}.html"
        row.feedback = str(page.relative_to(out)) if page.exists() else ""
    (out / "results").mkdir()
    tests = instructor_tests(assignment)
    for row in rows:  # one for every student: without a graded notebook, every test at 0 with the reason
        result = results.get(row.student_id) or SubmissionResult(assignment, [
            GradedTest(t.grade_id, t.exercise, t.points, row.status, row.reason) for t in tests], [row.reason])
        (out / "results" / f"{row.student_id}.json").write_text(json.dumps(gradescope_results(result), indent=1))
    _write_csv(out / "grades.csv", rows)
    with (out / "timing.csv").open("w", newline="") as file:
        csv.writer(file).writerows([("student_id", "seconds", "score"), *timing])
    (out / "isolation.json").write_text(json.dumps(isolation(), indent=1))
    return rows


def _fill_row(row: StudentGrade, submission: Submission, result: SubmissionResult) -> None:
    row.score = result.score
    row.cells = {t.grade_id: t.score for t in result.tests}
    if not result.readable:
        row.status, row.reason = "failed", result.problems[0]
        return
    # "failed" is what nbgrader's own reason means; every other status is named
    lost = [t.grade_id + ("" if t.status == "failed" else f" ({t.status})") for t in result.tests
            if t.status != "passed"]
    reasons = [f"lost points in {', '.join(lost)}"] if lost else []
    row.reason = "; ".join(reasons + [p for p in [submission.problem, *result.problems] if p])


def _write_gradebook(assignment: str, out: Path, results: dict[str, SubmissionResult], submissions: Path) -> None:
    """Each result into nbgrader's gradebook as auto scores, and its autograded notebook for the feedback page."""
    from nbgrader.api import Gradebook

    release = nbformat.read(out / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    with Gradebook(f"sqlite:///{(out / 'gradebook.db').resolve()}") as gradebook, warnings.catch_warnings():
        # nbgrader's add_submission makes SQLAlchemy warn about its own autoflush; the rows are written all the same
        warnings.filterwarnings("ignore", message="Object of type", module="nbgrader")
        for student, result in results.items():
            gradebook.update_or_create_student(student)
            gradebook.add_submission(assignment, student)
            for test in result.tests:
                gradebook.find_grade(test.grade_id, assignment, assignment, student).auto_score = test.score
            gradebook.db.commit()
            notebook = _feedback_notebook(release, _answers(submissions / student / assignment), result)
            folder = out / "autograded" / student / assignment
            folder.mkdir(parents=True)
            nbformat.write(notebook, folder / f"{assignment}.ipynb")


def _answers(folder: Path) -> dict[str, str]:
    """The student's answer cells by ``grade_id`` (the first of each), from the notebook graded in ``folder``."""
    notebooks = sorted(folder.glob("*.ipynb"))
    path = next((p for p in notebooks if p.name == f"{folder.name}.ipynb"), notebooks[0] if notebooks else None)
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception:  # unreadable: the feedback shows the release's cells
        return {}
    answers: dict[str, str] = {}
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and not meta.get("grade") and isinstance(cell.get("source"), str):
            answers.setdefault(meta.get("grade_id"), cell.source)
    return answers


def _feedback_notebook(release: nbformat.NotebookNode, answers: dict[str, str],
                       result: SubmissionResult) -> nbformat.NotebookNode:
    """The released notebook with the student's answers and, under each public test, its verdict: what the
    feedback page shows (built from trusted parts only; the hidden tests were never in the release)."""
    notebook = copy.deepcopy(release)
    verdicts = {t.grade_id: t for t in result.tests}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        if meta.get("solution") and not meta.get("grade") and meta.get("grade_id") in answers:
            cell.source = answers[meta["grade_id"]]
        test = verdicts.get(meta.get("grade_id")) if meta.get("grade") else None
        if test is None:
            continue
        if test.status == "passed":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=test.message + "\n")]
        else:
            cell.outputs = [nbformat.v4.new_output("error", ename=test.status, evalue=test.message,
                                                   traceback=[f"{test.status}: {test.message}"])]
    if result.problems:
        notes = "\n".join(f"- {p}" for p in result.problems)
        notebook.cells.insert(0, nbformat.v4.new_markdown_cell(f"**Notes from the grader**\n\n{notes}"))
    return notebook


def grade_batch(assignment: str, submissions: Path, out: Path, *, workers: int = 1, seed: int = 0,
                limits: Limits = Limits(), budgets: Budgets = Budgets(), scheduler: str | None = None,
                progress: bool = True) -> list[StudentGrade]:
    """Grade every submission not graded yet (:func:`grade_shard` with one shard), then write the report
    (:func:`collect`); return the rows of ``grades.csv``."""
    check_assignment(assignment)
    submissions, out = Path(submissions), Path(out)
    if not submissions.is_dir():
        raise ValueError(f"submissions: expected a folder of <student_id>/{assignment}/*.ipynb, got {submissions}")
    grade_shard(assignment, submissions, out, workers=workers, seed=seed, limits=limits, budgets=budgets,
                scheduler=scheduler, progress=progress)
    return collect(assignment, submissions, out, seed=seed)


def format_timing(out: Path, slowest: int = 10) -> str:
    """The timing table of a graded ``out``: total, mean and the slowest submissions."""
    with (out / "timing.csv").open() as file:
        rows = [(r["student_id"], float(r["seconds"])) for r in csv.DictReader(file)]
    if not rows:
        return "no submission was graded"
    seconds = [s for _, s in rows]
    lines = [f"{len(rows)} notebooks graded, {sum(seconds):.1f} s of grading, mean {sum(seconds) / len(rows):.2f} s",
             f"{'student':<16} {'seconds':>8}"]
    lines += [f"{student:<16} {s:>8.2f}" for student, s in sorted(rows, key=lambda r: -r[1])[:slowest]]
    return "\n".join(lines)
