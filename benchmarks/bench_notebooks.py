"""A student's first run of every notebook: each executed top to bottom in a fresh kernel with a new, empty
``TLCOURSE_CACHE``, timed against the course's budget of 90 s on a 2-core CPU.

Run ``python benchmarks/bench_notebooks.py [ASSIGNMENT ...]`` (``make bench-notebooks``). It executes the instructor
notebooks of ``solutions/`` (the student versions stop at their exercises) on copies, so nothing in the repository
changes, prints one line per notebook with its slowest cells (anything over about 5 s should show a progress bar)
and writes ``--json`` if asked. The exit status is 1 when a notebook fails or
takes longer than ``--budget`` seconds. Run it on an otherwise idle machine: the times are wall-clock.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat

from autograder.execution import NotebookRunner

REPO = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = 90.0


def cold_run(notebook: Path) -> tuple[float, list[tuple[float, int]]]:
    """Seconds to execute ``notebook`` (a copy) in a new kernel whose ``TLCOURSE_CACHE`` is a new empty folder,
    and each code cell's (seconds, index), slowest first; raises nbclient's ``CellExecutionError`` if a cell
    fails."""
    with tempfile.TemporaryDirectory(prefix="tlcourse-cold-") as cache:
        os.environ["TLCOURSE_CACHE"] = cache  # the kernel inherits it
        nb = nbformat.read(notebook, as_version=4)
        client = NotebookRunner(nb, timeout=600, kernel_name="python3", record_timing=True,
                                resources={"metadata": {"path": str(notebook.parent)}})
        start = time.perf_counter()
        client.execute()
        total = time.perf_counter() - start
    cells = [(_seconds(cell.metadata.get("execution", {})), index) for index, cell in enumerate(nb.cells)
             if cell.cell_type == "code"]
    return total, sorted(cells, reverse=True)


def _seconds(execution: dict) -> float:
    """A cell's run time from the timestamps nbclient records."""
    try:
        begin, end = (datetime.fromisoformat(execution[k].replace("Z", "+00:00"))
                      for k in ("iopub.execute_input", "shell.execute_reply"))
    except KeyError:
        return 0.0
    return (end - begin).total_seconds()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", help="assignment ids (default: all in solutions/)")
    parser.add_argument("--budget", type=float, default=BUDGET_SECONDS, help="seconds a notebook may take")
    parser.add_argument("--json", type=Path, help="write {assignment: seconds} here")
    args = parser.parse_args(argv)
    names = args.assignments or sorted(p.name for p in (REPO / "solutions").iterdir() if p.name[:2].isdigit())
    seconds: dict[str, float | None] = {}
    print(f"{'notebook':22} {'cold run':>9}  budget {args.budget:.0f} s, {os.cpu_count()} CPUs")
    for name in names:
        try:
            seconds[name], cells = cold_run(REPO / "solutions" / name / f"{name}.ipynb")
            verdict = "ok" if seconds[name] <= args.budget else "OVER BUDGET"
            slowest = ", ".join(f"cell {index} {t:.1f}s" for t, index in cells[:3])
            print(f"{name:22} {seconds[name]:8.1f}s  {verdict:11}  slowest: {slowest}", flush=True)
        except Exception as error:  # noqa: BLE001 - a failing notebook is reported and fails the run
            seconds[name] = None
            print(f"{name:22} {'failed':>9}  {type(error).__name__}: {str(error).strip().splitlines()[-1][:200]}")
    if args.json:
        args.json.write_text(json.dumps(seconds, indent=1), encoding="utf-8")
    return 0 if all(s is not None and s <= args.budget for s in seconds.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
