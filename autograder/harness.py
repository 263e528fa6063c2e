"""The student's side of out-of-process grading, run inside the sandbox: define, call, write plain data.

``python harness.py JOB CELL_SECONDS`` reads its standard input to the end before any student code runs: the
length of the JSON text (8 bytes, big-endian), the text, then the tensor buffer: the
:func:`autograder.inputs.encode_inputs` encoding of a list of calls (no file holds them, so a student's cell cannot
read the inputs and write answers computed by the reference for them). Then it runs ``JOB/cells.json`` (code
cells, in order in one namespace; a cell that raises is recorded and the next one runs; a ``null`` in place of a
cell is not run). A call is a dict:

- ``name``, ``args``, ``kwargs``: call the function ``name`` of the namespace on them (generators, RNGs, configs,
  modules and optimisers among them are rebuilt from data by :mod:`autograder.inputs`);
- ``module``: None, or for a module exercise ``{"init": ..., "state": ...}``: construct the class ``name`` with
  ``init``, report its ``state_dict`` names (``state_names``), and only if they are the reference's, load
  ``state``, switch to eval mode and call ``forward``;
- ``observe``: whether the exercise is judged by what the call does to its arguments: then ``after`` holds each
  module argument's ``state_dict`` and ``requires_grad`` after the call (``{"args": {i: ...}, "kwargs": {k:
  ...}}``);
- ``seconds``: the call's time budget.

**Budgets.** A cell that runs longer than ``CELL_SECONDS``, or a call longer than its ``seconds``, is interrupted
as Jupyter's interrupt button would (:class:`OverBudget`, raised by an alarm): the cell's error or the call's
``stopped`` says so, and the next cell or call runs. Before each cell and call the harness leaves a marker,
``JOB/out/cell-<k>.start`` or ``call-<i>.start``, and ``end.start`` after the last call: the grader watches them
and stops the whole process a little after a budget runs out if the interruption did not (student code can catch
or block it), so the budgets hold without trusting anything here.

As soon as each call ends it writes ``JOB/out/call-<i>.json`` (+ ``.safetensors``): ``value``, ``error`` (and
``during``: ``"construction"`` or ``"call"``) or ``stopped`` (the seconds after which its budget interrupted it;
the exercise's later calls are then ``skipped``), ``reference_calls`` (how many times tlcourse's reference of that
exercise ran during the call) and ``forbidden`` (the call was stopped by, or recorded in,
``autograder.forbid``'s guard); then ``JOB/out/cells.json``, each cell's error or None. Nothing here decides a
grade: the grader reads these files with :func:`autograder.wire.decode` (plain data only) and judges them in its
own process, so student code that patches this harness, the comparison helpers or ``tlcourse`` changes only what
it reports about itself.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the course folder, for autograder.inputs and .wire

from autograder import forbid  # noqa: E402
from autograder.inputs import decode_inputs  # noqa: E402
from autograder.wire import WireError, encode  # noqa: E402


class OverBudget(BaseException):
    """Raised in the student's code when its cell or call runs out of time; a ``BaseException``, like
    ``KeyboardInterrupt``, so that ``except Exception`` in their code does not swallow it."""


def _alarm(signum: int, frame: object) -> None:
    raise OverBudget()


@contextmanager
def budget(seconds: float) -> Iterator[None]:
    """Raise :class:`OverBudget` in the code run inside after ``seconds``."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _mark(out: Path, step: str) -> None:
    """Leave the marker of ``step`` for the grader (a student who put something in its place only misleads the
    grader about which of their own steps is running)."""
    try:
        os.close(os.open(out / f"{step}.start", os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW, 0o600))
    except OSError:
        pass


def _error(error: BaseException, seconds: float | None = None) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    where = next((f"line {f.lineno}" for f in reversed(frames) if f.filename.startswith("<cell")), "")
    if isinstance(error, OverBudget):
        text = f"TimeoutError: it ran longer than its budget of {seconds:g} s and was interrupted"
    else:
        text = f"{type(error).__name__}: {error}"
    return text + (f" ({where})" if where else "")


def _write(folder: Path, name: str, value: object) -> None:
    text, blob = encode(value)
    if blob:
        (folder / f"{name}.safetensors").write_bytes(blob)
    (folder / f"{name}.json").write_text(text, encoding="utf-8")


def _state(module: object) -> dict:
    """What a model argument holds after the call: its ``state_dict`` and which parameters are trainable."""
    return {"state": dict(module.state_dict()),
            "requires_grad": {name: p.requires_grad for name, p in module.named_parameters()}}


def _call(function: object, call: dict, outcome: dict) -> None:
    """Run one call of the student's ``function`` (a class for a module exercise), filling ``outcome``; raises
    what the student's code raises."""
    from torch import nn

    args, kwargs, module = call["args"], call["kwargs"], call["module"]
    if module is not None:
        outcome["during"] = "construction"
        built = function(**module["init"])
        if not isinstance(built, nn.Module):
            raise TypeError(f"expected an nn.Module, got {type(built).__name__}")
        outcome["state_names"] = sorted(built.state_dict())
        if set(outcome["state_names"]) != set(module["state"]):
            return  # the grader says which names differ
        built.load_state_dict(module["state"])
        function = built.eval()
    outcome["during"] = "call"
    outcome["value"] = function(*args, **kwargs)
    if call["observe"]:
        outcome["after"] = {"args": {i: _state(a) for i, a in enumerate(args) if isinstance(a, nn.Module)},
                            "kwargs": {k: _state(a) for k, a in kwargs.items() if isinstance(a, nn.Module)}}


def main(job: Path, cell_seconds: float) -> None:
    out = job / "out"
    message = sys.stdin.buffer.read()
    size = int.from_bytes(message[:8], "big")
    calls = decode_inputs(message[8:8 + size], message[8 + size:])
    del message
    # tlcourse's references and the library functions each exercise replaces, taken before any student code can
    # put something else in their place
    forbid.capture(dict.fromkeys(call["name"] for call in calls))
    cells = json.loads((job / "cells.json").read_text(encoding="utf-8"))
    namespace: dict = {"__name__": "__main__"}
    cell_errors: list[str | None] = []
    for number, source in enumerate(cells):
        _mark(out, f"cell-{number}")
        try:
            if source is not None:
                with budget(cell_seconds):
                    exec(compile(source, f"<cell {number}>", "exec"), namespace)
            cell_errors.append(None)
        except BaseException as error:  # SystemExit and KeyboardInterrupt too: the next cell still runs
            cell_errors.append(_error(error, cell_seconds))
    _write(out, "cells", cell_errors)
    from tlcourse.checks import REFERENCE_CALLS

    over_budget = set()  # exercises a call of which ran out of time: their other calls are not made
    for number, call in enumerate(calls):
        _mark(out, f"call-{number}")
        name = call["name"]
        before = REFERENCE_CALLS[name]
        outcome: dict = {"forbidden": False}
        if name in over_budget:
            outcome["skipped"] = True
        elif name not in namespace:
            outcome["error"] = f"NameError: {name} is not defined"
        else:
            start = time.perf_counter()
            try:
                with forbid.guard(name, namespace), budget(call["seconds"]):
                    _call(namespace[name], call, outcome)
            except OverBudget:
                outcome = {"forbidden": False, "stopped": round(time.perf_counter() - start, 3)}
                over_budget.add(name)
            except BaseException as error:  # Forbidden is a BaseException, so that students' `except` misses it
                outcome["error"] = _error(error)
                outcome["forbidden"] = type(error).__name__ == "Forbidden"
        outcome["forbidden"] = outcome["forbidden"] or forbid.used(name)
        outcome["reference_calls"] = REFERENCE_CALLS[name] - before
        try:
            _write(out, f"call-{number}", outcome)
        except WireError:
            kind = type(outcome.get("value"))
            _write(out, f"call-{number}", {"error": f"it returned a {kind.__module__}.{kind.__qualname__}, which "
                                                    "cannot be graded (plain values and tensors only)",
                                           "during": "call", "forbidden": outcome["forbidden"],
                                           "reference_calls": outcome["reference_calls"]})
    _mark(out, "end")


if __name__ == "__main__":
    main(Path(sys.argv[1]), float(sys.argv[2]))
