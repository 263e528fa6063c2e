"""What submissions that never end cost a class: the time budgets of the out-of-process grader at work.

Run ``python benchmarks/bench_budgets.py [--assignment 01_tokenization] [--workers 2]``. It grades the example
class of the assignment (:func:`autograder.examples.make_class`: six students) and then the same class with three
submissions that never end (``hanging=True``: a function that loops forever, a ``while True: pass`` at the top of
the first answer cell, a function that sleeps for ``10**6`` s), both with the grader's default budgets and the
default whole-submission limit of ``python -m autograder grade``, and prints both times, what each hanging
submission took and scored, and why.

Target: the class with the three hanging submissions takes at most 60 s more than the six alone, and the six get
the same grades in both. ``--json PATH`` writes the numbers; the script exits 1 if the target is missed.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograder.batch import grade_batch  # noqa: E402
from autograder.course import prepare_models  # noqa: E402
from autograder.examples import make_class  # noqa: E402
from autograder.remote import Budgets  # noqa: E402
from autograder.sandbox import Limits  # noqa: E402

#: The backstop ``python -m autograder grade`` sets by default (``--timeout``).
TIMEOUT = 600
TARGET_EXTRA_SECONDS = 60


def _graded(assignment: str, root: Path, hanging: bool, workers: int) -> tuple[float, dict, dict[str, float]]:
    make_class(assignment, root / "class", hanging=hanging)
    start = time.perf_counter()
    rows = grade_batch(assignment, root / "class", root / "out", workers=workers, limits=Limits(wall_seconds=TIMEOUT, cpu_seconds=TIMEOUT),
                       budgets=Budgets(), progress=False)
    seconds = time.perf_counter() - start
    with (root / "out" / "timing.csv").open() as file:
        each = {r["student_id"]: float(r["seconds"]) for r in csv.DictReader(file)}
    return seconds, {r.student_id: (r.score, r.status, r.reason) for r in rows}, each


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="01_tokenization")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    prepare_models(args.assignment, progress=True)
    with tempfile.TemporaryDirectory() as folder:
        alone, six, _ = _graded(args.assignment, Path(folder) / "six", False, args.workers)
        with_hanging, nine, each = _graded(args.assignment, Path(folder) / "nine", True, args.workers)
    budgets = Budgets()
    print(f"{args.assignment}, {args.workers} workers, budgets: {budgets.cell_seconds:g} s a cell, a call "
          f"{budgets.call_times:g}x the reference and at least {budgets.call_seconds:g} s; backstop {TIMEOUT} s")
    print(f"  the six alone:                  {alone:6.1f} s")
    print(f"  with three hanging submissions: {with_hanging:6.1f} s  (+{with_hanging - alone:.1f} s)")
    for student in ("hal", "hank", "sal"):
        score, status, reason = nine[student]
        print(f"    {student:<5} {each.get(student, float('nan')):5.1f} s  {score:g} points  {status}: {reason}")
    same = {s: nine[s] for s in six} == six
    print(f"  the six get the same grades: {same}")
    met = same and with_hanging - alone <= TARGET_EXTRA_SECONDS
    print(f"target (at most +{TARGET_EXTRA_SECONDS} s, same grades): {'met' if met else 'MISSED'}")
    if args.json:
        args.json.write_text(json.dumps({"assignment": args.assignment, "workers": args.workers, "alone_s": alone,
                                         "with_hanging_s": with_hanging, "hanging_s": {s: each.get(s) for s in
                                                                                       ("hal", "hank", "sal")},
                                         "same_grades": same, "met": met}, indent=1))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
