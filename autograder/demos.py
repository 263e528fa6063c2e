"""Demonstration cells: what a notebook shows but no grade depends on, so grading does not run it.

A code cell of ``solutions/`` tagged ``demo`` teaches (a training run, a timing, a plot, the asserts on what it
measured, a widget), but no exercise, no test and no later cell that grading runs needs what it computes. A cell
that shows a widget is always one: no one moves a slider while a notebook is graded. Graded, a
notebook runs its setup, the student's answers and the tests, and skips its demonstrations: a class of hundreds
does not pay hundreds of times for 07's timings. nbval and ``python -m autograder refresh`` still run every cell.

nbgrader's Execute skips cells by tag (``Execute.skip_cells_with_tag``, set to :data:`DEMO_TAG` in
``autograder/nbgrader_config.py``). A tag is the student's to edit, so :class:`RunGradedCells` takes it off every
cell nbgrader grades or locks before the notebook runs: a test cell tagged ``demo`` runs all the same. The
hardened grader runs only a submission's setup and answer cells (:func:`autograder.remote.notebook_cells`), and
leaves out the setup cells that the release, not the student, tags ``demo``.

Example:
    >>> import nbformat
    >>> test = nbformat.v4.new_code_cell("assert answer() == 42", metadata={
    ...     "tags": ["demo"], "nbgrader": {"grade": True, "grade_id": "test_answer", "points": 1}})
    >>> notebook = nbformat.v4.new_notebook(cells=[test])
    >>> RunGradedCells().preprocess(notebook, {})[0].cells[0].metadata.tags
    []
"""

from __future__ import annotations

from nbgrader.preprocessors import NbGraderPreprocessor

#: The tag of a demonstration cell.
DEMO_TAG = "demo"


class RunGradedCells(NbGraderPreprocessor):
    """Take :data:`DEMO_TAG` off every cell nbgrader grades or whose source it restores (answer, test, locked
    and task cells), so that grading runs it."""

    def preprocess_cell(self, cell, resources, index):
        role = cell.metadata.get("nbgrader", {})
        if any(role.get(key) for key in ("grade", "solution", "locked", "task")) and "tags" in cell.metadata:
            cell.metadata.tags = [tag for tag in cell.metadata.tags if tag != DEMO_TAG]
        return cell, resources
