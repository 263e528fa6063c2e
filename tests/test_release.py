"""lectures/ is what nbgrader generates from solutions/, and it leaks nothing an instructor keeps."""

import ast
import shutil

import nbformat
import pytest

from autograder.course import LECTURES, SOLUTIONS, assignments
from autograder.demos import DEMO_TAG
from autograder.release import find_leaks, release


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    out = tmp_path_factory.mktemp("release")
    release(release_dir=out)
    return out


@pytest.mark.parametrize("assignment", assignments())
def test_committed_lectures_equal_a_fresh_nbgrader_release(fresh_release, assignment):
    fresh = sorted(p.name for p in (fresh_release / assignment).iterdir())
    committed = sorted(p.name for p in (LECTURES / assignment).iterdir())
    assert committed == fresh, "run `python -m autograder release` and commit lectures/"
    for name in fresh:
        if name.endswith(".ipynb"):
            assert nbformat.read(LECTURES / assignment / name, 4) == nbformat.read(fresh_release / assignment / name, 4), (
                f"lectures/{assignment}/{name} is out of date: run `python -m autograder release` and commit it")


@pytest.mark.parametrize("assignment", assignments())
def test_committed_lectures_leak_nothing(assignment):
    assert find_leaks(assignment) == []


@pytest.mark.parametrize("assignment", assignments())
def test_student_version_has_a_stub_for_every_solution(assignment):
    for source in (SOLUTIONS / assignment).glob("*.ipynb"):
        released = nbformat.read(LECTURES / assignment / source.name, 4)
        answers = [c for c in released.cells if c.metadata.get("nbgrader", {}).get("solution")]
        assert answers, f"{source.name} has no exercises"
        assert all("raise NotImplementedError()" in c.source for c in answers)


def test_the_leak_check_catches_solutions_hidden_tests_and_outputs(fresh_release, tmp_path):
    assignment = assignments()[0]
    shutil.copytree(fresh_release / assignment, tmp_path / assignment)
    path = next((tmp_path / assignment).glob("*.ipynb"))
    solution = nbformat.read(SOLUTIONS / assignment / path.name, 4)
    notebook = nbformat.read(path, 4)
    answer = next(i for i, c in enumerate(solution.cells) if "BEGIN SOLUTION" in c.source)
    hidden = next(i for i, c in enumerate(solution.cells) if "BEGIN HIDDEN TESTS" in c.source)
    notebook.cells[answer].source = solution.cells[answer].source.replace("### BEGIN SOLUTION\n", "")
    notebook.cells[hidden].source = solution.cells[hidden].source
    notebook.cells[1].outputs = [nbformat.v4.new_output("stream", text="stored\n")]
    nbformat.write(notebook, path)
    leaks = find_leaks(assignment, tmp_path)
    assert any("protected line" in leak and f"cell {answer}:" in leak for leak in leaks)
    assert any("marker 'BEGIN HIDDEN TESTS'" in leak and f"cell {hidden}:" in leak for leak in leaks)
    assert any("cell 1: stored output" in leak for leak in leaks)


def _names(source: str) -> tuple[set[str], set[str]]:
    """The names a cell binds, and the names it reads that it does not bind itself."""
    tree = ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
    bound, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, ast.Store) else read).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return bound, read - bound


@pytest.mark.parametrize("assignment", assignments())
def test_grading_needs_nothing_a_demo_cell_computes(assignment):
    """Grading skips the cells tagged demo (autograder/demos.py): they are plain code cells, and no cell that
    grading runs reads a name whose last value came from one."""
    for path in (SOLUTIONS / assignment).glob("*.ipynb"):
        demo_names: set[str] = set()
        for index, cell in enumerate(nbformat.read(path, 4).cells):
            if cell.cell_type != "code":
                continue
            bound, read = _names(cell.source)
            if DEMO_TAG in cell.metadata.get("tags", ()):
                assert "nbgrader" not in cell.metadata, f"{path.name} cell {index}: a demo cell cannot be graded"
                demo_names |= bound
            else:
                assert not read & demo_names, f"{path.name} cell {index} reads {sorted(read & demo_names)} of a demo"
                demo_names -= bound


@pytest.mark.parametrize("assignment", assignments())
def test_every_widget_is_a_demo(assignment):
    """A cell that shows a widget is a demonstration (autograder/demos.py): grading has no one to move it, and
    running it there can stall the next cell for the whole cell time limit."""
    for path in (SOLUTIONS / assignment).glob("*.ipynb"):
        for index, cell in enumerate(nbformat.read(path, 4).cells):
            if cell.cell_type == "code" and "widgets." in cell.source:
                assert DEMO_TAG in cell.metadata.get("tags", ()), f"{path.name} cell {index} shows a widget"
