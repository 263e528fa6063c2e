"""Running a notebook in a kernel (nbclient), as grading, ``refresh`` and the notebook benchmark do.

nbclient plays the browser's part for ipywidgets' Output widget, the one ``interact`` prints into: it collects
the widget's outputs and sends every change back to the kernel as a comm message on the shell channel, the
channel the next cell's execute request takes. Now and then that next cell then does not start until the cell
time limit interrupts the kernel (``Execute.timeout``: 300 s in grading). Measured on a three-cell notebook
(an import, one ``interact`` that prints, ``x = 1``) run 100 times under each kernel: 2 runs with ipykernel
7.4 and 1 with ipykernel 6.31 waited for the limit with nbclient's stand-in for the widget; none in 200 runs
without it. A stalled test cell would fail and cost a student points.

So the course runs notebooks without that stand-in (:class:`WithoutWidgetFrontEnd`). Nothing else changes: a
widget's printed output lands in the cell's own outputs, which is what a notebook saved without widget state
shows anyway, and no one moves a slider while a notebook is graded. The course's own widget cells are
demonstrations (autograder/demos.py), which grading skips in any case.

Example:
    >>> import nbformat
    >>> notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    >>> NotebookRunner(notebook, timeout=60).execute().cells[0].outputs[0].text
    '42\\n'
"""

from __future__ import annotations

from typing import Any

from nbclient import NotebookClient
from nbgrader.preprocessors import Execute as NbgraderExecute


class WithoutWidgetFrontEnd:
    """Mixed into an nbclient ``NotebookClient``: no stand-in for a widget's front end is made, so no comm
    message goes back to the kernel."""

    def on_comm_open_jupyter_widget(self, msg: dict[str, Any]) -> None:
        return None


class NotebookRunner(WithoutWidgetFrontEnd, NotebookClient):
    """nbclient's ``NotebookClient`` without the widget stand-in (``refresh`` and the notebook benchmark)."""


class Execute(WithoutWidgetFrontEnd, NbgraderExecute):
    """nbgrader's ``Execute`` preprocessor without the widget stand-in (autograder/nbgrader_config.py puts it in
    nbgrader's place; ``c.Execute.*`` settings apply to it)."""
