"""Training that people can read: one loop for our models and transformers', on a CPU or GPUs.

- :class:`TrainConfig` and :class:`Trainer`: gradient accumulation, clipping, AdamW with decay on the >= 2-D
  weights (:func:`optimizer_groups`), warmup + cosine (:func:`cosine_schedule`), bf16 autocast on a GPU,
  evaluation with perplexity, a ``tqdm`` bar, a history with tokens/s (and MFU on a GPU) that
  :func:`plot_history` draws, checkpoints that resume bit for bit.
- :func:`make_loader`: shuffled, resumable batches, split over processes under torchrun.
- :mod:`~tlcourse.training.distributed`: DistributedDataParallel through torchrun (:func:`init_distributed`).
- :func:`load_or_train`: a notebook trains a model once and loads it from the cache afterwards.

The tests in ``tests/training`` prove a few steps equal to a hand-written PyTorch loop, the schedule and the
weight-decay groups equal to transformers', resumed runs equal to uninterrupted ones, and 2 processes (DDP over
gloo) equal to one process on the same global batch.
"""

from tlcourse.training.cache import fingerprint, load_or_train, trained_path
from tlcourse.training.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    load_weights,
    save_checkpoint,
    save_weights,
)
from tlcourse.training.config import TrainConfig
from tlcourse.training.data import ResumableSampler, make_loader
from tlcourse.training.device import autocast, resolve_device, resolve_dtype
from tlcourse.training.distributed import DistInfo, cleanup_distributed, dist_info, init_distributed, wrap_ddp
from tlcourse.training.history import plot_history
from tlcourse.training.optimizer import make_optimizer, optimizer_groups
from tlcourse.training.rng import rng_state, seed_everything, set_rng_state
from tlcourse.training.schedule import cosine_lr_factor, cosine_schedule
from tlcourse.training.throughput import PEAK_BF16_FLOPS, count_parameters, count_tokens, mfu, peak_flops
from tlcourse.training.trainer import StepResult, Trainer, TrainState, loss_weight

__all__ = [
    "PEAK_BF16_FLOPS",
    "DistInfo",
    "ResumableSampler",
    "StepResult",
    "TrainConfig",
    "TrainState",
    "Trainer",
    "autocast",
    "cleanup_distributed",
    "cosine_lr_factor",
    "cosine_schedule",
    "count_parameters",
    "count_tokens",
    "dist_info",
    "fingerprint",
    "init_distributed",
    "latest_checkpoint",
    "load_checkpoint",
    "load_or_train",
    "load_weights",
    "loss_weight",
    "make_loader",
    "make_optimizer",
    "mfu",
    "optimizer_groups",
    "peak_flops",
    "plot_history",
    "resolve_device",
    "resolve_dtype",
    "rng_state",
    "save_checkpoint",
    "save_weights",
    "seed_everything",
    "set_rng_state",
    "trained_path",
    "wrap_ddp",
]
