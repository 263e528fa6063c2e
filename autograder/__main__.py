"""Command line: ``python -m autograder {release,grade,demo} ...``.

- ``refresh [ASSIGNMENT ...]``: execute the instructor notebooks in place (their stored outputs), then release.
- ``release [ASSIGNMENT ...]``: regenerate ``lectures/`` from ``solutions/`` and check that nothing leaked.
- ``grade ASSIGNMENT --submissions DIR --out OUT``: autograde ``DIR/<student_id>/<ASSIGNMENT>/*.ipynb``; write
  ``OUT/grades.csv``, the gradebook and ``OUT/feedback/``.
- ``demo [--out OUT]``: release, make the example class, grade it, print the grade table.
- ``judge ASSIGNMENT NOTEBOOK [--results PATH]``: grade one notebook out of process, from the instructor's copy
  (:mod:`autograder.hardened`); print each test and write Gradescope's ``results.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from autograder.course import REPO, assignments
from autograder.examples import make_class
from autograder.grade import format_table, grade
from autograder.release import ReleaseError, refresh, release
from autograder.sandbox import Limits


def _release(args: argparse.Namespace) -> int:
    for notebook in release(args.assignments or None):
        print(f"released {notebook.relative_to(REPO)} (no solutions, hidden tests or outputs)")
    return 0


def _refresh(args: argparse.Namespace) -> int:
    for notebook in refresh(args.assignments or None):
        print(f"executed {notebook.relative_to(REPO)}")
    return _release(args)


def _grade(args: argparse.Namespace) -> int:
    rows = grade(args.assignment, args.submissions, args.out, timeout=args.timeout)
    print(format_table(rows))
    print(f"\ngrades: {args.out / 'grades.csv'}\nfeedback: {args.out / 'feedback'}/<student>/{args.assignment}/")
    return 0


def _judge(args: argparse.Namespace) -> int:
    from autograder.hardened import grade_submission, gradescope_results

    result = grade_submission(args.assignment, args.notebook, seed=args.seed,
                              limits=Limits(wall_seconds=args.timeout, cpu_seconds=int(args.timeout)))
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
        rows = grade(assignment, submissions, args.out / assignment, timeout=args.timeout)
        print("\n" + format_table(rows))
        print(f"\ngrades: {args.out / assignment / 'grades.csv'}")
        print(f"feedback: {args.out / assignment / 'feedback'}/<student>/{assignment}/*.html")
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
    p.add_argument("--timeout", type=float, default=1200, help="seconds one student's grading may take")
    p.set_defaults(run=_grade)

    p = commands.add_parser("demo", help="release, then grade an example class")
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    p.add_argument("--out", type=Path, default=REPO / "work" / "demo", help="where the demo writes")
    p.add_argument("--timeout", type=float, default=1200, help="seconds one student's grading may take")
    p.set_defaults(run=_demo)

    p = commands.add_parser("judge", help="grade one notebook out of process (sandboxed; plain-function exercises)")
    p.add_argument("assignment")
    p.add_argument("notebook", type=Path)
    p.add_argument("--seed", type=int, default=0, help="which hidden cases (keep it secret)")
    p.add_argument("--timeout", type=float, default=600, help="seconds the student's process may run")
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
