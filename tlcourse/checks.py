"""Compare an answer with the expected one: the helper behind public checks, hidden tests and the test suite.

``check(actual, expected)`` walks both values together and raises ``CheckFailure`` at the first difference,
saying *where* (``result[2]['ab']``), what was expected and what came. Containers are compared by type and
length (or shape) before their contents, so a wrong shape is reported as a wrong shape, not as a pile of
wrong numbers.

Example:
    >>> check({("a", "b"): 2}, {("a", "b"): 2})
    >>> check({"ab": 1}, {"ab": 2})
    Traceback (most recent call last):
    ...
    tlcourse.checks.CheckFailure: result['ab']: expected 2, got 1

Tolerances live in one table, ``TOLERANCES``, shared by the notebooks, the grader and the tests.
"""

from __future__ import annotations

import collections
import functools
import math
import sys
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable)


@dataclass(frozen=True)
class Tolerance:
    """Allowed difference between floats: ``|actual - expected| <= atol + rtol * |expected|``."""

    atol: float = 0.0
    rtol: float = 0.0


TOLERANCES: dict[str, Tolerance] = {
    "exact": Tolerance(0.0, 0.0),
    "float32": Tolerance(atol=1e-5, rtol=1e-5),
    "float32_loose": Tolerance(atol=1e-4, rtol=1e-4),
    "bfloat16": Tolerance(atol=2e-2, rtol=2e-2),
}


class CheckFailure(AssertionError):
    """An answer differs from the expected one; the message says where and how."""


def _describe(value: Any) -> str:
    """A short description of a value's kind and size, used in messages: 'an int', 'a list of length 3'."""
    name = type(value).__name__
    kind = ("an " if name[0] in "aeiou" else "a ") + name
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"{kind} of shape {tuple(shape)} and dtype {getattr(value, 'dtype', '?')}"
    if isinstance(value, (list, tuple, dict, set, frozenset, str)):
        return f"{kind} of length {len(value)}"
    return kind


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fail(where: str, message: str) -> None:
    raise CheckFailure(f"{where}: {message}")


def check(actual: Any, expected: Any, *, tol: Tolerance = TOLERANCES["exact"], where: str = "result") -> None:
    """Raise ``CheckFailure`` unless ``actual`` equals ``expected`` (floats within ``tol``).

    Types must match exactly (a tuple is not a list, a bool is not an int, an int is not a float; only a dict may
    come as a subclass such as ``Counter``); tensors and arrays must match in type, shape and dtype before their
    values are compared.
    """
    if hasattr(expected, "shape") and hasattr(expected, "dtype"):
        _check_array(actual, expected, tol, where)
        return
    same_kind = type(actual) is type(expected) or (type(expected) is dict and isinstance(actual, dict))
    if not same_kind:
        _fail(where, f"expected {_describe(expected)}, got {_describe(actual)}: {_short(actual)}")
    if isinstance(expected, dict):
        missing = [k for k in expected if k not in actual]
        extra = [k for k in actual if k not in expected]
        if missing or extra:
            _fail(
                where,
                f"expected {len(expected)} keys, got {len(actual)}; "
                f"missing {_short(missing)}, unexpected {_short(extra)}",
            )
        for key in expected:
            check(actual[key], expected[key], tol=tol, where=f"{where}[{key!r}]")
    elif isinstance(expected, (list, tuple)):
        if len(actual) != len(expected):
            _fail(where, f"expected {_describe(expected)}, got {_describe(actual)}\n"
                         f"  expected: {_short(expected)}\n  got:      {_short(actual)}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            check(a, e, tol=tol, where=f"{where}[{i}]")
    elif isinstance(expected, float):
        if not (math.isclose(actual, expected, rel_tol=tol.rtol, abs_tol=tol.atol)
                or (math.isnan(actual) and math.isnan(expected))):
            _fail(where, f"expected {expected!r}, got {actual!r} (difference {abs(actual - expected):.3g})")
    elif actual != expected:
        _fail(where, f"expected {_short(expected)}, got {_short(actual)}")


def _check_array(actual: Any, expected: Any, tol: Tolerance, where: str) -> None:
    """Compare a torch tensor or numpy array: type, shape, dtype, then values."""
    if type(actual) is not type(expected):
        _fail(where, f"expected {_describe(expected)}, got {_describe(actual)}")
    if tuple(actual.shape) != tuple(expected.shape):
        _fail(where, f"expected shape {tuple(expected.shape)}, got shape {tuple(actual.shape)}")
    if actual.dtype != expected.dtype:
        _fail(where, f"expected dtype {expected.dtype}, got dtype {actual.dtype}")
    import numpy as np

    a, e = _numpy(actual), _numpy(expected)
    if np.issubdtype(e.dtype, np.floating):
        close = np.isclose(a, e, rtol=tol.rtol, atol=tol.atol, equal_nan=True)
    else:  # integer and bool values are compared exactly, whatever the tolerance
        close = a == e
    if not close.all():
        index = tuple(int(i) for i in np.argwhere(~close)[0])
        with np.errstate(invalid="ignore"):  # inf - inf: a difference we cannot size, left out of the maximum
            diff = np.abs(a.astype(float) - e.astype(float))[~close]
        sized = diff[np.isfinite(diff)]
        largest = f"{sized.max():.3g}" if sized.size else "inf"
        _fail(
            where,
            f"{int((~close).sum())} of {close.size} values differ; first at index {index}: "
            f"expected {e[index].item()!r}, got {a[index].item()!r} (max abs difference {largest})",
        )


def _numpy(array: Any) -> Any:
    """A numpy copy of a tensor or array; floating tensors as float32 (numpy has no bfloat16), others as they are."""
    import numpy as np

    if hasattr(array, "detach"):
        array = array.detach().cpu()
        return (array.float() if array.is_floating_point() else array).numpy()
    return np.asarray(array)


#: How many times each reference function has been called, by exercise name.
REFERENCE_CALLS: collections.Counter[str] = collections.Counter()


def reference(fn: F) -> F:
    """Mark ``fn`` as the reference solution of the exercise with the same name.

    The grader counts calls to references so that a student function which hands its work to the reference
    of the exercise under test earns nothing for it. A class (an ``nn.Module`` exercise) is counted by its
    ``forward``. Inside ``torch.compile`` nothing is counted, so references compile without graph breaks.
    """
    if isinstance(fn, type):
        fn.forward = _counted(fn.forward, fn.__name__)  # type: ignore[attr-defined]
        fn.__tlcourse_reference__ = fn.__name__  # type: ignore[attr-defined]
        return fn
    counted = _counted(fn, fn.__name__)
    counted.__tlcourse_reference__ = fn.__name__  # type: ignore[attr-defined]
    return counted  # type: ignore[return-value]


def _counted(fn: Callable, name: str) -> Callable:
    """``fn`` wrapped to add one to ``REFERENCE_CALLS[name]`` per call made outside ``torch.compile``."""

    @functools.wraps(fn)
    def counted(*args, **kwargs):
        if not _compiling():
            REFERENCE_CALLS[name] += 1
        return fn(*args, **kwargs)

    return counted


def _compiling() -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and torch.compiler.is_compiling()
