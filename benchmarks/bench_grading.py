"""Grading cost: the hardened batch (``python -m autograder grade``) against stock ``nbgrader autograde``.

Run ``python benchmarks/bench_grading.py [--assignment 04_pretraining_clm] [--notebooks 60]``. The submissions are
the example class of the assignment (:func:`autograder.examples.make_class`: a correct notebook, one with bugs,
the untouched release, one whose first answer raises, one that kills its process, a file that is not a
notebook), copied round-robin into as many students as asked. The course models are prepared before any timing.

**Per notebook.** Each engine grades a batch of 1 and a batch of ``--small`` copies of the correct notebook;
``start`` is what the batch of one costs beyond one notebook and ``per notebook`` the slope between the two batch
times (the fixed work cancels out: releasing, the gradebook, the feedback pages). What a notebook costs by
itself is measured apart:

- hardened: the student's **own compute**, the setup and answer cells the grader runs plus one call of each
  student function on every public and hidden case, in one plain Python process (no sandbox, no references, no
  comparisons); ``overhead`` = per notebook − own compute. Target: <= 2 s.
- stock: running the whole notebook with ``nbclient`` (a kernel start included), which is what nbgrader does per
  notebook; ``overhead`` = per notebook − that.

**Throughput.** ``--notebooks`` submissions graded (the journal only: ``grade_shard``) with 1 and with 2
workers; the ratio of the two times. Target: >= 1.7x with 2 workers (on a machine with at least 2 cores).

``--json PATH`` writes the numbers. The script exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nbformat  # noqa: E402

from autograder.batch import _result_from_json, grade_batch, grade_shard, read_journals  # noqa: E402
from autograder.course import prepare_models  # noqa: E402
from autograder.examples import make_class  # noqa: E402
from autograder.grade import grade as grade_stock  # noqa: E402
from autograder.hardened import instructor_tests  # noqa: E402
from autograder.remote import notebook_cells  # noqa: E402

OWN_COMPUTE = """
import copy, json, sys
from tlcourse.exercises.registry import get_exercise
cells, names = json.load(open(sys.argv[1]))
namespace = {"__name__": "__main__"}
for source in cells:
    exec(compile(source, "<cell>", "exec"), namespace)
for name in names:
    exercise = get_exercise(name)
    for which in ("public", "hidden"):
        for case in exercise.cases(which, 0):
            args, kwargs = copy.deepcopy((case.args, case.kwargs))
            function = namespace[name]
            if case.init is not None:
                function = function(**copy.deepcopy(case.init)).eval()
            function(*args, **kwargs)
"""


def _class(assignment: str, root: Path, copies: int, only: str | None = None) -> Path:
    """``copies`` students, each a copy of an example student (round-robin, or always ``only``)."""
    example = root / "example"
    if not example.exists():
        make_class(assignment, example)
    kinds = [only] if only else sorted(p.name for p in example.iterdir())
    folder = root / f"class-{copies}-{only or 'all'}"
    shutil.rmtree(folder, ignore_errors=True)
    for n in range(copies):
        shutil.copytree(example / kinds[n % len(kinds)], folder / f"s{n:03d}")
    return folder


def _timed(function, *args, **kwargs) -> float:
    start = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - start


def own_compute(assignment: str, notebook: Path, root: Path) -> float:
    """Seconds a plain Python process takes to run what the hardened grader runs of ``notebook`` (docstring)."""
    cells = notebook_cells(nbformat.read(notebook, as_version=4))
    names = list(dict.fromkeys(t.exercise for t in instructor_tests(assignment)))
    job = root / "own-compute.json"
    job.write_text(json.dumps([cells, names]))
    return _timed(subprocess.run, [sys.executable, "-c", OWN_COMPUTE, str(job)], check=True, capture_output=True)


def nbclient_seconds(notebook: Path) -> float:
    from autograder.execution import NotebookRunner

    nb = nbformat.read(notebook, as_version=4)
    return _timed(NotebookRunner(nb, timeout=1200, kernel_name="python3").execute)


def per_notebook(engine, assignment: str, root: Path, small: int) -> tuple[float, float]:
    """(start, per notebook) of ``engine(submissions, out)`` from batches of 1 and ``small`` correct notebooks;
    raise if any of them did not get full marks (a run that failed is not a fast one)."""
    seconds = []
    for copies in (1, small):
        start = time.perf_counter()
        rows = engine(_class(assignment, root, copies, "ada"), root / f"out-{copies}")
        seconds.append(time.perf_counter() - start)
        wrong = [(r.student_id, r.score, r.status, r.reason) for r in rows if r.score != r.max_score]
        if wrong:
            raise RuntimeError(f"the correct notebook did not get full marks: {wrong}")
    slope = (seconds[1] - seconds[0]) / (small - 1)
    return seconds[0] - slope, slope


def scores(out: Path) -> dict[str, float]:
    """Each student's score in the journals of ``out``."""
    return {student: _result_from_json(entry["result"]).score for student, entry in read_journals(out).items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="04_pretraining_clm")
    parser.add_argument("--notebooks", type=int, default=60, help="submissions in the throughput batch")
    parser.add_argument("--small", type=int, default=5, help="notebooks in the second per-notebook batch")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the own-compute measurement (median)")
    parser.add_argument("--skip-stock", action="store_true", help="leave out stock nbgrader")
    parser.add_argument("--json", type=Path, help="write the numbers here")
    args = parser.parse_args(argv)
    assignment = args.assignment
    prepare_models(assignment)
    root = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    numbers: dict[str, float] = {"cpu_cores": os.cpu_count() or 0}
    try:
        correct = next((_class(assignment, root, 1, "ada") / "s000" / assignment).glob("*.ipynb"))
        numbers["own_compute_s"] = statistics.median(own_compute(assignment, correct, root)
                                                     for _ in range(args.repeats))
        start, slope = per_notebook(lambda s, o: grade_batch(assignment, s, o, progress=False), assignment,
                                    root / "hardened", args.small)
        numbers.update(hardened_start_s=start, hardened_per_notebook_s=slope,
                       hardened_overhead_s=slope - numbers["own_compute_s"])
        if not args.skip_stock:
            numbers["nbclient_s"] = statistics.median(nbclient_seconds(correct) for _ in range(args.repeats))
            start, slope = per_notebook(lambda s, o: grade_stock(assignment, s, o), assignment, root / "stock",
                                        args.small)
            numbers.update(stock_start_s=start, stock_per_notebook_s=slope,
                           stock_overhead_s=slope - numbers["nbclient_s"])
        batch = _class(assignment, root, args.notebooks)
        for workers in (1, 2):
            numbers[f"throughput_{workers}_workers_s"] = _timed(
                grade_shard, assignment, batch, root / f"throughput-{workers}", workers=workers, progress=False)
        numbers["speedup_2_workers"] = numbers["throughput_1_workers_s"] / numbers["throughput_2_workers_s"]
        graded = scores(root / "throughput-1")
        if graded != scores(root / "throughput-2"):
            raise RuntimeError("1 and 2 workers gave different grades")
        kinds = sorted(p.name for p in (root / "example").iterdir())  # _class copies them round-robin
        full = sum(t.points for t in instructor_tests(assignment))
        if any(graded[f"s{n:03d}"] != full for n in range(args.notebooks) if kinds[n % len(kinds)] == "ada"):
            raise RuntimeError("a copy of the correct notebook did not get full marks")
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print(f"{assignment}, {numbers['cpu_cores']} CPU cores")
    print(f"{'':28} {'start s':>8} {'per notebook s':>15} {'own s':>7} {'overhead s':>11}")
    print(f"{'hardened (sandbox)':28} {numbers['hardened_start_s']:8.2f} {numbers['hardened_per_notebook_s']:15.2f} "
          f"{numbers['own_compute_s']:7.2f} {numbers['hardened_overhead_s']:11.2f}")
    if not args.skip_stock:
        print(f"{'stock nbgrader autograde':28} {numbers['stock_start_s']:8.2f} {numbers['stock_per_notebook_s']:15.2f} "
              f"{numbers['nbclient_s']:7.2f} {numbers['stock_overhead_s']:11.2f}")
    print(f"\n{args.notebooks} notebooks: 1 worker {numbers['throughput_1_workers_s']:.1f} s, 2 workers "
          f"{numbers['throughput_2_workers_s']:.1f} s: {numbers['speedup_2_workers']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=1))
    missed = []
    if numbers["hardened_overhead_s"] > 2.0:
        missed.append(f"overhead {numbers['hardened_overhead_s']:.2f} s > 2 s")
    if numbers["speedup_2_workers"] < 1.7:
        missed.append(f"2 workers {numbers['speedup_2_workers']:.2f}x < 1.7x")
    print("targets: " + ("; ".join(f"MISSED {m}" for m in missed) if missed else "PASS (overhead <= 2 s, >= 1.7x)"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
