# nbgrader configuration of the course. The repository root is the course directory: solutions/ holds the
# instructor notebooks (nbgrader's source step) and lectures/ the student notebooks (its release step).
# `python -m autograder ...` passes this file to every nbgrader command; ../nbgrader_config.py loads it too, so
# `nbgrader ...` and the JupyterLab formgrader work from the repository root.
from nbgrader.converters import Autograde
from nbgrader.preprocessors import Execute as NbgraderExecute

from autograder.demos import DEMO_TAG

c = get_config()  # noqa: F821 (provided by traitlets when the file is loaded)

c.CourseDirectory.course_id = "tlcourse"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "lectures"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".nbval*"]

# What a student sees in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Grading runs each notebook top to bottom; a cell that runs longer than this is stopped and fails.
c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True
# ... except its demonstrations (autograder/demos.py): the tag is taken off every cell nbgrader grades or locks.
c.Execute.skip_cells_with_tag = DEMO_TAG
# nbgrader's Execute, less its stand-in for widgets, which can stall the next cell (autograder/execution.py).
c.Autograde.autograde_preprocessors = [
    "autograder.demos.RunGradedCells",
    *("autograder.execution.Execute" if step is NbgraderExecute else step
      for step in Autograde.class_traits()["autograde_preprocessors"].default()),
]
