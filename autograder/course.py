"""Where the course lives, and how we call nbgrader on it.

Every nbgrader step runs as ``python -m nbgrader ...`` in a child process whose working directory holds an
``nbgrader_config.py`` that loads ``autograder/nbgrader_config.py`` and then says where this run's folders are.
A child process keeps a crashing or hanging submission away from the batch, and the folder it runs in stays a
complete nbgrader course directory that an instructor can open with nbgrader's own tools afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
LECTURES = REPO / "lectures"
CONFIG = Path(__file__).resolve().with_name("nbgrader_config.py")


#: What an assignment's notebook loads: the course models and result tables (shipped with tlcourse, checked as
#: they load) and what its notebook trains once into the course cache (06's demo classifier), as
#: ``"module:function"`` paths called with ``progress``. Grading calls them first, once, so that no student's
#: kernel spends its time limit on them.
PRETRAINED_MODELS: dict[str, tuple[str, ...]] = {
    "03_pretraining_mlm": ("tlcourse.world_models:world_bert",),
    "04_pretraining_clm": ("tlcourse.world_models:world_gpt",),
    "05_decoding": ("tlcourse.world_models:world_gpt",),
    "06_finetuning": ("tlcourse.world_models:world_bert", "tlcourse.finetuning.experiments:prepare_notebook"),
    "07_peft": ("tlcourse.world_models:world_gpt", "tlcourse.peft.experiments:prepare_notebook"),
}


def prepare_models(assignment: str, progress: bool = True) -> None:
    """Load (or train once into the cache) what ``assignment``'s notebook loads (:data:`PRETRAINED_MODELS`),
    with progress bars where something trains."""
    import importlib

    for path in PRETRAINED_MODELS.get(assignment, ()):
        module, _, function = path.partition(":")
        getattr(importlib.import_module(module), function)(progress=progress)


def assignments() -> list[str]:
    """The assignment ids in ``solutions/``, in course order (``01_tokenization``, ``02_attention``, ...)."""
    return sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and p.name[:2].isdigit())


def check_assignment(assignment: str) -> str:
    """Return ``assignment`` if ``solutions/`` has it; otherwise raise ``ValueError`` listing the known ones."""
    known = assignments()
    if assignment not in known:
        raise ValueError(f"assignment: expected one of {known}, got {assignment!r}")
    return assignment


def write_config(workdir: Path, **directories: str | Path) -> Path:
    """Make ``workdir`` an nbgrader course directory whose folders are ``directories`` (relative to it or absolute).

    Keys are ``CourseDirectory`` traits without the ``_directory`` suffix (``source``, ``release``, ...);
    the gradebook is ``workdir/gradebook.db``.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Written by python -m autograder: this folder is an nbgrader course directory for one run.",
        "c = get_config()  # noqa: F821",
        f"load_subconfig({str(CONFIG)!r})  # noqa: F821",
        f"c.CourseDirectory.root = {str(workdir.resolve())!r}",
        f"c.CourseDirectory.db_url = {'sqlite:///' + str((workdir / 'gradebook.db').resolve())!r}",
    ]
    lines += [f"c.CourseDirectory.{step}_directory = {str(path)!r}" for step, path in directories.items()]
    config = workdir / "nbgrader_config.py"
    config.write_text("\n".join(lines) + "\n")
    return config


def nbgrader(workdir: Path, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in ``workdir`` (see ``write_config``); output is captured, never raised."""
    # nbgrader runs helpers such as ``alembic`` by name: find them beside this Python, activated venv or not.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=workdir,
        env=dict(os.environ, PATH=path),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
