"""Two processes under torchrun (DistributedDataParallel over gloo, CPU) equal one process on the global batch.

``ddp_worker.py`` runs in 2 processes; here one process does the same work on the whole global batch:

- the gradients after one backward (each process on half the batch, averaged by DDP) equal the gradients of the
  full batch's loss;
- the Trainer's parameters after 3 steps (accumulation with ``no_sync``, clipping, a reshuffled second epoch,
  each process on its shard from ``make_loader``) equal a single process's with micro-batches twice as large, and
  so do the logged losses and the evaluation;
- only rank 0 wrote the checkpoint, and it holds those parameters.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ddp_worker import EVAL_DATA, GLOBAL_BATCH, MICRO_BATCH, SEED, TRAIN_DATA, train_config
from tiny import params, tiny_gpt2
from torch.utils.data import DataLoader

from tlcourse.models import GPT2LMHeadModel
from tlcourse.training import Trainer, make_loader

WORKER = Path(__file__).with_name("ddp_worker.py")

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="torch.distributed with gloo is not available")


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("ddp")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(WORKER),
               str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, f"torchrun failed:\n{done.stdout}\n{done.stderr}"
    return torch.load(out / "result.pt", weights_only=True), out


def test_gradients_equal_one_process_on_the_global_batch(ddp_run):
    result, _ = ddp_run
    assert result["world_size"] == 2
    model = tiny_gpt2()
    model(**GLOBAL_BATCH).loss.backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(result["grads"][name], p.grad, atol=1e-6, rtol=0,
                                   msg=lambda m, name=name: f"{name}: {m}")


def test_trainer_steps_equal_one_process_on_the_global_batch(ddp_run):
    result, out = ddp_run
    single = Trainer(tiny_gpt2(), train_config(), make_loader(TRAIN_DATA, batch_size=MICRO_BATCH, seed=SEED),
                     DataLoader(EVAL_DATA, batch_size=3))
    history = single.train()
    for name, expected in params(single.model).items():
        torch.testing.assert_close(result["params"][name], expected, atol=1e-6, rtol=0,
                                   msg=lambda m, name=name: f"{name}: {m}")
    for key in ("train_loss", "grad_norm", "lr"):
        assert [r[key] for r in result["history"]] == pytest.approx([r[key] for r in history], abs=1e-6), key
    assert result["history"][-1]["eval_loss"] == pytest.approx(history[-1]["eval_loss"], abs=1e-6)
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint-3", "result.pt"]  # rank 0 wrote, once
    saved = GPT2LMHeadModel.from_pretrained(out / "checkpoint-3")
    for name, tensor in params(saved).items():
        assert torch.equal(tensor, result["params"][name]), name
