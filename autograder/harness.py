"""The student's side of out-of-process grading, run inside the sandbox: define, call, write plain data.

``python harness.py JOB`` reads ``JOB/cells.json`` (code cells, run in order in one namespace; a cell that raises
is recorded and the next one runs) and ``JOB/calls.json`` + ``JOB/calls.safetensors`` (the :mod:`autograder.wire`
encoding of a list of ``[function name, args, kwargs]``). It calls each function on its inputs and writes, as
soon as each call ends, ``JOB/out/call-<i>.json`` (+ ``.safetensors``): ``{"value": ...}`` or
``{"error": "..."}``, and ``reference_calls``, how many times tlcourse's reference of that exercise ran during the
call; then ``JOB/out/cells.json``, each cell's error or None. Nothing here decides a grade: the grader reads these
files as data and judges them in its own process, so student code that patches this harness, the comparison
helpers or ``tlcourse`` changes only what it reports about itself.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the course folder, for autograder.wire

from autograder.wire import WireError, decode, encode  # noqa: E402


def _error(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    where = next((f"line {f.lineno}" for f in reversed(frames) if f.filename.startswith("<cell")), "")
    return f"{type(error).__name__}: {error}" + (f" ({where})" if where else "")


def _write(folder: Path, name: str, value: object) -> None:
    text, blob = encode(value)
    if blob:
        (folder / f"{name}.safetensors").write_bytes(blob)
    (folder / f"{name}.json").write_text(text, encoding="utf-8")


def main(job: Path) -> None:
    out = job / "out"
    cells = json.loads((job / "cells.json").read_text(encoding="utf-8"))
    calls_blob = job / "calls.safetensors"
    calls = decode((job / "calls.json").read_text(encoding="utf-8"),
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

    for number, (name, args, kwargs) in enumerate(calls):
        before = REFERENCE_CALLS[name]
        try:
            function = namespace[name]
            result = {"value": function(*args, **kwargs)}
        except KeyError:
            result = {"error": f"NameError: {name} is not defined"}
        except BaseException as error:
            result = {"error": _error(error)}
        result["reference_calls"] = REFERENCE_CALLS[name] - before
        try:
            _write(out, f"call-{number}", result)
        except WireError:
            kind = type(result["value"])
            _write(out, f"call-{number}", {"error": f"it returned a {kind.__module__}.{kind.__qualname__}, which "
                                                   "cannot be graded (plain values and tensors only)",
                                           "reference_calls": result["reference_calls"]})


if __name__ == "__main__":
    main(Path(sys.argv[1]))
