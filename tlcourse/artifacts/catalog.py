"""The course's shipped artifacts, each with the recipe that makes it and the artifacts it is built on.

======================  =========================================================================================
``world-bert``          the world BERT of notebook 03 (MLM + NSP): ``config.json``, ``model.safetensors``,
                        ``tokenizer.json``, ``history.json``
``world-gpt``           the world GPT of notebook 04 (causal LM), the same files
``finetuning-runs``     notebook 06's fine-tuning results (every backbone, task, pooling and freezing), JSON
``finetuning-lr-sweep`` notebook 06's learning-rate sweep of the world BERT and the same network from scratch, JSON
``finetuning-seeds``    notebook 06's learning curve and other tasks again with two more seeds, JSON
``peft-runs``           notebook 07's PEFT results and training costs, JSON
``peft-seeds``          notebook 07's PEFT runs again with two more seeds, JSON
======================  =========================================================================================

Each entry names two functions of the module that owns the recipe: ``key`` computes today's key (the recipe, a
fingerprint of its data, the artifacts it is built on), which :func:`~tlcourse.artifacts.shipped.verified`
compares with the shipped one, and ``build`` trains into a folder and returns the key it used (both called with
the entry's ``args`` first, for a module that builds several artifacts).

Example:
    >>> [a.name for a in ARTIFACTS]  # doctest: +NORMALIZE_WHITESPACE
    ['world-bert', 'world-gpt', 'finetuning-runs', 'finetuning-lr-sweep', 'finetuning-seeds', 'peft-runs',
     'peft-seeds']
    >>> [a.name for a in in_build_order(["finetuning-runs", "world-bert"])]
    ['world-bert', 'finetuning-runs']
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from tlcourse.artifacts.shipped import SHIPPED, building, seal, verified


@dataclass(frozen=True)
class Artifact:
    """One shipped artifact: ``key`` and ``build`` are ``"module:function"`` paths (imported when used);
    ``args`` go first to both; ``needs`` are the artifacts its build loads, built first; ``threads``, where set, is
    torch's thread count for the build, so that any machine with the same torch and CPU kernels retrains it bit for
    bit."""

    name: str
    about: str
    key: str
    build: str
    args: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    threads: int | None = None

    def function(self, which: str) -> Callable[..., Any]:
        module, _, function = getattr(self, which).partition(":")
        return functools.partial(getattr(importlib.import_module(module), function), *self.args)


#: The recipe of notebook 06's tables (tlcourse.finetuning.experiments.TABLES), called with the table's name.
FINETUNING_KEY = "tlcourse.finetuning.experiments:table_key"
FINETUNING_BUILD = "tlcourse.finetuning.experiments:build_table"
ARTIFACTS: tuple[Artifact, ...] = (
    Artifact("world-bert", "the world BERT of notebook 03, pretrained with MLM + NSP",
             "tlcourse.world_models:world_bert_key", "tlcourse.world_models:build_world_bert"),
    Artifact("world-gpt", "the world GPT of notebooks 04, 05 and 07, pretrained as a causal LM",
             "tlcourse.world_models:world_gpt_key", "tlcourse.world_models:build_world_gpt", threads=1),
    Artifact("finetuning-runs", "notebook 06's fine-tuning results on the world's tasks", FINETUNING_KEY,
             FINETUNING_BUILD, args=("finetuning-runs",), needs=("world-bert",)),
    Artifact("finetuning-lr-sweep", "notebook 06's learning-rate sweep of the world BERT against the same network "
             "from scratch", FINETUNING_KEY, FINETUNING_BUILD, args=("finetuning-lr-sweep",), needs=("world-bert",)),
    Artifact("finetuning-seeds", "notebook 06's learning curve and other tasks with seeds 1 and 2", FINETUNING_KEY,
             FINETUNING_BUILD, args=("finetuning-seeds",), needs=("world-bert",)),
    Artifact("peft-runs", "notebook 07's PEFT results and training costs on MiniLM",
             "tlcourse.peft.experiments:notebook_table_key", "tlcourse.peft.experiments:build_table"),
    Artifact("peft-seeds", "notebook 07's PEFT runs with seeds 1 and 2",
             "tlcourse.peft.experiments:seeds_table_key", "tlcourse.peft.experiments:build_seeds_table"),
)
_BY_NAME = {a.name: a for a in ARTIFACTS}


def artifact(name: str) -> Artifact:
    """The catalog entry ``name``; ``ValueError`` listing the names otherwise."""
    if name not in _BY_NAME:
        raise ValueError(f"name: expected one of {sorted(_BY_NAME)}, got {name!r}")
    return _BY_NAME[name]


def in_build_order(names: Iterable[str]) -> list[Artifact]:
    """The artifacts ``names``, each after those it needs (catalog order)."""
    wanted = {artifact(name).name for name in names}
    return [a for a in ARTIFACTS if a.name in wanted]


def check(name: str, *, root: Path = SHIPPED) -> Path:
    """The shipped folder of ``name`` after :func:`~tlcourse.artifacts.shipped.verified` against today's key."""
    entry = artifact(name)
    return verified(entry.name, entry.function("key")(), root=root)


def build(name: str, *, progress: bool = True, root: Path = SHIPPED) -> dict[str, Any]:
    """Train ``name`` from its recipe into the shipped folder (replacing it) and seal it; its fingerprint record."""
    entry = artifact(name)
    threads = torch.get_num_threads()
    torch.set_num_threads(entry.threads or threads)
    try:
        with building(entry.name, root=root) as folder:
            key = entry.function("build")(folder, progress=progress)
            record = seal(folder, entry.name, key)
    finally:
        torch.set_num_threads(threads)
    return record
