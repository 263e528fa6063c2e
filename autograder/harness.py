"""The student's side of out-of-process grading, run inside the sandbox: define, call, write plain data.

``python harness.py JOB`` reads ``JOB/calls.json`` + ``JOB/calls.safetensors`` (the :func:`autograder.wire.
encode_inputs` encoding of a list of calls, decoded before any student code runs) and ``JOB/cells.json`` (code
cells, run in order in one namespace; a cell that raises is recorded and the next one runs). A call is a dict:

- ``name``, ``args``, ``kwargs``: call the function ``name`` of the namespace on them (generators, RNGs, configs,
  modules and optimisers among them are rebuilt from data by :mod:`autograder.wire`);
- ``module``: None, or for a module exercise ``{"init": ..., "state": ...}``: construct the class ``name`` with
  ``init``, report its ``state_dict`` names (``state_names``), and only if they are the reference's, load
  ``state``, switch to eval mode and call ``forward``;
- ``observe``: whether the exercise is judged by what the call does to its arguments: then ``after`` holds each
  module argument's ``state_dict`` and ``requires_grad`` after the call (``{"args": {i: ...}, "kwargs": {k:
  ...}}``).

As soon as each call ends it writes ``JOB/out/call-<i>.json`` (+ ``.safetensors``): ``value`` or ``error`` (and
``during``: ``"construction"`` or ``"call"``), ``reference_calls`` (how many times tlcourse's reference of that
exercise ran during the call) and ``forbidden`` (the call was stopped by, or recorded in,
``autograder.forbid``'s guard); then ``JOB/out/cells.json``, each cell's error or None. Nothing here decides a
grade: the grader reads these files with :func:`autograder.wire.decode` (plain data only) and judges them in its
own process, so student code that patches this harness, the comparison helpers or ``tlcourse`` changes only what
it reports about itself.
"""

from __future__ import annotations

import contextlib
import json
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the course folder, for autograder.wire

from autograder.wire import WireError, decode_inputs, encode  # noqa: E402

try:
    from autograder import forbid
except ModuleNotFoundError as missing:  # not written yet: no guard, as before it existed
    if missing.name != "autograder.forbid":
        raise
    forbid = None


def _guard(name: str, namespace: dict) -> contextlib.AbstractContextManager:
    """``autograder.forbid.guard``: tlcourse's reference of ``name`` and the library functions the exercise
    replaces raise ``Forbidden`` inside the block."""
    return contextlib.nullcontext() if forbid is None else forbid.guard(name, namespace)


def _recorded(name: str) -> bool:
    """Whether the guard recorded a forbidden call during a call of ``name`` (even one the student caught)."""
    return forbid is not None and forbid.used(name)


def _error(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    where = next((f"line {f.lineno}" for f in reversed(frames) if f.filename.startswith("<cell")), "")
    return f"{type(error).__name__}: {error}" + (f" ({where})" if where else "")


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


def main(job: Path) -> None:
    out = job / "out"
    cells = json.loads((job / "cells.json").read_text(encoding="utf-8"))
    calls_blob = job / "calls.safetensors"
    calls = decode_inputs((job / "calls.json").read_text(encoding="utf-8"),
                          calls_blob.read_bytes() if calls_blob.exists() else b"")
    namespace: dict = {"__name__": "__main__"}
    cell_errors: list[str | None] = []
    for number, source in enumerate(cells):
        try:
            exec(compile(source, f"<cell {number}>", "exec"), namespace)
            cell_errors.append(None)
        except BaseException as error:  # SystemExit and KeyboardInterrupt too: the next cell still runs
            cell_errors.append(_error(error))
    _write(out, "cells", cell_errors)
    from tlcourse.checks import REFERENCE_CALLS

    for number, call in enumerate(calls):
        name = call["name"]
        before = REFERENCE_CALLS[name]
        outcome: dict = {"forbidden": False}
        if name not in namespace:
            outcome["error"] = f"NameError: {name} is not defined"
        else:
            try:
                with _guard(name, namespace):
                    _call(namespace[name], call, outcome)
            except BaseException as error:  # Forbidden is a BaseException, so that students' `except` misses it
                outcome["error"] = _error(error)
                outcome["forbidden"] = type(error).__name__ == "Forbidden"
        outcome["forbidden"] = outcome["forbidden"] or _recorded(name)
        outcome["reference_calls"] = REFERENCE_CALLS[name] - before
        try:
            _write(out, f"call-{number}", outcome)
        except WireError:
            kind = type(outcome.get("value"))
            _write(out, f"call-{number}", {"error": f"it returned a {kind.__module__}.{kind.__qualname__}, which "
                                                    "cannot be graded (plain values and tensors only)",
                                           "during": "call", "forbidden": outcome["forbidden"],
                                           "reference_calls": outcome["reference_calls"]})


if __name__ == "__main__":
    main(Path(sys.argv[1]))
