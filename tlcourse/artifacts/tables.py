"""Result tables as shipped artifacts: the runs a notebook shows, each with its result, in one JSON file.

A table is ``results.json`` in the artifact's folder: ``{"runs": [{"run": {...}, "result": {...}}, ...]}`` plus
any further entries the build adds (the PEFT costs, for instance). A run is any frozen dataclass (the
``experiments`` modules' ``Run`` and ``PeftRun``); :func:`run_id` names it by its fields.

Example:
    >>> import tempfile
    >>> from dataclasses import dataclass
    >>> from tlcourse.artifacts.shipped import building, seal
    >>> @dataclass(frozen=True)
    ... class Toy:
    ...     n: int
    >>> root = Path(tempfile.mkdtemp())
    >>> with building("toy-runs", root=root) as folder:
    ...     write_results(folder, [Toy(1), Toy(2)], lambda r: {"square": r.n ** 2}, progress=False, note="hi")
    ...     _ = seal(folder, "toy-runs", {"runs": [1, 2]})
    >>> table = shipped_results("toy-runs", {"runs": [1, 2]}, root=root)
    >>> table.result(Toy(2)), table.extra
    ({'square': 4}, {'note': 'hi'})
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from tqdm.auto import tqdm

from tlcourse.artifacts.shipped import SHIPPED, fingerprint_of, verified

TABLE_NAME = "results.json"


def run_id(run: Any) -> str:
    """A run's fields as sorted JSON: the table's key for it."""
    return json.dumps(asdict(run), sort_keys=True)


@dataclass(frozen=True)
class Results:
    """A shipped table: each run's result by :func:`run_id`, and the build's further entries."""

    name: str
    runs: dict[str, dict[str, Any]]
    extra: dict[str, Any]

    def result(self, run: Any) -> dict[str, Any]:
        """The result of ``run``; ``KeyError`` naming the table if it has none."""
        try:
            return dict(self.runs[run_id(run)])
        except KeyError:
            raise KeyError(f"run: {run!r} is not in the shipped table {self.name!r}") from None


def write_results(folder: Path, runs: Sequence[Any], compute: Callable[[Any], dict[str, Any]], *,
                  desc: str = "runs", progress: bool = True, **extra: Any) -> None:
    """Compute every run (a progress bar named ``desc`` over them) and write the table into ``folder``."""
    rows = [{"run": asdict(r), "result": compute(r)} for r in tqdm(runs, desc=desc, unit="run", disable=not progress)]
    (folder / TABLE_NAME).write_text(json.dumps({"runs": rows, **extra}, indent=1) + "\n", encoding="utf-8")


def shipped_results(name: str, key: dict[str, Any], *, root: Path = SHIPPED) -> Results:
    """The shipped table ``name`` once :func:`~tlcourse.artifacts.shipped.verified` against ``key``
    (read once per process and key)."""
    return _read(name, fingerprint_of(key), json.dumps(key, sort_keys=True), root)


@functools.lru_cache(maxsize=8)
def _read(name: str, fingerprint: str, key: str, root: Path) -> Results:
    folder = verified(name, json.loads(key), root=root)
    table = json.loads((folder / TABLE_NAME).read_text(encoding="utf-8"))
    runs = {json.dumps(row["run"], sort_keys=True): row["result"] for row in table.pop("runs")}
    return Results(name, runs, table)
