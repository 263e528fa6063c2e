"""Release: generate the student notebooks in ``lectures/`` from ``solutions/`` with nbgrader, then prove
that nothing an instructor keeps (solution code, hidden tests, stored outputs) reached them.

Example:
    $ python -m autograder release 01_tokenization
    released lectures/01_tokenization/01_tokenization.ipynb (6 exercises, no leaks)
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from autograder.course import SOLUTIONS, LECTURES, assignments, check_assignment, nbgrader, write_config

MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def refresh(assignment_ids: list[str] | None = None) -> list[Path]:
    """Execute the instructor notebooks in place, so that nbval has their outputs to compare; return them.

    Cells keep their outputs but no timing metadata, and the notebook keeps no widget state (its model ids
    change on every run), so a notebook whose outputs did not change stays byte for byte the same.
    """
    from autograder.execution import NotebookRunner

    notebooks = []
    for assignment in assignment_ids or assignments():
        for path in sorted((SOLUTIONS / check_assignment(assignment)).glob("*.ipynb")):
            notebook = nbformat.read(path, as_version=4)
            client = NotebookRunner(notebook, timeout=600, record_timing=False,
                                    resources={"metadata": {"path": str(path.parent)}})
            client.execute()
            notebook.metadata.pop("widgets", None)
            nbformat.write(notebook, path)
            notebooks.append(path)
    return notebooks


class ReleaseError(RuntimeError):
    """nbgrader could not generate a student version, or the version it generated leaks."""


def release(assignment_ids: list[str] | None = None, *, release_dir: Path = LECTURES) -> list[Path]:
    """Regenerate ``release_dir/<assignment>/`` for each assignment (all by default, one nbgrader process per core
    at a time); return the notebooks.

    Raises ``ReleaseError`` if nbgrader fails or a generated notebook leaks (see ``find_leaks``).
    """
    ids = list(assignment_ids or assignments())
    for assignment in ids:
        check_assignment(assignment)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(pool.map(lambda assignment: _generate(assignment, release_dir), ids))
    notebooks: list[Path] = []
    for assignment, result in zip(ids, results):
        if result.returncode != 0:
            raise ReleaseError(f"nbgrader generate_assignment {assignment} failed:\n{result.stdout}{result.stderr}")
        leaks = find_leaks(assignment, release_dir)
        if leaks:
            raise ReleaseError(f"the student version of {assignment} leaks:\n  " + "\n  ".join(leaks))
        notebooks += sorted((release_dir / assignment).glob("*.ipynb"))
    return notebooks


def _generate(assignment: str, release_dir: Path) -> subprocess.CompletedProcess:
    """``nbgrader generate_assignment`` of one assignment, in a course folder of its own."""
    with tempfile.TemporaryDirectory(prefix="tlcourse-release-") as tmp:
        write_config(Path(tmp), source=SOLUTIONS, release=release_dir.resolve())
        return nbgrader(Path(tmp), "generate_assignment", assignment, "--force")


def _protected_lines(notebook: nbformat.NotebookNode) -> set[str]:
    """Lines that only instructors may see: those inside solution or hidden-test regions, and nowhere else."""
    inside, outside = set(), set()
    for cell in notebook.cells:
        region = None
        for line in cell.source.splitlines():
            text = line.strip()
            if "BEGIN SOLUTION" in text or "BEGIN HIDDEN TESTS" in text:
                region = text
            elif "END SOLUTION" in text or "END HIDDEN TESTS" in text:
                region = None
            elif text:
                (inside if region else outside).add(text)
    # Short or shared lines (``return result``, a lone bracket) say nothing about the solution.
    return {line for line in inside - outside if len(line) >= 12}


def find_leaks(assignment: str, release_dir: Path = LECTURES) -> list[str]:
    """Everything in the released ``assignment`` that students must not see; empty when the release is clean."""
    problems = []
    for source_path in sorted((SOLUTIONS / assignment).glob("*.ipynb")):
        released_path = release_dir / assignment / source_path.name
        if not released_path.exists():
            problems.append(f"{released_path}: missing")
            continue
        protected = _protected_lines(nbformat.read(source_path, as_version=4))
        released = nbformat.read(released_path, as_version=4)
        if "widgets" in released.metadata:
            problems.append(f"{released_path.name}: stored widget state (execute with store_widget_state=False)")
        for index, cell in enumerate(released.cells):
            where = f"{released_path.name} cell {index}"
            if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None):
                problems.append(f"{where}: stored output")
            if "execution" in cell.metadata:
                problems.append(f"{where}: execution timing metadata (execute with record_timing=False)")
            problems += [f"{where}: marker {m!r}" for m in MARKERS if m in cell.source]
            problems += [f"{where}: protected line {line!r}" for line in cell.source.splitlines()
                         if line.strip() in protected]
    return problems
