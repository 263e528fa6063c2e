"""Command line: ``python -m autograder {release,grade,demo} ...``.

- ``refresh [ASSIGNMENT ...]``: execute the instructor notebooks in place (their stored outputs), then release.
- ``release [ASSIGNMENT ...]``: regenerate ``lectures/`` from ``solutions/`` and check that nothing leaked.
- ``grade ASSIGNMENT --submissions DIR --out OUT [--workers N | --scheduler ADDRESS] [--shard I/N]``: grade
  ``DIR/<student_id>/<ASSIGNMENT>/*.ipynb`` out of process (:mod:`autograder.batch`), resuming where a killed run
  stopped; write ``OUT/grades.csv``, ``OUT/results/``, the gradebook and ``OUT/feedback/``. Each cell and call has
  a time budget (``--cell-budget``, ``--call-budget``, ``--call-budget-times``: :class:`autograder.remote.Budgets`)
  and ``--timeout`` bounds a whole submission. ``--engine nbgrader``
  runs stock ``nbgrader autograde`` instead (:mod:`autograder.grade`: the tests run inside the student's kernel).
- ``collect ASSIGNMENT --submissions DIR --out OUT``: write the report from the journals of sharded runs.
- ``demo [--out OUT] [--workers N]``: release, make the example class, grade it (two notebooks at once by
  default), print the grade table.
- ``judge ASSIGNMENT NOTEBOOK [--results PATH]``: grade one notebook out of process, from the instructor's copy
  (:mod:`autograder.hardened`); print each test and write Gradescope's ``results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from autograder.batch import collect, format_timing, grade_batch, grade_shard
from autograder.course import REPO, assignments, check_assignment
from autograder.examples import make_class
from autograder.grade import format_table, grade
from autograder.release import ReleaseError, refresh, release
from autograder.remote import Budgets
from autograder.sandbox import Limits


def _release(args: argparse.Namespace) -> int:
    for notebook in release(args.assignments or None):
        print(f"released {notebook.relative_to(REPO)} (no solutions, hidden tests or outputs)")
    return 0


def _refresh(args: argparse.Namespace) -> int:
    for notebook in refresh(args.assignments or None):
        print(f"executed {notebook.relative_to(REPO)}")
    return _release(args)


def _limits(timeout: float) -> Limits:
    return Limits(wall_seconds=timeout, cpu_seconds=max(1, int(timeout)))


def _budgets(args: argparse.Namespace) -> Budgets:
    return Budgets(cell_seconds=args.cell_budget, call_seconds=args.call_budget, call_times=args.call_budget_times)


def _add_budgets(parser: argparse.ArgumentParser, timeout: float) -> None:
    """The time budgets of grading out of process (:class:`autograder.remote.Budgets`), and the backstop."""
    defaults = Budgets()
    parser.add_argument("--timeout", type=float, default=timeout,
                        help=f"seconds one student's grading may take in all, a backstop (default {timeout:g})")
    parser.add_argument("--cell-budget", type=float, default=defaults.cell_seconds,
                        help=f"seconds each setup or answer cell may run (default {defaults.cell_seconds:g})")
    parser.add_argument("--call-budget", type=float, default=defaults.call_seconds,
                        help=f"seconds each call of a student's function may run at least (default "
                             f"{defaults.call_seconds:g})")
    parser.add_argument("--call-budget-times", type=float, default=defaults.call_times,
                        help=f"... or this many times what the reference takes on the same case, if more (default "
                             f"{defaults.call_times:g})")


def _shard(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    try:
        return int(index), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I/N such as 2/8, got {text!r}") from None


def _grade(args: argparse.Namespace) -> int:
    if args.engine == "nbgrader":
        rows = grade(args.assignment, args.submissions, args.out, timeout=args.timeout)
    elif args.shard is not None:
        check_assignment(args.assignment)
        grade_shard(args.assignment, args.submissions, args.out, workers=args.workers, seed=args.seed,
                    limits=_limits(args.timeout), budgets=_budgets(args), shard=args.shard, scheduler=args.scheduler)
        print(f"shard {args.shard[0]}/{args.shard[1]} graded into {args.out / 'journal'}; when every shard is done: "
              f"python -m autograder collect {args.assignment} --submissions ... --out {args.out}")
        return 0
    else:
        rows = grade_batch(args.assignment, args.submissions, args.out, workers=args.workers, seed=args.seed,
                           limits=_limits(args.timeout), budgets=_budgets(args), scheduler=args.scheduler)
    _report(args.out, args.assignment, rows, timing=args.engine != "nbgrader")
    return 0


def _collect(args: argparse.Namespace) -> int:
    rows = collect(check_assignment(args.assignment), args.submissions, args.out, seed=args.seed)
    _report(args.out, args.assignment, rows, timing=True)
    return 0


def _report(out: Path, assignment: str, rows: list, timing: bool) -> None:
    print(format_table(rows))
    if timing:
        print("\n" + format_timing(out))
    print(f"\ngrades: {out / 'grades.csv'}\nfeedback: {out / 'feedback'}/<student>/{assignment}/")


def _judge(args: argparse.Namespace) -> int:
    from autograder.hardened import grade_submission, gradescope_results

    result = grade_submission(args.assignment, args.notebook, seed=args.seed, limits=_limits(args.timeout),
                              budgets=_budgets(args))
    for test in result.tests:
        print(f"{test.grade_id:<32} {test.score:>5g} / {test.points:<5g} {test.status:<15} "
              f"{test.message.splitlines()[0] if test.message else ''}")
    for problem in result.problems:
        print(f"note: {problem}")
    print(f"score: {result.score:g} / {result.max_score:g}")
    if args.results:
        args.results.write_text(json.dumps(gradescope_results(result), indent=1), encoding="utf-8")
    return 0


def _demo(args: argparse.Namespace) -> int:
    _release(argparse.Namespace(assignments=[]))
    for assignment in args.assignments or assignments():
        submissions = args.out / assignment / "submissions"
        students = make_class(assignment, submissions)
        print(f"\n{assignment}: grading an example class of {len(students)}")
        for student, description in students.items():
            print(f"  {student:<6} {description}")
        rows = grade_batch(assignment, submissions, args.out / assignment, workers=args.workers,
                           limits=_limits(args.timeout), budgets=_budgets(args))
        print()
        _report(args.out / assignment, assignment, rows, timing=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("release", help="regenerate lectures/ from solutions/ with nbgrader")
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    p.set_defaults(run=_release)

    p = commands.add_parser("refresh", help="execute solutions/ notebooks in place, then release")
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    p.set_defaults(run=_refresh)

    p = commands.add_parser("grade", help="autograde a folder of submissions")
    p.add_argument("assignment")
    p.add_argument("--submissions", type=Path, required=True, help="DIR/<student_id>/<assignment>/*.ipynb")
    p.add_argument("--out", type=Path, required=True, help="where grades.csv, the gradebook and feedback go")
    _add_budgets(p, timeout=600)
    p.add_argument("--workers", type=int, default=1, help="notebooks graded at once")
    p.add_argument("--scheduler", help="grade on the Dask cluster of this scheduler (tcp://host:8786) instead")
    p.add_argument("--seed", type=int, default=0, help="which hidden cases (keep it secret)")
    p.add_argument("--shard", type=_shard, help="I/N: grade only shard I of N (then run collect)")
    p.add_argument("--engine", choices=("sandbox", "nbgrader"), default="sandbox",
                   help="sandbox (default): out of process; nbgrader: stock nbgrader autograde, tests in the kernel")
    p.set_defaults(run=_grade)

    p = commands.add_parser("collect", help="write the report of sharded grading runs")
    p.add_argument("assignment")
    p.add_argument("--submissions", type=Path, required=True, help="DIR/<student_id>/<assignment>/*.ipynb")
    p.add_argument("--out", type=Path, required=True, help="the --out the shards shared")
    p.add_argument("--seed", type=int, default=0, help="the seed the shards used")
    p.set_defaults(run=_collect)

    p = commands.add_parser("demo", help="release, then grade an example class")
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    p.add_argument("--out", type=Path, default=REPO / "work" / "demo", help="where the demo writes")
    _add_budgets(p, timeout=600)
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="notebooks graded at once (default: 2, or 1 on a single core)")
    p.set_defaults(run=_demo)

    p = commands.add_parser("judge", help="grade one notebook out of process (sandboxed; plain-function exercises)")
    p.add_argument("assignment")
    p.add_argument("notebook", type=Path)
    p.add_argument("--seed", type=int, default=0, help="which hidden cases (keep it secret)")
    _add_budgets(p, timeout=600)
    p.add_argument("--results", type=Path, help="write Gradescope's results.json here")
    p.set_defaults(run=_judge)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, ReleaseError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
