"""The torchrun side of ``test_distributed.py``: ``torchrun --nproc_per_node 2 ddp_worker.py OUT``.

Each process (gloo, CPU) joins the group, then

1. backward of the loss on its half of ``GLOBAL_BATCH`` through DDP: the gradients it is left with are the
   average over both processes;
2. trains with :class:`Trainer` on its shard of ``TRAIN_DATA`` (micro-batches of 2, so 4 over both processes),
   checkpointing at the end.

Rank 0 writes the gradients, parameters and history to ``OUT/result.pt``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from tiny import params, tiny_gpt2, token_data
from torch.utils.data import DataLoader, default_collate

from tlcourse.training import TrainConfig, Trainer, cleanup_distributed, init_distributed, make_loader, wrap_ddp

GLOBAL_BATCH = default_collate(token_data(8, seed=2))
TRAIN_DATA = token_data(16)
EVAL_DATA = token_data(6, seed=1)
MICRO_BATCH = 4  # over all processes
SEED = 7


def train_config(out_dir: str | None = None) -> TrainConfig:
    """3 steps of 2 micro-batches (3 x 8 = 24 examples: the second epoch reshuffled), clipped, evaluated."""
    return TrainConfig(max_steps=3, grad_accum_steps=2, lr=3e-3, warmup_steps=1, max_grad_norm=0.5, log_every=1,
                       eval_every=3, device="cpu", progress=False, checkpoint_every=3 if out_dir else 0,
                       out_dir=out_dir)


def main(out: Path) -> None:
    info = init_distributed()
    torch.set_num_threads(1)
    model = tiny_gpt2()
    half = GLOBAL_BATCH["input_ids"].shape[0] // info.world_size
    rows = slice(info.rank * half, (info.rank + 1) * half)
    ddp = wrap_ddp(model, torch.device("cpu"))  # kept alive: its hooks average the gradients during backward
    ddp(**{k: v[rows] for k, v in GLOBAL_BATCH.items()}).loss.backward()
    grads = {name: p.grad for name, p in model.named_parameters()}

    loader = make_loader(TRAIN_DATA, batch_size=MICRO_BATCH // info.world_size, seed=SEED)
    trainer = Trainer(tiny_gpt2(), train_config(str(out)), loader, DataLoader(EVAL_DATA, batch_size=3))
    history = trainer.train()
    if info.is_main:
        torch.save({"world_size": info.world_size, "grads": grads, "params": params(trainer.model),
                    "history": history}, out / "result.pt")
    cleanup_distributed()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
