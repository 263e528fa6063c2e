"""One declarative spec per graded exercise, and ``check_exercise``, which runs a student function against it.

A spec names its reference by import path (``"tlcourse.tokenization.bpe:count_pairs"``) and builds its cases
from a seed, so the same spec works in a notebook kernel, in the test suite and in an out-of-process grader.

Example:
    >>> def count_pairs(words):
    ...     counts = {}
    ...     for symbols, count in words.items():
    ...         for pair in zip(symbols, symbols[1:]):
    ...             counts[pair] = counts.get(pair, 0) + count
    ...     return counts
    >>> check_exercise("count_pairs", count_pairs)                  # the public cases
    count_pairs: 4 public cases passed
    >>> check_exercise("count_pairs", count_pairs, cases="hidden")  # randomised, as the grader runs them
    count_pairs: 10 hidden cases passed
"""

from __future__ import annotations

import copy
import importlib
import inspect
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from tlcourse.checks import REFERENCE_CALLS, TOLERANCES, CheckFailure, Tolerance, check


@dataclass(frozen=True)
class Case:
    """The arguments of one call; ``note`` says what the case is about (shown when it fails).

    For a module exercise (the reference is an ``nn.Module`` class), ``init`` holds the constructor's keyword
    arguments and ``args`` / ``kwargs`` those of ``forward``.
    """

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    note: str = ""
    init: dict | None = None

    def describe(self, limit: int = 300) -> str:
        parts = [_brief(a) for a in self.args] + [f"{k}={_brief(v)}" for k, v in self.kwargs.items()]
        text = ", ".join(parts)
        if self.init is not None:
            text = f"constructed with {', '.join(f'{k}={_brief(v)}' for k, v in self.init.items())}; forward({text})"
        return text if len(text) <= limit else text[: limit - 3] + "..."


def _brief(value: Any) -> str:
    """``repr`` of a value, except that a tensor of more than 12 numbers is shown by its shape and dtype, and a
    module or an optimiser by its class (and size)."""
    parameters = getattr(value, "parameters", None)
    if callable(parameters) and hasattr(value, "named_parameters"):
        return f"<{type(value).__name__} with {sum(p.numel() for p in parameters()):,} parameters>"
    if hasattr(value, "param_groups"):
        return f"<{type(value).__name__} optimiser, lr={value.param_groups[0].get('lr')}>"
    shape = getattr(value, "shape", None)
    if shape is not None and getattr(value, "numel", lambda: 0)() > 12:
        return f"<tensor of shape {tuple(shape)}, {value.dtype}>"
    return repr(value)


@dataclass(frozen=True)
class Exercise:
    """What is graded for one exercise.

    Attributes:
        name: the function name students implement (also the reference's name).
        reference: ``"module:function"`` import path of the reference implementation.
        public_cases: the cases students see and run themselves (hand-picked, each with a note).
        hidden_cases: ``rng -> cases``, randomised inputs for the hidden tests.
        tolerance: key into ``tlcourse.checks.TOLERANCES``.
        ungraded: parameters of the reference that the exercise leaves out (``device``, ``dropout_p``): a student
            function may omit them, and no case passes them.
        observe: for a function whose job is a side effect (freezing a model's parameters, an optimiser step),
            ``observe(result, args, kwargs)`` turns the return value and the arguments *after the call* into what
            is compared; None compares the return value.
        prepare: ``prepare(args, kwargs)`` runs on each private copy of a case's arguments before the call, for
            state that copies and pickles drop (gradients left in ``.grad`` by an earlier backward).
        forbidden: what a student function may not use besides the reference, as ``"module:attribute"`` import
            paths (a library function or class doing the exercise's work) or ``"package"`` (none of it may be
            imported or called); the out-of-process grader refuses them during the call (``autograder.forbid``).

    A reference that is an ``nn.Module`` class makes a **module exercise**: the student writes a class; each case
    builds the reference (with every parameter perturbed, so a forgotten bias or LayerNorm shows) and the
    student's module with the same constructor arguments, copies the reference's ``state_dict`` into the
    student's (so parameter names must match, as checkpoints require) and compares ``forward`` in eval mode.
    """

    name: str
    reference: str
    public_cases: Callable[[], list[Case]]
    hidden_cases: Callable[[random.Random], list[Case]]
    tolerance: str = "exact"
    ungraded: tuple[str, ...] = ()
    observe: Callable[[Any, tuple, dict], Any] | None = None
    prepare: Callable[[tuple, dict], None] | None = None
    forbidden: tuple[str, ...] = ()

    def reference_function(self) -> Callable:
        module, _, attribute = self.reference.partition(":")
        return getattr(importlib.import_module(module), attribute)

    def cases(self, which: str, seed: int = 0) -> list[Case]:
        if which == "public":
            return self.public_cases()
        if which == "hidden":
            return self.hidden_cases(random.Random(f"{self.name}:{seed}"))
        raise ValueError(f"which: expected 'public' or 'hidden', got {which!r}")


EXERCISES: dict[str, Exercise] = {}


def register(exercise: Exercise) -> Exercise:
    if exercise.name in EXERCISES:
        raise ValueError(f"exercise {exercise.name!r} is registered twice")
    EXERCISES[exercise.name] = exercise
    return exercise


def get_exercise(name: str) -> Exercise:
    import tlcourse.exercises  # noqa: F401  (registers every exercise)

    if name not in EXERCISES:
        raise KeyError(f"no exercise named {name!r}; known: {sorted(EXERCISES)}")
    return EXERCISES[name]


class ReferenceUsed(CheckFailure):
    """The student function called (or is) the reference of the exercise under test."""


def _observed(exercise: Exercise, fn: Callable, case: Case) -> Any:
    """Call ``fn`` on a private copy of the case; return what the exercise compares (see ``Exercise.observe``)."""
    args, kwargs = copy.deepcopy((case.args, case.kwargs))
    if exercise.prepare is not None:
        exercise.prepare(args, kwargs)
    result = fn(*args, **kwargs)
    return result if exercise.observe is None else exercise.observe(result, args, kwargs)


def _run_student(exercise: Exercise, student_fn: Callable, case: Case) -> Any:
    """Run the student's function on the case (:func:`_observed`), refusing answers computed by the reference."""
    before = REFERENCE_CALLS[exercise.name]
    result = _observed(exercise, student_fn, case)
    if REFERENCE_CALLS[exercise.name] != before:
        raise ReferenceUsed(
            f"{exercise.name} called tlcourse's reference {exercise.name}; "
            "this exercise earns points only for your own implementation"
        )
    return result


def _reference_module(reference: type, case: Case):
    """The reference module of a case, in eval mode, with every parameter perturbed reproducibly."""
    import torch

    torch.manual_seed(0)
    module = reference(**copy.deepcopy(case.init or {})).eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(0.1 * torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))
    return module


def _student_module(exercise: Exercise, student_cls: type, reference_module: Any, case: Case) -> Callable:
    """The student's module built like the reference, holding the reference's weights, in eval mode."""
    from torch import nn

    try:
        module = student_cls(**copy.deepcopy(case.init or {}))
    except CheckFailure:
        raise
    except NotImplementedError as error:
        raise _not_implemented(exercise.name) from error
    except Exception as error:
        raise CheckFailure(f"{exercise.name}: constructing your module raised {type(error).__name__}: {error}\n"
                           f"  {case.describe()}") from error
    if not isinstance(module, nn.Module):
        raise CheckFailure(f"{exercise.name}: expected an nn.Module, got {type(module).__name__}")
    check_state_names(exercise.name, reference_module.state_dict(), module.state_dict())
    module.load_state_dict(reference_module.state_dict())
    return module.eval()


def check_state_names(name: str, expected: Iterable[str], actual: Iterable[str]) -> None:
    """Raise ``CheckFailure`` unless the student's module of exercise ``name`` names its ``state_dict`` entries
    (``actual``) as the reference does (``expected``), as loading a checkpoint requires.

    Example:
        >>> check_state_names("LMHead", ["weight", "bias"], ["weight", "b"])
        Traceback (most recent call last):
        ...
        tlcourse.checks.CheckFailure: LMHead: expected parameters named ['bias', 'weight'], got ['b', 'weight'] \
(missing ['bias'], unexpected ['b']); keep the names of the exercise, so that checkpoints load
    """
    expected, actual = set(expected), set(actual)
    if expected != actual:
        raise CheckFailure(
            f"{name}: expected parameters named {sorted(expected)}, got {sorted(actual)} "
            f"(missing {sorted(expected - actual)}, unexpected {sorted(actual - expected)}); keep the names "
            "of the exercise, so that checkpoints load"
        )


def _not_implemented(name: str) -> NotImplementedError:
    """What a student sees who runs a test cell before writing the answer above it."""
    return NotImplementedError(f"{name} is not implemented yet: write it in its cell above, run that cell, then run "
                               "this one again")


def check_exercise(name: str, student_fn: Callable, *, cases: str = "public", seed: int = 0) -> None:
    """Compare ``student_fn`` with the reference of exercise ``name`` on its public or hidden cases.

    ``student_fn`` is a function, or a class for a module exercise (see :class:`Exercise`). Raises
    ``CheckFailure`` at the first case that differs, naming the case, what was expected and what came; prints a
    one-line summary when all pass. It returns nothing on purpose: nbgrader reads a number that a test cell
    displays as partial credit.
    """
    exercise = get_exercise(name)
    if not callable(student_fn):
        raise TypeError(f"student_fn: expected a function, got {type(student_fn).__name__}")
    if getattr(student_fn, "__tlcourse_reference__", None) == name:
        raise ReferenceUsed(f"{name} is tlcourse's reference (or a subclass of it); write your own implementation")
    reference = exercise.reference_function()
    is_module = isinstance(reference, type)
    _check_signature(exercise, student_fn.forward if is_module else student_fn,
                     reference.forward if is_module else reference)
    tolerance: Tolerance = TOLERANCES[exercise.tolerance]
    selected = exercise.cases(cases, seed)
    for number, case in enumerate(selected, start=1):
        context = f"{name}, {cases} case {number} of {len(selected)}"
        if case.note:
            context += f" ({case.note})"
        if is_module:
            reference_fn = _reference_module(reference, case)
            student_case_fn = _student_module(exercise, student_fn, reference_fn, case)
        else:
            reference_fn, student_case_fn = reference, student_fn
        expected = _observed(exercise, reference_fn, case)
        try:
            actual = _run_student(exercise, student_case_fn, case)
        except CheckFailure:
            raise
        except NotImplementedError as error:
            raise _not_implemented(name) from error
        except Exception as error:
            raise CheckFailure(
                f"{context}: your {'module' if is_module else 'function'} raised {type(error).__name__}: {error}\n"
                f"  called with: {case.describe()}"
            ) from error
        try:
            check(actual, expected, tol=tolerance)
        except CheckFailure as failure:
            raise CheckFailure(f"{context}\n  called with: {case.describe()}\n  {failure}") from None
    print(f"{name}: {len(selected)} {cases} cases passed")


def _check_signature(exercise: Exercise, student_fn: Callable, reference: Callable) -> None:
    """The student function must accept the reference's parameters under the same names (``ungraded`` aside)."""
    try:
        actual = inspect.signature(student_fn)
    except (TypeError, ValueError):
        return

    def graded(signature: inspect.Signature) -> list[str]:
        return [p for p in signature.parameters if p not in exercise.ungraded and p != "self"]

    expected_names, actual_names = graded(inspect.signature(reference)), graded(actual)
    if actual_names != expected_names:
        raise CheckFailure(
            f"{exercise.name}: expected parameters ({', '.join(expected_names)}), "
            f"got ({', '.join(actual_names)}); keep the signature of the exercise"
        )
