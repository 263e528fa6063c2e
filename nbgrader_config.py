# The course's nbgrader configuration lives in autograder/nbgrader_config.py; this file lets `nbgrader ...`
# (and the JupyterLab formgrader) find it when they run from the repository root.
c = get_config()  # noqa: F821
load_subconfig("autograder/nbgrader_config.py")  # noqa: F821
