"""Exact resume: 6 steps straight equal 3 steps, a checkpoint, a fresh trainer that loads it, and 3 more steps.

Dropout is on, the data is reshuffled every epoch, the checkpoint falls in the middle of an epoch (10 examples,
micro-batches of 2, 2 per step: step 3 ends on the 6th micro-batch, the 1st of epoch 1), and evaluation runs every
2 steps. Parameters, optimizer moments and the logged losses must be identical, bit for bit.
"""

from __future__ import annotations

import torch
from tiny import params, tiny_gpt2, token_data
from torch.utils.data import DataLoader

from tlcourse.models import GPT2LMHeadModel
from tlcourse.training import TrainConfig, Trainer, latest_checkpoint, make_loader


def _trainer(model, **overrides) -> Trainer:
    config = TrainConfig(max_steps=6, grad_accum_steps=2, lr=3e-3, warmup_steps=2, eval_every=2, log_every=1,
                         device="cpu", progress=False, **overrides)
    return Trainer(model, config, make_loader(token_data(10), batch_size=2, seed=5),
                   DataLoader(token_data(4, seed=1), batch_size=2))


def _losses(history) -> list[tuple]:
    return [(r["step"], r["train_loss"], r.get("eval_loss"), r["lr"], r["grad_norm"]) for r in history]


def _assert_identical(got: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert got.keys() == expected.keys()
    for name in expected:
        assert torch.equal(got[name], expected[name]), name


def test_resume_continues_bit_for_bit(tmp_path):
    straight = _trainer(tiny_gpt2(dropout=0.1))
    straight.train()

    saving = _trainer(tiny_gpt2(dropout=0.1), checkpoint_every=3, out_dir=str(tmp_path))
    saving.train()
    _assert_identical(params(saving.model), params(straight.model))  # writing checkpoints changes nothing
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint-6"

    resumed = _trainer(tiny_gpt2(seed=123, dropout=0.1))  # other weights and generators, all to be replaced
    resumed.load_checkpoint(tmp_path / "checkpoint-3")
    assert (resumed.state.step, resumed.state.epoch, resumed.state.batches_in_epoch) == (3, 1, 1)
    resumed.train()
    _assert_identical(params(resumed.model), params(straight.model))
    assert _losses(resumed.state.history) == _losses(straight.state.history)
    for got, expected in zip(resumed.optimizer.state.values(), straight.optimizer.state.values()):
        _assert_identical(got, expected)


def test_checkpoint_weights_are_a_model_checkpoint(tmp_path):
    trainer = _trainer(tiny_gpt2(), checkpoint_every=6, out_dir=str(tmp_path))
    trainer.train()
    loaded = GPT2LMHeadModel.from_pretrained(tmp_path / "checkpoint-6")
    _assert_identical(params(loaded), params(trainer.model))
