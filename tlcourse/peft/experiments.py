"""Fine-tuning in full vs parameter-efficiently, side by side, on the real MiniLM and the world's reviews.

A :class:`PeftRun` names one method (:data:`METHODS`) with its size and optimisation; :func:`run` trains it on
labeled reviews and measures, in one result:

- ``accuracy`` / ``macro_f1`` on held-out reviews;
- ``trainable`` / ``total`` parameters;
- what the **backbone** keeps: the pretrained MiniLM once the method is taken off again (an adapter switched off,
  LoRA unloaded, the prompt dropped; full fine-tuning and BitFit have nothing to take off, they changed the
  weights). ``base_unchanged`` says whether every pretrained tensor is bit-identical to the checkpoint's;
  ``kept_cosine`` is the mean cosine between its sentence vectors and the pretrained ones on held-out sentences
  that are not reviews, and ``kept_neighbours`` the share of those sentences whose nearest neighbour is still the
  same (1.0: the backbone still does its first job exactly as before). For LoRA the same numbers after
  ``merge_and_unload`` (``merged_kept_*``): merging writes the update into the weights.

:func:`cached_run` computes each result once and then reads it from ``cache_dir()/experiments`` (JSON); the runs
and costs the 07_peft notebook shows (:data:`NOTEBOOK_RUNS`, :data:`COMPARISON`) ship with the course as the
``peft-runs`` table, and the same runs with two more seeds as ``peft-seeds`` (:mod:`tlcourse.artifacts`), checked
against today's runs and MiniLM. :func:`cached_costs`
measures what the methods cost to train, side by side: gradient, optimiser-state (AdamW) and activation bytes and
the time of a step and of its forward, backward and optimiser parts (:func:`~tlcourse.peft.cost.training_cost`) on
one batch of 16 reviews, every method in turn for a few rounds so that a machine's changing load hits them alike.

Example:
    >>> r = PeftRun("lora", n_train=16, min_steps=2, epochs=1, n_test=8, n_kept=8, backbone="world-bert-scratch")
    >>> result = run(r)
    >>> result["base_unchanged"], result["steps"], result["trainable"] < result["total"]
    (True, 2, True)
"""

from __future__ import annotations

import copy
import statistics
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from tlcourse.artifacts.tables import shipped_results, write_results
from tlcourse.data import world_entailment
from tlcourse.data.world import WORLD_VERSION
from tlcourse.finetuning.backbones import Backbone, load_backbone, pretrained_weights
from tlcourse.finetuning.experiments import SEEDS, Run, build, cached_json, evaluate, task_data, with_seeds
from tlcourse.finetuning.freezing import freeze, parameter_count
from tlcourse.finetuning.inputs import SequenceCollator
from tlcourse.finetuning.siamese import SentenceEncoder
from tlcourse.finetuning.training import fine_tune
from tlcourse.models import BertModel
from tlcourse.peft.adapters import AdapterConfig, add_adapters, set_active_adapter
from tlcourse.peft.bitfit import apply_bitfit
from tlcourse.peft.cost import training_cost
from tlcourse.peft.lora import LoraConfig, apply_lora, merge_and_unload, unload
from tlcourse.peft.prefix_tuning import PrefixTuningConfig, PrefixTuningModel
from tlcourse.peft.prompt_tuning import PromptTuningConfig, PromptTuningModel

#: method -> its default learning rate (AdamW). The fewer values a method trains, the larger the steps it takes
#: well; each rate was picked among 1e-4, 1e-3, 3e-3, 1e-2 and 3e-2 from a few trial runs' held-out accuracy.
METHODS: dict[str, float] = {"full": 1e-4, "head": 1e-2, "adapters": 1e-3, "lora": 1e-3, "bitfit": 3e-3,
                             "prompt": 3e-2, "prefix": 1e-2}
#: method -> the default ``size`` of its run (the others have none)
SIZES: dict[str, int] = {"adapters": 16, "lora": 8, "prompt": 20, "prefix": 20}
#: How many rounds :func:`costs` times each method for by default (the notebook's measurement).
COST_ROUNDS = 5
#: The prompt-tuning init text (``PromptTuningConfig(init="text")``).
PROMPT_TEXT = "Is this review of a purchase positive or negative?"


@dataclass(frozen=True)
class PeftRun:
    """One method on the sentiment task. ``size``: LoRA's rank r (alpha = 2r, on query and value, peft's
    default targets), the adapters' reduction factor d/m (Pfeiffer placement), or the number of virtual tokens
    of prompt and prefix tuning (``None``: :data:`SIZES`); the other methods have none. ``lr=None`` takes
    :data:`METHODS`' rate. ``n_kept``: how many held-out sentences measure what the backbone keeps."""

    method: str
    size: int | None = None
    n_train: int = 256
    lr: float | None = None
    epochs: float = 5.0
    min_steps: int = 40
    n_test: int = 400
    n_kept: int = 200
    seed: int = 0
    backbone: str = "minilm"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method: expected one of {sorted(METHODS)}, got {self.method!r}")
        if self.method not in SIZES:
            if self.size is not None:
                raise ValueError(f"size: expected None for method {self.method!r}, got {self.size!r}")
        elif self.size is None:
            object.__setattr__(self, "size", SIZES[self.method])
        elif isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise ValueError(f"size: expected a positive int, got {self.size!r}")

    @property
    def task_run(self) -> Run:
        """The fine-tuning :class:`~tlcourse.finetuning.experiments.Run` under this method: its data, mean
        pooling, and the optimisation."""
        return Run("sentiment", self.backbone, self.n_train, pooling="mean", epochs=self.epochs,
                   min_steps=self.min_steps, lr=METHODS[self.method] if self.lr is None else self.lr,
                   n_test=self.n_test, seed=self.seed)


def apply_method(r: PeftRun, model: nn.Module, backbone: Backbone) -> nn.Module:
    """``model`` (a fresh ``SequenceClassifier``) prepared for ``r.method``: frozen as the method says, with its
    new modules; prompt and prefix tuning wrap it."""
    if r.method in ("full", "head"):
        freeze(model, "none" if r.method == "full" else "head")
    elif r.method == "adapters":
        add_adapters(model, "sentiment", AdapterConfig("pfeiffer", reduction_factor=r.size))
        set_active_adapter(model, "sentiment")
    elif r.method == "lora":
        apply_lora(model, LoraConfig(r=r.size, alpha=2 * r.size, modules_to_save=("head",)))
    elif r.method == "bitfit":
        apply_bitfit(model)
    elif r.method == "prompt":
        config = PromptTuningConfig(num_virtual_tokens=r.size, init="text", init_text=PROMPT_TEXT)
        model = PromptTuningModel(model, config, tokenizer=backbone.tokenizer)
    else:
        model = PrefixTuningModel(model, PrefixTuningConfig(num_virtual_tokens=r.size))
    return model


def prepared(r: PeftRun, backbone: Backbone) -> tuple[nn.Module, Callable]:
    """A fresh classifier on ``backbone``'s encoder (seeded) prepared for ``r.method`` by :func:`apply_method`,
    and its collator, whose inputs leave room for prompt or prefix tuning's virtual tokens."""
    classifier, collator = build(r.task_run, backbone)
    if r.method in ("prompt", "prefix"):
        room = backbone.encoder.config.max_position_embeddings - r.size
        if collator.max_length > room:
            collator = SequenceCollator(backbone.tokenizer, room)
    return apply_method(r, classifier, backbone), collator


def backbone_after(r: PeftRun, model: nn.Module, *, merged: bool = False) -> BertModel:
    """The encoder left once ``r.method`` is taken off ``model`` (a copy): adapters switched off, LoRA unloaded
    (or merged, ``merged=True``), the prompt or prefix dropped; full fine-tuning's and BitFit's trained encoder."""
    model = copy.deepcopy(model)
    if r.method in ("prompt", "prefix"):
        return model.model.encoder
    if r.method == "adapters":
        set_active_adapter(model, None)
    elif r.method == "lora":
        (merge_and_unload if merged else unload)(model)
    return model.encoder


def kept_sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` held-out sentences that are not reviews: premises and hypotheses of the world's NLI test split."""
    pairs = world_entailment((n + 1) // 2, "test", seed=seed)
    return [s for p in pairs for s in (p.premise, p.hypothesis)][:n]


def kept(pretrained: BertModel, encoder: BertModel, texts: list[str], backbone: Backbone) -> dict[str, float]:
    """How much of the pretrained encoder's sentence vectors (mean pooling) ``encoder`` keeps on ``texts``: the
    mean cosine between the two, and the share of texts whose nearest other text is the same under both."""
    before, after = (SentenceEncoder(e, "mean", normalize=True).encode(texts, backbone.tokenizer,
                                                                       max_length=backbone.max_length)
                     for e in (pretrained, encoder))  # (N, H) each
    return {"cosine": float((before * after).sum(-1).mean()),
            "neighbours": float((_nearest(before) == _nearest(after)).float().mean())}


def _nearest(vectors: Tensor) -> Tensor:
    """Index of each normalised row's nearest other row. Shapes: (N, H) -> (N,)."""
    similarity = vectors @ vectors.T  # (N, N)
    return similarity.fill_diagonal_(-2.0).argmax(-1)


def _keeps_weights(model: nn.Module, pretrained: nn.Module) -> bool:
    """Whether ``model`` holds every tensor of ``pretrained``, by name, bit for bit (inactive adapters may be
    there besides)."""
    state = model.state_dict()
    return all(k in state and torch.equal(state[k], v) for k, v in pretrained.state_dict().items())


def run(r: PeftRun, *, progress: bool = False) -> dict[str, Any]:
    """Train ``r`` and measure it (module docstring); a dict of plain numbers and bools."""
    task = r.task_run
    train, test = task_data(task)
    backbone = load_backbone(r.backbone, seed=r.seed)
    pretrained = copy.deepcopy(backbone.encoder).eval()
    model, collator = prepared(r, backbone)
    history = fine_tune(model, train, collator, task.config(progress))
    counts = parameter_count(model)
    result: dict[str, Any] = {
        "trainable": counts.trainable, "total": counts.total, "steps": history[-1]["step"],
        **evaluate(task, model.cpu(), collator, test)}
    texts = kept_sentences(r.n_kept, r.seed)
    left = backbone_after(r, model)
    result["base_unchanged"] = _keeps_weights(left, pretrained)
    result.update({f"kept_{k}": v for k, v in kept(pretrained, left, texts, backbone).items()})
    if r.method == "lora":
        merged = backbone_after(r, model, merged=True)
        result.update({f"merged_kept_{k}": v for k, v in kept(pretrained, merged, texts, backbone).items()})
    return result


def cached_run(r: PeftRun, *, progress: bool = False) -> dict[str, Any]:
    """:func:`run`'s result for ``r``: from the shipped table for the notebook's runs, else computed once and then
    read from the cache."""
    if r in NOTEBOOK_RUNS:
        return shipped_results(TABLE, notebook_table_key()).result(r)
    if r in MORE_SEEDS:
        return shipped_results(SEEDS_TABLE, seeds_table_key()).result(r)
    return cached_json("peft", {"run": asdict(r), "world": WORLD_VERSION}, lambda: run(r, progress=progress))


def cached_runs(runs: list[PeftRun], *, progress: bool = True) -> list[dict[str, Any]]:
    """:func:`cached_run` of each run (a progress bar over the runs unless all are shipped), each result with its
    run's fields."""
    shipped = set(runs) <= set(NOTEBOOK_RUNS + MORE_SEEDS)  # read at once: no bar
    return [{**asdict(r), **cached_run(r)} for r in tqdm(runs, desc="PEFT runs", disable=shipped or not progress)]


def costs(runs: Sequence[PeftRun], *, rounds: int = COST_ROUNDS, batch_size: int = 16) -> dict[str, dict[str, Any]]:
    """What each run's method costs to train, by method, measured by
    :func:`~tlcourse.peft.cost.training_cost` on the first ``batch_size`` training reviews: ``trainable``,
    ``gradient_bytes``, ``optimizer_state_bytes`` (AdamW, after a step) and ``activation_bytes``, and the medians
    over ``rounds`` rounds, in which every model takes two timed steps in turn, of ``step_seconds`` and its parts
    ``forward_seconds``, ``backward_seconds`` and ``optimizer_seconds``."""
    measured: dict[str, list] = {}
    for r in runs:
        task = r.task_run
        train, _ = task_data(task)
        model, collator = prepared(r, load_backbone(r.backbone, seed=r.seed))
        measured[r.method] = [model, collator(train[:batch_size]), []]
    for _ in range(rounds):
        for model, batch, results in measured.values():
            results.append(training_cost(model, batch, steps=2))
    times = ("step_seconds", "forward_seconds", "backward_seconds", "optimizer_seconds")
    return {method: {"trainable": results[-1].trainable_parameters, "gradient_bytes": results[-1].gradient_bytes,
                     "optimizer_state_bytes": results[-1].optimizer_state_bytes,
                     "activation_bytes": results[-1].activation_bytes,
                     **{part: statistics.median(getattr(c, part) for c in results) for part in times}}
            for method, (_, _, results) in measured.items()}


def cached_costs(runs: Sequence[PeftRun], *, rounds: int = COST_ROUNDS) -> dict[str, dict[str, Any]]:
    """:func:`costs`: from the shipped table for the notebook's comparison, else measured once and then read from
    the cache."""
    if tuple(runs) == COMPARISON and rounds == COST_ROUNDS:
        return copy.deepcopy(shipped_results(TABLE, notebook_table_key()).extra["costs"])
    key = {"runs": [asdict(r) for r in runs], "rounds": rounds, "world": WORLD_VERSION}
    return cached_json("peft-costs", key, lambda: costs(runs, rounds=rounds))


# --- the runs of the 07_peft notebook ------------------------------------------------------------------------------

#: Every method once, at its default size and learning rate: the notebook's table.
COMPARISON = tuple(PeftRun(m) for m in METHODS)
#: LoRA's rank against trainable parameters and accuracy (the widget); r=8 is in COMPARISON.
LORA_RANKS = (1, 2, 4, 8, 16, 64)
RANK_SWEEP = tuple(PeftRun("lora", size=rank) for rank in LORA_RANKS)
NOTEBOOK_RUNS = tuple(dict.fromkeys(COMPARISON + RANK_SWEEP))
#: The shipped artifact that holds the notebook's runs and costs.
TABLE = "peft-runs"
#: The spread: every run of the notebook again with seeds 1 and 2 (other labeled and test reviews, another
#: initialisation of whatever is new), so that each accuracy it shows is the mean of three runs.
MORE_SEEDS = tuple(replace(r, seed=seed) for r in NOTEBOOK_RUNS for seed in SEEDS[1:])
#: The shipped artifact that holds the results of MORE_SEEDS.
SEEDS_TABLE = "peft-seeds"



def notebook_table_key() -> dict[str, Any]:
    """What the shipped table depends on: the runs, the cost measurement, the world and MiniLM's weights."""
    return {"runs": [asdict(r) for r in NOTEBOOK_RUNS], "costs": [asdict(r) for r in COMPARISON],
            "rounds": COST_ROUNDS, "world": WORLD_VERSION, "backbones": pretrained_weights("minilm")}


def seeds_table_key() -> dict[str, Any]:
    """What the shipped seeds table depends on: its runs, the world and MiniLM's weights."""
    return {"runs": [asdict(r) for r in MORE_SEEDS], "world": WORLD_VERSION, "backbones": pretrained_weights("minilm")}


def build_seeds_table(folder: Path, *, progress: bool = True) -> dict[str, Any]:
    """Train every run of :data:`MORE_SEEDS` (about 30 minutes on a 2-core CPU) into the table in ``folder`` (the
    ``peft-seeds`` artifact); returns its key."""
    write_results(folder, MORE_SEEDS, run, desc="PEFT seeds", progress=progress)
    return seeds_table_key()


def build_table(folder: Path, *, progress: bool = True) -> dict[str, Any]:
    """Train every run of :data:`NOTEBOOK_RUNS` and measure the costs of :data:`COMPARISON` (about 10 minutes on
    2 cores) into the table in ``folder`` (the ``peft-runs`` artifact); returns its key."""
    key = notebook_table_key()
    measured = costs(COMPARISON, rounds=COST_ROUNDS)
    write_results(folder, NOTEBOOK_RUNS, run, desc="PEFT runs", progress=progress, costs=measured)
    return key


def prepare_notebook(progress: bool = True) -> None:
    """Find every run and cost the 07_peft notebook shows (shipped)."""
    cached_runs(list(NOTEBOOK_RUNS + MORE_SEEDS), progress=progress)
    cached_costs(COMPARISON)
