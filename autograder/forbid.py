"""Refuse tlcourse's reference (and the library functions an exercise replaces) while a student function runs.

The harness wraps each call of the student's function for exercise ``name`` in ``guard(name, namespace)``. Inside
the block every use of what the exercise forbids raises :class:`Forbidden` (a ``BaseException``, so
``except Exception`` in student code does not swallow it) and is recorded, so :func:`used` still says so when
the student catches it. Forbidden are:

- the reference of ``name`` (``Exercise.reference``): tlcourse's counted wrapper and the raw function behind its
  ``__wrapped__``; for a module exercise, the reference class: constructing it, calling its ``forward`` or any of
  its methods, also through a subclass (a student class derived from the reference is refused too);
- the entries of ``Exercise.forbidden``: ``"module:attribute"`` (a function, or a class refused like the
  reference class) and ``"package"`` (no import of it and no call of anything from it, below).

How: on entering, a stub that records the attempt and raises replaces the forbidden object in every place that
holds it by name: the values of every module's ``__dict__``, the student's ``namespace``, and the dicts
(instance, class and ``__kwdefaults__`` dicts too), lists, closure cells and ``__defaults__`` that
``gc.get_referrers`` finds. Forbidden Python functions also get the stub's code as their ``__code__``, so the
very function object refuses wherever it was kept. Forbidden classes and all their subclasses get a stub in
place of ``__init__`` and each non-dunder method of their own. A forbidden package is taken out of
``sys.modules``, a finder first on ``sys.meta_path`` refuses to import it again, and the student's namespace
sees a refusing stand-in for its modules, functions and classes. On leaving, even by an exception, the same
objects go back where they were (a place the student rebound in the meantime is left as the student left it),
so tlcourse's own code works as before.

The forbidden objects are taken by identity when :func:`capture` names the exercise, which the harness calls
before the student's cells run (else at the exercise's first guard): what a student puts at an import path
afterwards is the student's own, never refused, and the objects it replaced refuse wherever they are kept.

The ``gc`` scan takes about 0.1 s, so the places are found once per exercise, at its first guard (and again
when a forbidden package has been loaded since); each later guard swaps the known places, re-checks the
namespace, the defaults and closures of its functions and the modules imported since, and enters and leaves
in well under a millisecond (about one for the LoRA exercises once peft is loaded: its modules and layer classes).

What it cannot stop, from a student who sets out to get around it:

- an object taken after the student's code ran, which is whatever then sits at its import path: all of them
  for an exercise that :func:`capture` did not name, an entry of a forbidden package not loaded at the capture;
- code copied: the reference's source text pasted into the answer, tlcourse's source file read and executed
  again (``exec`` of its text, ``importlib`` loading the file as a new module), or a reference's ``__code__``
  taken before the block and made into a new function (``types.FunctionType``);
- a forbidden *built-in* function (``torch.nn.functional.scaled_dot_product_attention`` is one; Python functions
  refuse wherever they are kept) held in a place that is not swapped: a tuple, set or other container than a
  dict or list, a ``functools.partial``, a bound method, a ``staticmethod``, a C object; or a dict, list or
  cell outside the namespace made after the exercise's first guard (the ``gc`` scan is not repeated);
- the originals dug out of this module's own bookkeeping with ``gc`` (the built-ins and the original code
  objects it keeps to put back);
- static and class methods and properties of a forbidden class (only plain functions are replaced), and a
  subclass made inside the block that replaces every method it uses;
- other routes to the same computation than the objects named: ``torch.ops.aten`` operators, or a module of a
  forbidden package kept before the block outside the student's namespace (the classes listed in
  ``forbidden`` refuse all the same).

Example:
    >>> import tlcourse.attention as att
    >>> namespace = {"causal_mask": att.causal_mask}
    >>> with guard("causal_mask", namespace):
    ...     try:
    ...         namespace["causal_mask"](2)
    ...     except Forbidden as refusal:
    ...         print(refusal)
    causal_mask is tlcourse's reference: write your own
    >>> used("causal_mask"), namespace["causal_mask"] is att.causal_mask, att.causal_mask(1).tolist()
    (True, True, [[True]])
"""

from __future__ import annotations

import collections
import contextlib
import functools
import gc
import importlib
import sys
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from tlcourse.exercises.registry import get_exercise


class Forbidden(BaseException):
    """A student function used what its exercise forbids (tlcourse's reference, or a library doing the work)."""


#: Forbidden calls by exercise name, counted since the latest guard of that name began.
_ATTEMPTS: collections.Counter[str] = collections.Counter()
_HOOK = "_tlcourse_forbid_hook_"


def used(name: str) -> bool:
    """Whether a forbidden call was attempted during the most recent ``guard(name, ...)`` (caught or not)."""
    return _ATTEMPTS[name] > 0


def _refusal(name: str, message: str, like: Any = None) -> Callable:
    """A function that records an attempt for ``name`` and raises ``Forbidden(message)``; it takes the name of
    ``like`` (without its attributes: a stub must not lead back to the original)."""

    def refused(*args, **kwargs):
        _ATTEMPTS[name] += 1
        raise Forbidden(message)

    if like is not None:
        refused.__name__ = getattr(like, "__name__", refused.__name__)
        refused.__qualname__ = getattr(like, "__qualname__", refused.__qualname__)
    return refused


@functools.lru_cache(maxsize=None)
def _code_template(n_free: int) -> types.CodeType:
    """Code for ``(*args, **kwargs) -> HOOK(*args, **kwargs)`` with ``n_free`` free variables, so that it can be
    the ``__code__`` of a function with that many closure cells."""
    names = [f"_v{i}" for i in range(n_free)]
    lines = ["def _outer():", *([f"    {' = '.join(names)} = None"] if names else []), "    def stub(*args, **kwargs):",
             *(["        if False:", f"            {', '.join(names)}"] if names else []),
             f"        hook = {_HOOK!r}", "        return hook(*args, **kwargs)", "    return stub"]
    scope: dict = {}
    exec(compile("\n".join(lines), "<forbidden>", "exec"), scope)
    return scope["_outer"]().__code__


def _stub_code(fn: types.FunctionType, refused: Callable) -> types.CodeType:
    template = _code_template(len(fn.__code__.co_freevars))
    return template.replace(co_consts=tuple(refused if c == _HOOK else c for c in template.co_consts))


class _RefusedModule(types.ModuleType):
    """Stands in for a module of a forbidden package: any attribute but a dunder refuses."""

    def __init__(self, module_name: str, refused: Callable):
        super().__init__(module_name)
        self._refused = refused

    def __getattr__(self, attribute: str):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        self._refused()


class _RefusingFinder:
    """First on ``sys.meta_path`` inside a guard: importing a forbidden package refuses."""

    def __init__(self, packages: tuple[str, ...], refused: Callable):
        self.packages, self.refused = packages, refused

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if _in_packages(fullname, self.packages):
            self.refused()


def _in_packages(module_name: object, packages: tuple[str, ...]) -> bool:
    return isinstance(module_name, str) and (module_name in packages
                                             or module_name.startswith(tuple(p + "." for p in packages)))


@dataclass
class _Plan:
    """What ``guard(name)`` forbids, and where it found it (cached per exercise)."""

    name: str
    stubs: dict[int, Callable] = field(default_factory=dict)  # id(forbidden object) -> its stub
    originals: list = field(default_factory=list)  # the forbidden objects (keeps the ids above valid)
    codes: list = field(default_factory=list)  # (function, its code, stub code)
    classes: list = field(default_factory=list)  # (forbidden class, message)
    packages: tuple[str, ...] = ()
    package_refusal: Callable | None = None
    resolved: set[str] = field(default_factory=set)  # the entries (reference, forbidden) taken so far
    places: list | None = None  # (how, container, key) holding a forbidden object; None: not scanned since
    modules_seen: set[str] = field(default_factory=set)

    def forbid(self, target: Any, message: str) -> None:
        """Add a function (and what its ``__wrapped__`` chain leads to) to the forbidden objects."""
        while callable(target) and id(target) not in self.stubs:
            self.stubs[id(target)] = _refusal(self.name, message, target)
            self.originals.append(target)
            if isinstance(target, types.FunctionType):
                self.codes.append((target, target.__code__, _stub_code(target, self.stubs[id(target)])))
            target = target.__dict__.get("__wrapped__") if isinstance(target, types.FunctionType) else None
        for original in self.originals:  # a stub's __wrapped__ is the stub of the original's
            wrapped = getattr(original, "__wrapped__", None)
            if id(wrapped) in self.stubs:
                self.stubs[id(original)].__wrapped__ = self.stubs[id(wrapped)]


def _methods(cls: type) -> Iterator[tuple[str, types.FunctionType]]:
    """A class's own ``__init__`` and non-dunder plain functions."""
    for attribute, value in list(vars(cls).items()):
        if isinstance(value, types.FunctionType) and (attribute == "__init__" or not attribute.startswith("__")):
            yield attribute, value


def _subclasses(cls: type) -> list[type]:
    found, todo = [], [cls]
    while todo:
        current = todo.pop()
        if current not in found:
            found.append(current)
            todo.extend(type.__subclasses__(current))
    return found


def _resolve(plan: _Plan) -> None:
    """Add to the plan, by identity, each forbidden object not taken yet: the reference and the ``forbidden``
    functions and classes, but not one in a forbidden package that is not loaded (only an import reaches it,
    which the package's finder refuses; it is taken once loaded)."""
    exercise = get_exercise(plan.name)
    entries = [(exercise.reference, f"{plan.name} is tlcourse's reference: write your own")]
    entries += [(e, f"{e.replace(':', '.')} is not allowed in {plan.name}: write your own")
                for e in exercise.forbidden if ":" in e]
    for entry, message in entries:
        module_name, _, attribute = entry.partition(":")
        if entry in plan.resolved or module_name not in sys.modules and _in_packages(module_name, plan.packages):
            continue
        plan.resolved.add(entry)
        plan.places = None  # where the new objects are kept is not known yet
        target = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
        if isinstance(target, type):
            plan.classes.append((target, message))
            for _, method in _methods(target):
                plan.forbid(method, message)
        else:
            plan.forbid(target, message)


def _places(targets: list) -> list[tuple[str, Any, Any]]:
    """Every dict value, list item, closure cell and ``__defaults__`` item that ``gc`` finds holding a target:
    ``("item", container, key)``, ``("attr", class, name)``, ``("cell", cell, None)``, ``("defaults", fn, i)``."""
    ids = {id(t) for t in targets}
    holders = [r for r in gc.get_referrers(*targets)
               if r is not targets and isinstance(r, (dict, list, tuple, types.CellType))]
    owners = gc.get_referrers(*[h for h in holders if isinstance(h, (dict, tuple))]) if holders else []
    class_of = {}  # id(class dict) -> class: a class dict is changed with setattr, which clears type caches
    defaults_of: dict[int, list] = collections.defaultdict(list)
    for owner in owners:
        if isinstance(owner, type):
            class_of.update((id(d), owner) for d in gc.get_referents(owner.__dict__))
        elif isinstance(owner, types.FunctionType) and owner.__defaults__ is not None:
            defaults_of[id(owner.__defaults__)].append(owner)
    places: list[tuple[str, Any, Any]] = []
    for holder in holders:
        if isinstance(holder, types.CellType):
            places.append(("cell", holder, None))
        elif isinstance(holder, dict):
            owner = class_of.get(id(holder))
            places += [("attr", owner, k) if owner is not None else ("item", holder, k)
                       for k, v in list(holder.items()) if id(v) in ids]
        elif isinstance(holder, list):
            places += [("item", holder, i) for i, v in enumerate(holder) if id(v) in ids]
        else:
            places += [("defaults", fn, i) for fn in defaults_of.get(id(holder), ()) for i, v in enumerate(holder)
                       if id(v) in ids]
    return places


_PLANS: dict[str, _Plan] = {}


def _plan(name: str) -> _Plan:
    plan = _PLANS.get(name)
    if plan is None:
        plan = _PLANS[name] = _Plan(name, packages=tuple(e for e in get_exercise(name).forbidden if ":" not in e))
        if plan.packages:
            message = f"{', '.join(plan.packages)} is not allowed in {name}: write your own"
            plan.package_refusal = _refusal(name, message)
    _resolve(plan)
    return plan


def capture(names: Iterable[str]) -> None:
    """Take the objects that exercises ``names`` forbid (see the module docstring) now, by identity: the harness
    calls it before any student code runs, so that a later ``guard(name, ...)`` refuses exactly these.

    Example:
        >>> capture(["causal_mask"])
    """
    for name in names:
        _plan(name)


_GONE = object()


def _current(how: str, container: Any, key: Any) -> Any:
    """What a place holds now (a sentinel if it is gone)."""
    try:
        if how == "item":
            return container[key]
        if how == "attr":
            return vars(container).get(key, _GONE)
        if how == "cell":
            return container.cell_contents
        return container.__defaults__[key]
    except (KeyError, IndexError, ValueError, TypeError):
        return _GONE


def _store(how: str, container: Any, key: Any, value: Any) -> None:
    if how == "item":
        container[key] = value
    elif how == "attr":
        setattr(container, key, value)
    else:
        container.cell_contents = value


class _Swaps:
    """The changes one guard made, undone in reverse order, each only where the place still holds what the guard
    put there."""

    def __init__(self) -> None:
        self.done: list[tuple[str, Any, Any, Any, Any]] = []

    def swap(self, how: str, container: Any, key: Any, new: Any) -> None:
        """Put ``new`` in a place (see :func:`_places`)."""
        if how == "defaults":  # a new tuple; the old one goes back, so that fn.__defaults__ is the same object again
            defaults = list(container.__defaults__)
            defaults[key] = new
            self.set_field(container, "__defaults__", tuple(defaults))
            return
        old = _current(how, container, key)
        _store(how, container, key, new)
        self.done.append((how, container, key, old, new))

    def set_field(self, obj: Any, attribute: str, new: Any) -> None:
        """``setattr`` for an attribute that is not a class's (a function's ``__code__`` or ``__defaults__``)."""
        self.done.append(("field", obj, attribute, getattr(obj, attribute), new))
        setattr(obj, attribute, new)

    def hide_module(self, module_name: str) -> None:
        self.done.append(("module", None, module_name, sys.modules.pop(module_name), None))

    def add_finder(self, finder: Any) -> None:
        sys.meta_path.insert(0, finder)
        self.done.append(("finder", None, None, finder, None))

    def undo(self) -> None:
        while self.done:
            how, container, key, old, new = self.done.pop()
            if how == "field":
                if getattr(container, key) is new:
                    setattr(container, key, old)
            elif how == "module":
                sys.modules.setdefault(key, old)
            elif how == "finder":
                with contextlib.suppress(ValueError):
                    sys.meta_path.remove(old)
            elif _current(how, container, key) is new:
                _store(how, container, key, old)


def _swap_holder(swaps: _Swaps, plan: _Plan, how: str, container: Any, key: Any) -> None:
    stub = plan.stubs.get(id(_current(how, container, key)))
    if stub is not None:
        swaps.swap(how, container, key, stub)


def _module_of(value: Any) -> str | None:
    """The module a module, class or function is or comes from; None for other values."""
    if isinstance(value, types.ModuleType):
        return value.__name__
    if isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)):
        return getattr(value, "__module__", None)
    return None


def _swap_namespace(swaps: _Swaps, plan: _Plan, namespace: dict) -> None:
    """The student's names, and the defaults and closure cells of the student's functions."""
    for key, value in list(namespace.items()):
        if id(value) in plan.stubs:
            swaps.swap("item", namespace, key, plan.stubs[id(value)])
        elif plan.packages and _in_packages(_module_of(value), plan.packages):
            stand_in = (_RefusedModule(value.__name__, plan.package_refusal) if isinstance(value, types.ModuleType)
                        else plan.package_refusal)
            swaps.swap("item", namespace, key, stand_in)
        elif isinstance(value, types.FunctionType):
            for i in range(len(value.__defaults__ or ())):
                _swap_holder(swaps, plan, "defaults", value, i)
            for kw in list(value.__kwdefaults__ or ()):
                _swap_holder(swaps, plan, "item", value.__kwdefaults__, kw)
            for cell in value.__closure__ or ():
                _swap_holder(swaps, plan, "cell", cell, None)


def _enter(plan: _Plan, namespace: dict, swaps: _Swaps) -> None:
    for fn, code, stub_code in plan.codes:
        if fn.__code__ is code:
            swaps.set_field(fn, "__code__", stub_code)
    for cls, message in plan.classes:
        for subclass in _subclasses(cls):
            for attribute, method in _methods(subclass):
                stub = plan.stubs.get(id(method)) or _refusal(plan.name, message, method)
                swaps.swap("attr", subclass, attribute, stub)
    for how, container, key in plan.places:
        _swap_holder(swaps, plan, how, container, key)
    new_modules = set(sys.modules) - plan.modules_seen
    for module_name in new_modules:
        values = getattr(sys.modules.get(module_name), "__dict__", None)
        if isinstance(values, dict):
            found = [("item", values, k) for k, v in list(values.items()) if id(v) in plan.stubs]
            plan.places += found
            for how, container, key in found:
                _swap_holder(swaps, plan, how, container, key)
    plan.modules_seen |= new_modules
    _swap_namespace(swaps, plan, namespace)
    if plan.packages:
        dotted = tuple(p + "." for p in plan.packages)
        for module_name in [m for m in sys.modules if m in plan.packages or m.startswith(dotted)]:
            swaps.hide_module(module_name)
        swaps.add_finder(_RefusingFinder(plan.packages, plan.package_refusal))


@contextlib.contextmanager
def guard(name: str, namespace: dict) -> Iterator[None]:
    """Inside the block, what exercise ``name`` forbids raises :class:`Forbidden`; see the module docstring.

    ``namespace`` is the dict the student's cells ran in. Afterwards :func:`used` tells whether the block tried.

    Example:
        >>> import torch, torch.nn.functional as F
        >>> q = torch.ones(1, 1, 2, 4)
        >>> with guard("scaled_dot_product_attention", {}):
        ...     F.scaled_dot_product_attention(q, q, q)
        Traceback (most recent call last):
        ...
        autograder.forbid.Forbidden: torch.nn.functional.scaled_dot_product_attention is not allowed in \
scaled_dot_product_attention: write your own
        >>> F.scaled_dot_product_attention(q, q, q).shape
        torch.Size([1, 1, 2, 4])
    """
    plan = _plan(name)
    if plan.places is None:
        plan.places, plan.modules_seen = _places(plan.originals), set(sys.modules)
    _ATTEMPTS[name] = 0
    swaps = _Swaps()
    try:
        _enter(plan, namespace, swaps)
        yield
    finally:
        swaps.undo()
