"""The training loop: read :meth:`Trainer.train` and :meth:`Trainer.step` top to bottom.

One **step** (:meth:`Trainer.step`) takes ``grad_accum_steps`` micro-batches; for each, the forward pass (under
bf16 autocast where asked) gives ``loss``, and ``(loss / grad_accum_steps).backward()`` adds its share to the
gradients, so they end as the gradient of the mean loss over the micro-batches. Then the gradient norm is
clipped, AdamW steps, the cosine schedule moves the learning rate and the gradients are dropped
(``set_to_none``). Any model whose ``forward(**batch)`` returns an object with ``.loss`` trains: ours and
transformers' alike.

**The loop** (:meth:`Trainer.train`) repeats steps up to ``max_steps``; every ``log_every`` steps it appends a
record to ``history`` (step, mean train loss since the last record, learning rate, gradient norm, tokens/s, MFU
on a GPU), every ``eval_every`` steps it adds the eval loss and perplexity (:meth:`Trainer.evaluate`), every
``checkpoint_every`` steps it writes ``out_dir/checkpoint-<step>``. :meth:`Trainer.load_checkpoint` continues a
run bit for bit: same batches, same dropout masks, same parameters as if it had never stopped (the train loader
must come from :func:`~tlcourse.training.make_loader`).

Under torchrun the model is wrapped in DDP (:mod:`~tlcourse.training.distributed`); gradients are averaged over
processes on the last micro-batch of a step only (``no_sync`` on the others); logged losses and tokens/s are
totals over processes, and only rank 0 shows progress and writes checkpoints.

Example:
    >>> from tlcourse.models import GPT2Config, GPT2LMHeadModel
    >>> from tlcourse.training import make_loader
    >>> _ = torch.manual_seed(0)
    >>> model = GPT2LMHeadModel(GPT2Config(vocab_size=20, n_positions=8, n_embd=16, n_layer=1, n_head=2))
    >>> ids = torch.arange(64).remainder(20).reshape(8, 8)                 # 8 sequences of 8 tokens
    >>> data = [{"input_ids": row, "labels": row} for row in ids]
    >>> config = TrainConfig(max_steps=20, lr=1e-2, log_every=10, device="cpu", progress=False)
    >>> history = Trainer(model, config, make_loader(data, batch_size=4)).train()
    >>> [record["step"] for record in history], history[-1]["train_loss"] < history[0]["train_loss"]
    ([10, 20], True)
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from tlcourse.pretraining.clm import perplexity
from tlcourse.training.checkpoint import load_checkpoint, save_checkpoint
from tlcourse.training.config import TrainConfig
from tlcourse.training.data import ResumableSampler
from tlcourse.training.device import autocast, resolve_device, resolve_dtype
from tlcourse.training.distributed import all_reduce_sum, barrier, dist_info, wrap_ddp
from tlcourse.training.optimizer import make_optimizer
from tlcourse.training.rng import seed_everything
from tlcourse.training.schedule import cosine_schedule
from tlcourse.training.throughput import count_parameters, count_tokens, mfu


@dataclass
class TrainState:
    """What the loop has done: optimizer steps, the epoch it is in and the micro-batches taken from that epoch
    (this process's), and the history records. Saved in every checkpoint."""

    step: int = 0
    epoch: int = 0
    batches_in_epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class StepResult:
    """One optimizer step: ``loss`` (mean over its micro-batches, a 0-d tensor left on the device so the loop does
    not wait for the GPU), the real ``tokens`` it saw, the ``lr`` it used, the gradient norm before clipping."""

    loss: Tensor
    tokens: int
    lr: float
    grad_norm: Tensor | None


def loss_weight(batch: dict[str, Tensor]) -> int:
    """How many targets a batch's mean loss averages over: per-token labels that are not -100; one per example
    for per-example labels (class ids, regression targets); the real tokens when there are no labels.

    A causal LM scores ``T - 1`` of ``T`` labels per row; the one-per-row difference is the same for rows of equal
    length (packed blocks), where the weighted mean is exactly the mean over every target.

    Example:
        >>> ids = torch.ones(2, 3, dtype=torch.long)
        >>> loss_weight({"input_ids": ids, "labels": torch.tensor([[5, -100, 7], [1, 2, 3]])})    # token labels
        5
        >>> loss_weight({"input_ids": ids, "labels": torch.tensor([0, 1])})                       # class ids
        2
    """
    labels = batch.get("labels")
    if labels is None:
        return count_tokens(batch)
    if labels.is_floating_point() or labels.dim() == 1:
        return labels.shape[0]
    return int((labels != -100).sum())


class Trainer:
    """Train ``model`` on ``train_loader`` as ``config`` says; evaluate on ``eval_loader`` (optional).

    The constructor seeds every generator with ``config.seed``, moves the model to the device and builds AdamW
    (:func:`~tlcourse.training.make_optimizer`) and the warmup + cosine schedule over ``max_steps``.
    ``self.model`` is the plain module (to save, evaluate or use after training); the steps run through
    ``self.train_model``, which is the same module, or its DDP wrapper, or its compiled version.
    """

    def __init__(self, model: nn.Module, config: TrainConfig, train_loader: DataLoader,
                 eval_loader: DataLoader | None = None):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config: expected a TrainConfig, got {type(config).__name__}")
        self.config = config
        self.dist = dist_info()
        self.device = resolve_device(config.device, self.dist.local_rank)
        self.dtype = resolve_dtype(config.dtype, self.device)
        seed_everything(config.seed)
        self.model = model.to(self.device)
        self.optimizer = make_optimizer(self.model, config, self.device)
        self.scheduler = cosine_schedule(self.optimizer, config.warmup_steps, config.max_steps, config.min_lr_ratio)
        self.train_model = wrap_ddp(self.model, self.device)
        if config.compile:
            self.train_model = torch.compile(self.train_model)
        self.train_loader, self.eval_loader = train_loader, eval_loader
        self.n_params = count_parameters(self.model)
        self.state = TrainState()
        self._batches = self._micro_batches()

    def train(self) -> list[dict[str, Any]]:
        """Run steps until ``config.max_steps``; return the history (also in ``self.state.history``)."""
        config, state = self.config, self.state
        bar = tqdm(total=config.max_steps, initial=state.step, desc="train", unit="step",
                   disable=not (config.progress and self.dist.is_main))
        window = []  # the StepResults since the last record
        window_start = time.perf_counter()
        while state.step < config.max_steps:
            window.append(self.step())
            bar.update(1)
            last = state.step == config.max_steps
            due = config.eval_every > 0 and state.step % config.eval_every == 0
            evaluate = self.eval_loader is not None and (last or due)
            if last or evaluate or state.step % config.log_every == 0:
                record = self._record(window, time.perf_counter() - window_start)
                if evaluate:
                    record.update(self.evaluate())
                state.history.append(record)
                bar.set_postfix({k: f"{record[k]:.4g}" for k in ("train_loss", "eval_loss") if k in record})
                window = []
            if config.checkpoint_every and state.step % config.checkpoint_every == 0:
                self.save_checkpoint(Path(config.out_dir) / f"checkpoint-{state.step}")
            if not window:  # evaluation and saving are not training time
                window_start = time.perf_counter()
        bar.close()
        return state.history

    def step(self) -> StepResult:
        """One optimisation step over ``grad_accum_steps`` micro-batches; see the module docstring."""
        accum = self.config.grad_accum_steps
        self.train_model.train()
        loss_sum = torch.zeros((), device=self.device)
        tokens = 0
        for i in range(accum):
            batch = next(self._batches)
            tokens += count_tokens(batch)
            batch = self._to_device(batch)
            with self._maybe_no_sync(last=i == accum - 1):  # DDP averages gradients after the last one only
                with autocast(self.device, self.dtype):
                    loss = self.train_model(**batch).loss / accum
                loss.backward()  # adds this micro-batch's share to .grad
            loss_sum += loss.detach()
        grad_norm = None
        if self.config.max_grad_norm is not None:
            grad_norm = nn.utils.clip_grad_norm_(self.model.parameters(), self.config.max_grad_norm)
        lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.state.step += 1
        return StepResult(loss_sum, tokens, lr, grad_norm)

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Mean loss over ``eval_batches`` batches of the eval loader (all processes' together), each batch
        weighted by its targets (:func:`loss_weight`), and its perplexity; the model's mode is restored."""
        if self.eval_loader is None:
            raise ValueError("eval_loader: expected a DataLoader to evaluate on, got None")
        was_training = self.model.training
        self.model.eval()
        totals = torch.zeros(2, dtype=torch.float64, device=self.device)  # (sum of weight * loss, sum of weight)
        for i, batch in enumerate(self.eval_loader):
            if i == self.config.eval_batches:
                break
            weight = loss_weight(batch)
            with autocast(self.device, self.dtype):
                loss = self.model(**self._to_device(batch)).loss
            totals += torch.stack([loss.double() * weight, torch.tensor(weight, device=self.device).double()])
        loss_sum, weight_sum = all_reduce_sum(totals).tolist()
        self.model.train(was_training)
        if weight_sum == 0:
            raise ValueError("eval_loader: expected batches with targets, got none")
        return {"eval_loss": loss_sum / weight_sum, "eval_perplexity": perplexity(loss_sum / weight_sum)}

    def save_checkpoint(self, path: str | Path) -> None:
        """Write a checkpoint of this run to ``path`` (rank 0 writes; every process waits for it)."""
        if self.dist.is_main:
            save_checkpoint(path, self.model, self.optimizer, self.scheduler, asdict(self.state))
        barrier()

    def load_checkpoint(self, path: str | Path) -> None:
        """Continue the run saved at ``path``: weights, optimizer, schedule, random generators, step and data
        position (the train loader must come from :func:`~tlcourse.training.make_loader`)."""
        if not isinstance(getattr(self.train_loader, "sampler", None), ResumableSampler):
            raise ValueError("train_loader: expected a loader from make_loader (its sampler skips the batches a "
                             f"checkpoint has seen), got {type(self.train_loader).__name__} with sampler "
                             f"{type(getattr(self.train_loader, 'sampler', None)).__name__}")
        self.state = TrainState(**load_checkpoint(path, self.model, self.optimizer, self.scheduler))
        self._batches = self._micro_batches()

    def _micro_batches(self) -> Iterator[dict[str, Tensor]]:
        """Batches of the train loader forever, epoch after epoch, from the data position in ``self.state``."""
        sampler = getattr(self.train_loader, "sampler", None)
        while True:
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(self.state.epoch)  # the epoch's order
            if isinstance(sampler, ResumableSampler):
                sampler.start = self.state.batches_in_epoch * self.train_loader.batch_size
            for batch in self.train_loader:
                self.state.batches_in_epoch += 1
                yield batch
            if self.state.batches_in_epoch == 0:  # a whole epoch without a batch
                raise ValueError("train_loader: expected at least one batch per epoch, got none")
            self.state.epoch += 1
            self.state.batches_in_epoch = 0

    def _maybe_no_sync(self, last: bool) -> contextlib.AbstractContextManager:
        """DDP's ``no_sync()`` (keep gradients local) except on a step's last micro-batch; else a no-op."""
        no_sync = getattr(self.train_model, "no_sync", None)
        return no_sync() if no_sync is not None and not last else contextlib.nullcontext()

    def _to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        return {k: v.to(self.device, non_blocking=True) if isinstance(v, Tensor) else v for k, v in batch.items()}

    def _record(self, window: list[StepResult], seconds: float) -> dict[str, Any]:
        """A history record for the steps in ``window``, losses and tokens summed over processes."""
        loss_sum = sum(r.loss for r in window).double()
        tokens = torch.tensor(sum(r.tokens for r in window), dtype=torch.float64, device=self.device)
        loss_sum, tokens = all_reduce_sum(torch.stack([loss_sum, tokens])).tolist()
        tokens_per_s = tokens / seconds
        last = window[-1]
        return {
            "step": self.state.step,
            "train_loss": loss_sum / (len(window) * self.dist.world_size),
            "lr": last.lr,
            "grad_norm": None if last.grad_norm is None else float(last.grad_norm),
            "tokens_per_s": tokens_per_s,
            "mfu": mfu(self.n_params, tokens_per_s, self.device),
        }
