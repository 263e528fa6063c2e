"""Fine-tuning experiments on the world's labeled sets, scored on held-out data, with their results cached.

A :class:`Run` names everything that decides a result: the task (``"sentiment"``, ``"entailment"``, ``"pos"``,
``"ner"``), the backbone (:data:`~tlcourse.finetuning.backbones.BACKBONES`), the number of labeled examples,
pooling, freezing and the optimisation. :func:`run` fine-tunes and scores it; :func:`cached_run` does so once
and then reads the result from ``cache_dir()/experiments`` (JSON), so a notebook shows learning curves that took
minutes to make in a second. Only results are cached; :func:`fine_tuned` also keeps the model. The runs the
06_finetuning notebook shows ship with the course as the tables of :data:`TABLES` (:mod:`tlcourse.artifacts`), so
:func:`cached_run` reads theirs from them, checked against today's runs and backbones.

Example:
    >>> r = Run("sentiment", "world-bert-scratch", n_train=16, min_steps=2, epochs=1, n_test=8)
    >>> result = run(r)
    >>> sorted(result)
    ['accuracy', 'macro_f1', 'seconds', 'steps', 'total', 'trainable']
    >>> result["steps"], 0.0 <= result["accuracy"] <= 1.0
    (2, True)
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import torch
from torch import nn
from tqdm.auto import tqdm

from tlcourse.artifacts.tables import shipped_results, write_results
from tlcourse.data.cache import atomic_write, cache_path
from tlcourse.data.labeled import NER_TAGS, NLI_LABELS, POS_TAGS, SENTIMENT_LABELS
from tlcourse.data.world import WORLD_VERSION
from tlcourse.finetuning.alignment import word_predictions
from tlcourse.finetuning.backbones import BACKBONES, Backbone, load_backbone, pretrained_weights
from tlcourse.finetuning.forgetting import measure_forgetting, world_mlm_batches
from tlcourse.finetuning.freezing import STRATEGIES, freeze, parameter_count
from tlcourse.finetuning.heads import SequenceClassifier, TokenClassifier
from tlcourse.finetuning.inputs import SequenceCollator, TokenCollator
from tlcourse.finetuning.siamese import SiameseClassifier, SiameseCollator
from tlcourse.finetuning.metrics import accuracy, entity_f1, macro_f1
from tlcourse.finetuning.training import FineTuneConfig, fine_tune, predict
from tlcourse.training.cache import load_or_train

#: task -> (labeled-set function name in tlcourse.data.labeled, label names, token task?)
TASKS: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "sentiment": ("world_sentiment", SENTIMENT_LABELS, False),
    "entailment": ("world_entailment", NLI_LABELS, False),
    "pos": ("world_pos", POS_TAGS, True),
    "ner": ("world_ner", NER_TAGS, True),
}


@dataclass(frozen=True)
class Run:
    """One fine-tuning experiment. ``lr=None`` takes 1e-4 for MiniLM and 1e-3 for the small world models.
    ``siamese=True`` (entailment) encodes premise and hypothesis separately with one shared encoder
    (:class:`~tlcourse.finetuning.SiameseClassifier`) instead of as one ``[CLS] A [SEP] B [SEP]`` input."""

    task: str
    backbone: str
    n_train: int
    pooling: str = "cls"
    freezing: str = "none"
    top_k: int = 1
    epochs: float = 5.0
    min_steps: int = 40
    lr: float | None = None
    n_test: int = 400
    seed: int = 0
    siamese: bool = False

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task: expected one of {sorted(TASKS)}, got {self.task!r}")
        if self.siamese and self.task != "entailment":
            raise ValueError(f"siamese: expected False for the task {self.task!r} (it encodes sentence pairs)")
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone: expected one of {BACKBONES}, got {self.backbone!r}")
        if self.freezing not in STRATEGIES:
            raise ValueError(f"freezing: expected one of {STRATEGIES}, got {self.freezing!r}")

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else 1e-4 if self.backbone.startswith("minilm") else 1e-3

    def config(self, progress: bool = False) -> FineTuneConfig:
        return FineTuneConfig(epochs=self.epochs, min_steps=self.min_steps, lr=self.learning_rate, seed=self.seed,
                              progress=progress)


def task_data(r: Run) -> tuple[list, list]:
    """The train and test examples of ``r``."""
    from tlcourse.data import labeled

    make = getattr(labeled, TASKS[r.task][0])
    return make(r.n_train, "train", seed=r.seed), make(r.n_test, "test", seed=r.seed)


def build(r: Run, backbone: Backbone) -> tuple[nn.Module, Callable]:
    """The classifier of ``r`` on ``backbone``'s encoder (seeded), frozen as ``r`` says, and its collator."""
    _, labels, per_token = TASKS[r.task]
    torch.manual_seed(r.seed)
    if per_token:
        model = TokenClassifier(backbone.encoder, len(labels))
        collator = TokenCollator(backbone.tokenizer, labels, backbone.max_length)
    elif r.siamese:
        model = SiameseClassifier(backbone.encoder, len(labels), pooling="mean" if r.pooling == "pooler" else r.pooling)
        collator = SiameseCollator(backbone.tokenizer, backbone.max_length)
    else:
        model = SequenceClassifier(backbone.encoder, len(labels), pooling=r.pooling)
        collator = SequenceCollator(backbone.tokenizer, backbone.max_length)
    freeze(model, r.freezing, r.top_k)
    return model, collator


def evaluate(r: Run, model: nn.Module, collator: Callable, examples: list) -> dict[str, float]:
    """Held-out scores: accuracy and macro-F1 per input, or word accuracy (POS) / entity F1 (NER) per word."""
    _, labels, per_token = TASKS[r.task]
    if not per_token:
        predictions = predict(model, examples, collator)
        gold = [e.label for e in examples]
        return {"accuracy": accuracy(predictions, gold), "macro_f1": macro_f1(predictions, gold, len(labels))}
    predictions = predict(model, examples, collator)
    _, word_ids = collator.encode(examples)
    predicted_tags = [[labels[i] for i in word_predictions(row[: len(ids)].tolist(), ids)]
                      for row, ids in zip(predictions, word_ids)]
    true_tags = [list(e.tags[: len(p)]) for e, p in zip(examples, predicted_tags)]
    correct = sum(p == t for ps, ts in zip(predicted_tags, true_tags) for p, t in zip(ps, ts))
    scores = {"word_accuracy": correct / sum(len(t) for t in true_tags)}
    if r.task == "ner":
        scores["entity_f1"] = entity_f1(true_tags, predicted_tags).f1
    return scores


def run(r: Run, *, progress: bool = False) -> dict[str, Any]:
    """Fine-tune as ``r`` says and score on the test split: the scores, ``trainable`` / ``total`` parameters,
    ``steps``, ``seconds`` of training, and for the world BERT the masked-LM loss on held-out pretraining text
    before and after (``mlm_before`` / ``mlm_after``, :mod:`~tlcourse.finetuning.forgetting`)."""
    train, test = task_data(r)
    backbone = load_backbone(r.backbone, seed=r.seed)
    model, collator = build(r, backbone)
    counts = parameter_count(model)
    start = time.perf_counter()
    history = fine_tune(model, train, collator, r.config(progress))
    result: dict[str, Any] = {"seconds": time.perf_counter() - start, "steps": history[-1]["step"],
                              "trainable": counts.trainable, "total": counts.total}
    result.update(evaluate(r, model.cpu(), collator, test))
    if r.backbone == "world-bert":
        from tlcourse.world_models import world_bert

        pretrained, _, _ = world_bert(progress=False)
        forgetting = measure_forgetting(pretrained, model.encoder, world_mlm_batches())
        result.update(mlm_before=forgetting.before, mlm_after=forgetting.after)
    return result


def _key(r: Run) -> dict[str, Any]:
    return {"run": asdict(r), "world": WORLD_VERSION}


def cached_json(name: str, key: dict[str, Any], compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``compute()``'s JSON-able result, computed once for ``key`` and then read from
    ``cache_dir()/experiments/name-KEY.json``."""
    path = cache_path("experiments", name, ".json", **key)
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    result = compute()
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(result), encoding="utf-8")
    return result


def cached_run(r: Run, *, progress: bool = False) -> dict[str, Any]:
    """:func:`run`'s result for ``r``: from the shipped table for the notebook's runs, else computed once and then
    read from the cache."""
    for name, (runs, _) in TABLES.items():
        if r in runs:
            return shipped_results(name, table_key(name)).result(r)
    return cached_json("finetune", _key(r), lambda: run(r, progress=progress))


def cached_runs(runs: list[Run], *, progress: bool = True) -> list[dict[str, Any]]:
    """:func:`cached_run` of each run (a progress bar over the runs unless all are shipped), each result with its
    run's fields."""
    shipped = set(runs) <= SHIPPED_RUNS  # read at once: no bar
    bar = tqdm(runs, desc="fine-tuning runs", disable=shipped or not progress)
    return [{**asdict(r), **cached_run(r)} for r in bar]


def fine_tuned(r: Run, *, progress: bool = False) -> tuple[nn.Module, Callable, Backbone]:
    """The model of ``r`` after fine-tuning (trained once, then loaded from the cache), in eval mode, with its
    collator and backbone."""
    train, _ = task_data(r)
    backbone = load_backbone(r.backbone, seed=r.seed)
    model, collator = build(r, backbone)
    trained, _ = load_or_train("finetuned", _key(r), lambda: model,
                               lambda m: fine_tune(m, train, collator, r.config(progress)))
    return trained, collator, backbone


# --- the runs of the 06_finetuning notebook --------------------------------------------------------------------------

BACKBONE_ORDER = ("minilm", "minilm-scratch", "world-bert", "world-bert-scratch")
#: What pretraining buys: sentiment with 16, 64 and 256 labeled reviews, each backbone, mean pooling.
LEARNING_CURVE = tuple(Run("sentiment", b, n, pooling="mean") for b in BACKBONE_ORDER for n in (16, 64, 256))
#: The other tasks at one size: NLI pairs as [CLS] A [SEP] B [SEP], POS and NER with 32 labeled sentences.
OTHER_TASKS = tuple(Run(task, b, n, pooling="cls") for task, n in (("entailment", 256), ("pos", 32), ("ner", 32))
                    for b in BACKBONE_ORDER)
#: NLI with each sentence encoded alone (Sentence-BERT), against the [SEP] input above.
SIAMESE = tuple(Run("entailment", b, 256, pooling="mean", siamese=True) for b in ("minilm", "world-bert"))
#: The fine-tuned MiniLM the notebook tries on new reviews.
DEMO = Run("sentiment", "minilm", 64, pooling="mean")
#: Which vector to classify: [CLS], the mean, or BERT's pretrained pooler.
POOLING = tuple(Run("sentiment", b, 64, pooling=p) for b, ps in (("minilm", ("cls", "mean", "pooler")),
                                                                  ("world-bert", ("cls", "mean", "pooler")))
                for p in ps)
#: Freezing vs updating, and what the backbone forgets (the world BERT has its MLM head to measure it). Each
#: strategy at a learning rate that suits it (of {1e-4, 1e-3, 3e-3, 1e-2}: a head alone takes large steps); then full
#: fine-tuning of the world BERT at larger learning rates.
_FREEZING_LR = {"head": 1e-2, "top_k": 1e-3, "embeddings": None, "none": None}
FREEZING = tuple(Run("sentiment", b, 256, pooling="mean", freezing=f, top_k=1, lr=lr)
                 for b in ("minilm", "world-bert") for f, lr in _FREEZING_LR.items()) + tuple(
    Run("sentiment", "world-bert", 256, pooling="mean", lr=lr) for lr in (3e-3, 1e-2))
NOTEBOOK_RUNS = LEARNING_CURVE + OTHER_TASKS + SIAMESE + POOLING + FREEZING
#: Is it the learning rate? The world BERT and the same network from scratch on sentiment at four learning rates, with
#: three seeds each (a seed draws other labeled and test reviews and another initialisation of whatever is new).
LEARNING_RATES = (3e-4, 1e-3, 3e-3, 1e-2)
LR_SWEEP = tuple(Run("sentiment", b, n, pooling="mean", lr=lr, seed=seed)
                 for b in ("world-bert", "world-bert-scratch") for n in (16, 256) for lr in LEARNING_RATES
                 for seed in (0, 1, 2))
#: The spread: the learning curve and the other tasks again with seeds 1 and 2 (other labeled and test examples,
#: another initialisation of whatever is new), so that each of their numbers is the mean of three runs.
SEEDS = (0, 1, 2)
T = TypeVar("T")
MORE_SEEDS = tuple(replace(r, seed=seed) for r in LEARNING_CURVE + OTHER_TASKS + SIAMESE for seed in SEEDS[1:])

#: The shipped tables (artifact name: the runs it holds, and the pretrained backbones they start from).
TABLES: dict[str, tuple[tuple[Run, ...], tuple[str, ...]]] = {
    "finetuning-runs": (NOTEBOOK_RUNS, ("minilm", "world-bert")),
    "finetuning-lr-sweep": (LR_SWEEP, ("world-bert",)),
    "finetuning-seeds": (MORE_SEEDS, ("minilm", "world-bert")),
}
SHIPPED_RUNS = frozenset(r for runs, _ in TABLES.values() for r in runs)


def with_seeds(runs: Sequence[T]) -> list[T]:
    """Each of ``runs`` (any frozen dataclass with a ``seed`` field: a :class:`Run`, a PEFT run) with every seed of
    :data:`SEEDS`, in order."""
    return [replace(r, seed=seed) for r in runs for seed in SEEDS]


def table_key(name: str) -> dict[str, Any]:
    """What the shipped table ``name`` depends on: its runs, the world and the pretrained backbones."""
    runs, backbones = TABLES[name]
    return {"runs": [asdict(r) for r in runs], "world": WORLD_VERSION, "backbones": pretrained_weights(*backbones)}


def build_table(name: str, folder: Path, *, progress: bool = True) -> dict[str, Any]:
    """Fine-tune every run of the table ``name`` into ``folder`` (20 to 35 s a run on a 2-core CPU); returns its key."""
    runs, _ = TABLES[name]
    write_results(folder, runs, run, desc=name, progress=progress)
    return table_key(name)


def prepare_notebook(progress: bool = True) -> None:
    """Find every run the 06_finetuning notebook shows (shipped), and fine-tune its demo model once (about 20 s)."""
    cached_runs(list(SHIPPED_RUNS), progress=False)
    fine_tuned(DEMO, progress=progress)
