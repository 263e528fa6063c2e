"""Grade a student's functions out of process: the sandbox only computes, this process judges.

:func:`judge` takes the code cells of a submission and the names of exercises (specs in
:mod:`tlcourse.exercises`). It builds every public and hidden case, sends their inputs to
:mod:`autograder.harness` in the :mod:`autograder.sandbox` as data (:func:`autograder.inputs.encode_inputs`:
generators, RNGs, configs, models and optimisers travel as their state and are rebuilt there by allow-listed
classes), computes the expected outputs with the references *here*, and compares with
:func:`tlcourse.checks.check` (exact type, dtype and shape, then values within the exercise's tolerance), as
:func:`tlcourse.exercises.registry.check_exercise` does in a notebook:

- a **module exercise** (the reference is an ``nn.Module`` class): the reference module of each case is built
  here with perturbed weights (``_reference_module``); its constructor arguments and ``state_dict`` are sent; the
  harness builds the student's class with the same arguments, reports its ``state_dict`` names (judged here by
  :func:`~tlcourse.exercises.registry.check_state_names`, the notebook's message), loads the weights and runs
  ``forward`` in eval mode;
- an exercise with ``prepare`` gets it applied here, to the copy of the inputs that is sent (``.grad`` included);
- an exercise with ``observe``: the harness sends back each model argument's weights and ``requires_grad`` after
  the call, they are put into a private copy of the case's models here, and ``observe`` runs here on them.

What comes back is read with :func:`autograder.wire.decode`, plain data only. Each exercise ends as one
:class:`Verdict`:

===================  ===============================================================================================
``passed``           every case equal to the reference's
``failed``           a case differs (public: what differed; hidden: only its number)
``error``            the function raised, or returned something that cannot be graded
``missing``          the function is not defined (its cell raised, or it was deleted)
``forbidden``        it called tlcourse's reference for the exercise, or a function ``autograder.forbid`` forbids
``timeout``          a case ran longer than its budget, or the whole submission longer than its limit
``resource limit``   CPU time, memory, file size or output over the sandbox's limits
``kernel died``      the process ended (``os._exit``, a signal) before this exercise's cases ended
``tampered``         where a result goes, the student's process put something else (a folder, a FIFO, a link)
===================  ===============================================================================================

Only ``passed`` earns points. Feedback never shows a hidden case's inputs or expected output.

**Time budgets** (:class:`Budgets`). Each setup or answer cell, and each call of a student's function, has a
budget of its own: a call's is a multiple of the time the reference takes on the same case here, with a floor. The
harness interrupts a cell or call that runs past its budget and goes on with the next one, as Jupyter's interrupt
button would; where student code defeats the interruption, the process is stopped a little later
(:data:`GRACE_SECONDS`) and run again without what hung: the cell left out, or the rest of the exercise's cases
skipped. A hanging function so loses its own exercise and the rest of the notebook is graded;
``Limits.wall_seconds`` bounds the whole submission, all runs together, as a backstop.

The result files are written by the student's own process, so they are only as honest as the values in them.
What keeps a process from writing the reference's answers there itself: the inputs reach it on its standard input,
read to the end before any student code runs (no file holds them), and while a call runs,
:mod:`autograder.forbid` refuses the exercise's reference. A student who digs the inputs out of the harness's
memory and computes them with a copy of the reference made before the calls can still forge them: a deliberate
attack on the grader, like copying the reference's source, which no autograder that runs the student's code can
rule out (``tests/test_redteam.py`` shows the simple forgery failing).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import itertools
import json
import os
import re
import stat
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import nbformat
import torch
from torch import nn

from autograder.demos import DEMO_TAG
from autograder.inputs import encode_inputs
from autograder.sandbox import Limits, SandboxResult, layers_for, run
from autograder.wire import MAX_BLOB_BYTES, MAX_TEXT_BYTES, WireError, decode
from tlcourse.checks import TOLERANCES, CheckFailure, check
from tlcourse.data.cache import CACHE_ENV, cache_dir
from tlcourse.exercises.registry import Case, Exercise, _observed, _reference_module, check_state_names, get_exercise

HARNESS = Path(__file__).with_name("harness.py")
#: Submissions run (as root) as users from ``PRIVATE_UIDS`` on, one of their own each (:func:`private_uid`).
PRIVATE_UIDS = 100_000
_RUNS = itertools.count()
#: What a student process must not see, besides the grader's own folders passed to :func:`judge`.
COURSE = Path(__file__).resolve().parent.parent


#: How long past a budget the harness may take to interrupt the code itself before the grader stops the process.
GRACE_SECONDS = 5.0
#: How long the process may take to end after its last call (a thread of the student's that never ends).
END_SECONDS = 10.0


@dataclass(frozen=True)
class Budgets:
    """How many seconds each stage of grading one submission may run (module docstring).

    ``cell_seconds``: each setup or answer cell. ``call_times`` and ``call_seconds``: each call of a student's
    function gets ``call_times`` times what the reference takes on the same case, and at least ``call_seconds``
    (a first call's imports, a loaded machine). ``math.inf`` switches a budget off.

    Example:
        >>> Budgets().for_call(0.5), Budgets().for_call(0.0002)
        (10.0, 5.0)
    """

    cell_seconds: float = 30.0
    call_seconds: float = 5.0
    call_times: float = 20.0

    def __post_init__(self) -> None:
        for name in ("cell_seconds", "call_seconds", "call_times"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name}: expected a positive number of seconds, got {value!r}")

    def for_call(self, reference_seconds: float) -> float:
        """The budget of a call whose case the reference computes in ``reference_seconds``."""
        return max(self.call_seconds, self.call_times * reference_seconds)

    def explain(self, reference_seconds: float) -> str:
        """How a call's budget comes from the reference's time, in words, for the feedback."""
        return (f"a call may take {self.call_times:g} times what the reference takes on the same case "
                f"({reference_seconds:.2g} s), and at least {self.call_seconds:g} s")


@dataclass(frozen=True)
class Verdict:
    """How one exercise ended; ``cases`` is how many were run (public, then hidden)."""

    exercise: str
    status: str
    message: str
    cases: int

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def supported(exercise: Exercise) -> bool:
    """Whether :func:`judge` can grade ``exercise``: its cases' inputs (and for a module exercise, the reference's
    constructor arguments and weights) cross as :func:`autograder.inputs.encode_inputs` data."""
    try:
        encode_inputs([planned.call() for planned in _cases(exercise, seed=0)])
    except WireError:
        return False
    return True


def notebook_cells(notebook: nbformat.NotebookNode, release: nbformat.NotebookNode | None = None) -> list[str]:
    """The code a submission defines its answers with: the code cells before the first answer cell (imports and
    setup), then every answer cell (nbgrader ``solution``, not ``grade``), in order; with the ``release``
    notebook, also each cell the student added among the answers (a code cell without nbgrader metadata that the
    release does not have, before the last answer: a helper of their own), but not the release's demonstrations
    (between the answers, and the cells the release tags ``demo`` before them: :mod:`autograder.demos`) and not
    what comes after the last answer (in the notebook, the tests ran before it)."""
    cells = [c for c in notebook.cells if c.cell_type == "code"]
    answers = [i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("solution")
               and not c.metadata.get("nbgrader", {}).get("grade")]
    if not answers:
        return []
    if release is None:
        released, demos = None, set()
    else:
        released = {c.source.strip() for c in release.cells if c.cell_type == "code"}
        demos = {c.source.strip() for c in release.cells if DEMO_TAG in c.metadata.get("tags", ())}
    return [c.source for i, c in enumerate(cells) if (i < answers[0] and c.source.strip() not in demos)
            or i in answers or (released is not None and i < answers[-1] and "nbgrader" not in c.metadata
                                and c.source.strip() not in released)]


@dataclass
class _Planned:
    """One case of one exercise as :func:`judge` plans it. For a module exercise, ``reference`` is the reference
    module of the case (built once: its weights are sent, its ``forward`` gives the expected output)."""

    exercise: Exercise
    which: str
    number: int
    of: int
    case: Case
    seconds: float = 60.0  # the call's budget (:class:`Budgets`) ...
    budget_rule: str = ""  # ... and how it was set, in words

    @property
    def is_module(self) -> bool:
        return isinstance(self.exercise.reference_function(), type)

    @property
    def where(self) -> str:
        return f"{self.exercise.name}, {self.which} case {self.number} of {self.of}"

    def over_budget(self, how: str) -> str:
        """The feedback of a call that ran past its budget and was ``how`` (interrupted, stopped)."""
        return (f"{self.where}: no result (it ran longer than its budget of {self.seconds:.3g} s and was {how}; "
                f"{self.budget_rule})")

    @functools.cached_property
    def reference(self) -> Callable:
        reference = self.exercise.reference_function()
        return _reference_module(reference, self.case) if self.is_module else reference

    @functools.cached_property
    def expected(self) -> tuple[Any, float]:
        """What the student's call is compared with (the reference on a private copy of the case), and the
        seconds the reference took here."""
        start = time.perf_counter()
        value = _observed(self.exercise, self.reference, self.case)
        return value, time.perf_counter() - start

    def call(self) -> dict:
        """The harness's call (its module docstring): a private copy of the case's inputs, prepared."""
        args, kwargs = copy.deepcopy((self.case.args, self.case.kwargs))
        if self.exercise.prepare is not None:
            self.exercise.prepare(args, kwargs)
        module = {"init": self.case.init or {}, "state": dict(self.reference.state_dict())} if self.is_module else None
        return {"name": self.exercise.name, "args": args, "kwargs": kwargs, "module": module,
                "observe": self.exercise.observe is not None, "seconds": min(self.seconds, _FOREVER)}


def _cases(exercise: Exercise, seed: int) -> list[_Planned]:
    """The public then the hidden cases."""
    out = []
    for which in ("public", "hidden"):
        cases = exercise.cases(which, seed)
        out += [_Planned(exercise, which, n, len(cases), case) for n, case in enumerate(cases, start=1)]
    return out


#: The longest budget the harness's alarm is set to (``setitimer`` takes no infinity).
_FOREVER = 10.0**6


def judge(cells: Sequence[str], exercises: Sequence[str], *, seed: int, limits: Limits = Limits(),
          budgets: Budgets = Budgets(), hidden: Sequence[str | Path] = ()) -> dict[str, Verdict]:
    """Run ``cells`` in the sandbox, call each exercise's function on its cases there, and judge the outputs here
    (module docstring). ``seed`` picks the hidden cases; ``budgets`` bound each cell and call, ``limits`` the
    process and, with ``wall_seconds``, all of the submission's runs together; ``hidden`` adds folders the code
    must not see to the course's ``solutions/``. The course cache (trained models) is shared read-only, so setup
    cells load what the grader prepared instead of training it. Never raises for what the submission does."""
    specs = [get_exercise(name) for name in exercises]
    planned = [p for e in specs for p in _cases(e, seed)]
    for p in planned:
        p.seconds, p.budget_rule = budgets.for_call(p.expected[1]), budgets.explain(p.expected[1])
    try:
        encode_inputs([p.call() for p in planned])
    except WireError as error:
        raise ValueError(f"exercises: expected exercises whose inputs cross as data, got "
                         f"{[e.name for e in specs if not supported(e)]} ({error})") from None
    results: list[object] = [None] * len(planned)
    left_out: dict[int, str] = {}  # cells that hung past their budget and were not run again: why
    cell_errors: object = None
    deadline = time.perf_counter() + limits.wall_seconds
    todo = list(range(len(planned)))
    while todo:
        remaining = dataclasses.replace(limits, wall_seconds=max(0.001, deadline - time.perf_counter()))
        sent = [planned[i] for i in todo]
        run_results, run_cell_errors, stopped = _run(
            [None if k in left_out else c for k, c in enumerate(cells)], sent, budgets, remaining, hidden)
        cell_errors = run_cell_errors if run_cell_errors is not None else cell_errors
        for i, result in zip(todo, run_results):
            results[i] = result
        if stopped is None or time.perf_counter() >= deadline:
            break
        kind, number, reason = stopped
        if kind == "cell":
            left_out[number] = f"TimeoutError: {reason}; the notebook was run again without it"
        else:  # a call: the rest of its exercise's cases are not run
            stuck = sent[number]
            if results[todo[number]] is None:
                results[todo[number]] = _NoResult("timeout", stuck.over_budget("stopped"))
            todo = [i for i in todo if planned[i].exercise is not stuck.exercise]
        todo = [i for i in todo if results[i] is None]
    backstop = f"the submission ran longer than its limit of {limits.wall_seconds:g} s and was stopped"
    results = [_NoResult("timeout", f"{p.where}: no result ({backstop})") if r is None else r
               for p, r in zip(planned, results)]
    if isinstance(cell_errors, list):
        cell_errors = [left_out.get(k, e) for k, e in enumerate(cell_errors)]
    return {e.name: _verdict(e, [(p, r) for p, r in zip(planned, results) if p.exercise is e], cell_errors,
                             limits.memory_bytes) for e in specs}


def _run(cells: list[str | None], planned: list[_Planned], budgets: Budgets, limits: Limits,
         hidden: Sequence[str | Path]) -> tuple[list[object], object, tuple[str, int, str] | None]:
    """One run of the harness: ``cells`` (None: left out), then the ``planned`` calls. Returns each call's result
    (None: to be run again, after a stop by a budget), the cells' errors, and where a budget stopped the process:
    ``("cell", k, why)`` or ``("call", i, why)``, else None."""
    text, blob = encode_inputs([p.call() for p in planned])
    uid = private_uid()
    with tempfile.TemporaryDirectory(prefix="grading-job-") as folder:
        job = Path(folder)
        (job / "out").mkdir()
        (job / "cells.json").write_text(json.dumps(cells), encoding="utf-8")
        if os.geteuid() == 0:  # the job (0700) is this run's user's alone: no other student's run may enter it
            for path in (job, job / "out", job / "cells.json"):
                os.chown(path, uid, uid)
        watch = _Watch(job / "out", [(f"cell-{k}", budgets.cell_seconds) for k in range(len(cells))]
                       + [(f"call-{i}", p.seconds) for i, p in enumerate(planned)] + [("end", END_SECONDS)])
        # the inputs go on stdin, which the harness reads to its end before any student code runs
        message = len(text.encode()).to_bytes(8, "big") + text.encode() + blob
        ended = run([sys.executable, str(HARNESS), str(job), str(min(budgets.cell_seconds, _FOREVER))], limits,
                    uid=uid, stdin=message, hidden=[COURSE / "solutions", COURSE / ".git", *hidden],
                    shared={CACHE_ENV: cache_dir()}, keep=[COURSE], watch=watch)
        results = [_read(job / "out", f"call-{i}") for i in range(len(planned))]
        cell_errors = _read(job / "out", "cells")
    stopped = watch.stopped
    if stopped is None or stopped[0] == "end":  # what was written stands; what was not, the process's end decides
        return [_settled(p, r, ended) for p, r in zip(planned, results)], cell_errors, None
    kind, number = stopped
    if kind == "cell":
        return [None] * len(planned), cell_errors, (kind, number, ended.reason)
    # the call that ran out of time may have left something where its result goes (a FIFO that blocked the write)
    return ([_settled(p, r, ended) if i < number or (i == number and r is not None) else None
             for i, (p, r) in enumerate(zip(planned, results))], cell_errors, (kind, number, ended.reason))


class _Watch:
    """Which step of a run the harness is in (the markers it leaves: :mod:`autograder.harness`), and whether that
    step has run :data:`GRACE_SECONDS` past its budget: :func:`autograder.sandbox.run` then stops the process."""

    def __init__(self, out: Path, steps: list[tuple[str, float]]) -> None:
        self.out, self.steps = out, steps
        self.current, self.since = -1, 0.0
        self.stopped: tuple[str, int] | None = None  # ("cell" | "call" | "end", its number)

    def __call__(self) -> str | None:
        now = time.perf_counter()
        while (self.current + 1 < len(self.steps)
               and os.path.lexists(self.out / f"{self.steps[self.current + 1][0]}.start")):
            self.current, self.since = self.current + 1, now
        if self.current < 0:
            return None
        name, seconds = self.steps[self.current]
        allowed = seconds if name == "end" else seconds + GRACE_SECONDS
        if now - self.since <= allowed:
            return None
        kind, _, number = name.partition("-")
        self.stopped = (kind, int(number or 0))
        if kind == "end":
            return f"it had not ended {END_SECONDS:g} s after its last call and was stopped"
        return f"it ran longer than its budget of {seconds:g} s and was stopped"


@dataclass(frozen=True)
class _NoResult:
    """A call that sent nothing back: the status it gets, and its feedback."""

    status: str
    message: str


def isolation() -> dict[str, str]:
    """The sandbox layers :func:`judge`'s runs get on this machine (:func:`autograder.sandbox.layers_for`)."""
    return layers_for([sys.executable, str(HARNESS)])


def private_uid() -> int:
    """A user id of this run's own (from the process id and a count of this process's runs), so that two submissions
    graded at once, by two processes or two threads, never share files or a process-count limit."""
    return PRIVATE_UIDS + (os.getpid() % 2**20) * 1024 + next(_RUNS) % 1024


def _read(folder: Path, name: str) -> object:
    """The decoded file, None if the student process never wrote it, :class:`Tampered` if something else than a
    plain file is there (a folder, a FIFO or a link, put there to stall or crash the grader), or a WireError if it
    is malformed or too large."""
    try:
        return decode(_plain_file(folder / f"{name}.json", MAX_TEXT_BYTES),
                      _plain_file(folder / f"{name}.safetensors", MAX_BLOB_BYTES, missing=b""))
    except FileNotFoundError:
        return None
    except WireError as error:
        return error


def _plain_file(path: Path, limit: int, missing: bytes | None = None) -> bytes:
    """The bytes of ``path``, opened without following links or blocking; ``missing`` if absent (None: raise)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        if missing is None:
            raise
        return missing
    except OSError as error:  # a link (O_NOFOLLOW), or no permission
        raise Tampered(f"the result file {path.name} was replaced ({error.strerror})") from None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise Tampered(f"the result file {path.name} was replaced by something that is not a file")
    with os.fdopen(descriptor, "rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise WireError(f"{path.name}: more than {limit:,} bytes")
    return data


class Tampered(WireError):
    """Where the harness writes a result, there is something it did not write: a folder, a FIFO, a link."""


_ENDED = {"timeout": "timeout", "resource limit": "resource limit", "died": "kernel died", "error": "kernel died",
          "ok": "kernel died"}


def _settled(planned: _Planned, result: object, ended: SandboxResult) -> object:
    """A call's result as read after its run ``ended``: nothing, or a file cut off as the sandbox stopped the
    process (an output flood), is a :class:`_NoResult` that says how the process ended."""
    if result is None or (isinstance(result, WireError) and not isinstance(result, Tampered)
                          and ended.status in ("timeout", "resource limit")):
        why = ended.reason or "the process ended early"
        return _NoResult(_ENDED[ended.status], f"{planned.where}: no result ({why})")
    return result


class _Unreadable(Exception):
    """A result that is valid data but not what the harness writes."""


def _verdict(exercise: Exercise, runs: list[tuple[_Planned, object]], cell_errors: object,
             memory_bytes: int = Limits.memory_bytes) -> Verdict:
    name, total = exercise.name, len(runs)
    for planned, result in runs:
        where = planned.where
        called = f"\n  called with: {planned.case.describe()}" if planned.which == "public" else ""
        if isinstance(result, _NoResult):
            return Verdict(name, result.status, result.message, total)
        if type(result) is dict and type(result.get("stopped")) in (int, float):
            return Verdict(name, "timeout", planned.over_budget(f"interrupted after {result['stopped']:.1f} s"),
                           total)
        if isinstance(result, Tampered):
            return Verdict(name, "tampered", f"{where}: {result}", total)
        if (isinstance(result, WireError) or type(result) is not dict or type(result.get("forbidden")) is not bool
                or type(result.get("reference_calls")) is not int):
            return Verdict(name, "error", f"{where}: the result could not be read", total)
        if result["forbidden"]:
            return Verdict(name, "forbidden", f"{name} calls tlcourse's reference {name} (or a library function the "
                                              "exercise replaces): write your own", total)
        if result["reference_calls"]:
            return Verdict(name, "forbidden", f"{name} calls tlcourse's reference {name}: write your own", total)
        if "error" in result:
            error = str(result["error"])
            if error.startswith(f"NameError: {name} is not defined"):
                return Verdict(name, "missing", f"{name} is not defined{_cell_hint(cell_errors)}", total)
            if error.startswith("NotImplementedError"):
                return Verdict(name, "missing", f"{name} is not implemented yet", total)
            if error.startswith("MemoryError"):  # not a timeout, and not the machine's fault
                line = re.search(r" \(line \d+\)$", error)
                error = (f"MemoryError: it needed more than the {memory_bytes / 2**20:,.0f} MiB of memory a "
                         f"submission may use{line[0] if line else ''}")
            if result.get("during") == "construction":
                return Verdict(name, "error", f"{where}: constructing your module raised {error}{called}", total)
            return Verdict(name, "error", f"{where}: your {'module' if planned.is_module else 'function'} raised "
                                          f"{error}{called}", total)
        try:
            if planned.is_module:
                check_state_names(name, planned.reference.state_dict(), _names(result.get("state_names")))
        except _Unreadable:
            return Verdict(name, "error", f"{where}: the result could not be read", total)
        except CheckFailure as failure:  # the same message as check_exercise's: names are no secret
            return Verdict(name, "failed", str(failure), total)
        try:
            check(_actual(planned, result), planned.expected[0], tol=TOLERANCES[exercise.tolerance])
        except _Unreadable:
            return Verdict(name, "error", f"{where}: the result could not be read", total)
        except CheckFailure as failure:
            detail = f"{called}\n  {failure}" if called else ""
            return Verdict(name, "failed", f"{where} differs from the reference{detail}", total)
    return Verdict(name, "passed", f"{name}: {total} cases passed", total)


def _names(names: object) -> list[str]:
    """The state_dict names the harness reported for the student's module."""
    if type(names) is not list or not all(type(n) is str for n in names):
        raise _Unreadable()
    return names


def _actual(planned: _Planned, result: dict) -> Any:
    """What the exercise compares: the returned value, or for an ``observe`` exercise, what ``observe`` sees in a
    private copy of the case's arguments that takes the state the student's call left in its models."""
    if "value" not in result:
        raise _Unreadable()
    if planned.exercise.observe is None:
        return result["value"]
    args, kwargs = copy.deepcopy((planned.case.args, planned.case.kwargs))
    models = {"args": {i: a for i, a in enumerate(args) if isinstance(a, nn.Module)},
              "kwargs": {k: a for k, a in kwargs.items() if isinstance(a, nn.Module)}}
    after = result.get("after")
    if type(after) is not dict or after.keys() != models.keys() or any(
            type(after[where]) is not dict or after[where].keys() != models[where].keys() for where in models):
        raise _Unreadable()
    for where, by_key in models.items():
        for key, model in by_key.items():
            _restore(model, after[where][key])
    return planned.exercise.observe(result["value"], args, kwargs)


def _restore(model: nn.Module, after: object) -> None:
    """Give ``model`` the weights (dtypes and shapes included) and ``requires_grad`` flags of ``after``."""
    state, parameters = model.state_dict(keep_vars=True), dict(model.named_parameters())
    if (type(after) is not dict or after.keys() != {"state", "requires_grad"} or type(after["state"]) is not dict
            or type(after["requires_grad"]) is not dict
            or not all(type(t) is torch.Tensor for t in after["state"].values())
            or not all(type(flag) is bool for flag in after["requires_grad"].values())):
        raise _Unreadable()
    if after["state"].keys() != state.keys() or after["requires_grad"].keys() != parameters.keys():
        raise CheckFailure(f"the model afterwards has the entries {sorted(after['state'])} and the parameters "
                           f"{sorted(after['requires_grad'])}, expected {sorted(state)} and {sorted(parameters)}")
    try:
        with torch.no_grad():
            for parameter in parameters.values():
                parameter.requires_grad_(False)
            for name, tensor in after["state"].items():
                state[name].data = tensor
            for name, parameter in parameters.items():
                parameter.requires_grad_(after["requires_grad"][name])
    except RuntimeError as error:  # a parameter that became an integer tensor cannot require grad
        raise CheckFailure(f"the model afterwards cannot hold the weights it sent: {error}") from None


def _cell_hint(cell_errors: object) -> str:
    errors = [e for e in cell_errors or [] if e] if isinstance(cell_errors, list) else []
    return f" (a cell raised {errors[0]})" if errors else ""
