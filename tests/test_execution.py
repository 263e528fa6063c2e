"""Notebooks run without nbclient's stand-in for a widget's front end (autograder/execution.py), in grading too."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient
from traitlets.config.loader import PyFileConfigLoader

from autograder import execution

INTERACT = [
    "import ipywidgets as widgets",
    "widgets.interact(lambda k: print(f'k = {k}'), k=widgets.IntSlider(value=3, max=7));",
]


def _run(client_class):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in INTERACT])
    client_class(notebook, timeout=60, kernel_name="python3").execute()
    printed = [o.get("text", "") for o in notebook.cells[1].outputs if o.output_type == "stream"]
    return printed, notebook.metadata.get("widgets", {})


def test_a_widget_prints_into_its_cell_and_nothing_goes_back_to_the_kernel():
    printed, _ = _run(execution.NotebookRunner)
    assert printed == ["k = 3\n"]
    # nbclient itself keeps the print inside its stand-in for the widget (and syncs it back to the kernel)
    printed, widgets = _run(NotebookClient)
    assert printed == [] and "k = 3" in str(widgets)


def test_grading_runs_the_course_execute_in_place_of_nbgrader_s():
    from nbgrader.preprocessors import Execute

    config = PyFileConfigLoader("nbgrader_config.py", path=str(Path(execution.__file__).parent)).load_config()
    steps = config.Autograde.autograde_preprocessors
    assert "autograder.execution.Execute" in steps and Execute not in steps
    assert issubclass(execution.Execute, Execute)
