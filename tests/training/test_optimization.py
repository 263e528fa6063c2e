"""Weight-decay groups and the learning-rate schedule, against transformers (recipe: same model, same steps).

- ``optimizer_groups`` decays exactly the parameters transformers' ``Trainer.get_decay_parameter_names`` decays
  (everything but biases and LayerNorm weights) on transformers' BERT and GPT-2, each parameter once.
- ``cosine_schedule`` gives the very learning rates of ``get_cosine_schedule_with_warmup`` and, with a floor,
  ``get_cosine_with_min_lr_schedule_with_warmup``, step by step.
"""

from __future__ import annotations

import pytest
import torch

from tlcourse.training import cosine_schedule, optimizer_groups

transformers = pytest.importorskip("transformers")

BERT = dict(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
            max_position_embeddings=16)
GPT2 = dict(vocab_size=50, n_positions=16, n_embd=16, n_layer=2, n_head=2)


@pytest.mark.parametrize("model", [
    transformers.BertForMaskedLM(transformers.BertConfig(**BERT)),
    transformers.GPT2LMHeadModel(transformers.GPT2Config(**GPT2)),
], ids=["bert", "gpt2"])
def test_decay_groups_equal_transformers_trainer(model):
    decay, no_decay = optimizer_groups(model, 0.1)
    expected = set(transformers.Trainer.get_decay_parameter_names(None, model))  # tied weights under each name
    tensors = dict(model.named_parameters(remove_duplicate=False))
    assert {id(p) for p in decay["params"]} == {id(tensors[name]) for name in expected}
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    grouped = decay["params"] + no_decay["params"]
    assert len({id(p) for p in grouped}) == len(grouped) == len(list(model.parameters()))  # tied weights once
    assert model.get_input_embeddings().weight in decay["params"]  # embeddings are >= 2-D: decayed


def test_frozen_parameters_are_left_out():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4), torch.nn.Linear(4, 2))
    model[0].requires_grad_(False)
    decay, no_decay = optimizer_groups(model, 0.01)
    assert [p.shape for p in decay["params"]] == [(2, 4)]
    assert [p.shape for p in no_decay["params"]] == [(4,), (4,), (2,)]
    with pytest.raises(ValueError, match="weight_decay: expected a float >= 0, got -1"):
        optimizer_groups(model, -1)


def _lrs(schedule, steps: int) -> list[float]:
    lrs = []
    for _ in range(steps):
        lrs.append(schedule.optimizer.param_groups[0]["lr"])
        schedule.optimizer.step()
        schedule.step()
    return lrs


def _optimizer() -> torch.optim.Optimizer:
    return torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=3e-4)


@pytest.mark.parametrize("warmup, total", [(0, 10), (3, 20), (7, 7), (5, 101)])
def test_cosine_schedule_equals_transformers(warmup, total):
    ours = _lrs(cosine_schedule(_optimizer(), warmup, total), total + 1)
    theirs = _lrs(transformers.get_cosine_schedule_with_warmup(_optimizer(), warmup, total), total + 1)
    assert ours == theirs


@pytest.mark.parametrize("ratio", [0.1, 0.5, 1.0])
def test_cosine_schedule_floor_equals_transformers_min_lr(ratio):
    ours = _lrs(cosine_schedule(_optimizer(), 4, 30, min_lr_ratio=ratio), 31)
    theirs = _lrs(transformers.get_cosine_with_min_lr_schedule_with_warmup(_optimizer(), 4, 30, min_lr_rate=ratio),
                  31)
    assert ours == theirs
    assert ours[30] == pytest.approx(3e-4 * ratio)


def test_cosine_schedule_stays_at_the_floor_after_total_steps():
    lrs = _lrs(cosine_schedule(_optimizer(), 2, 10, min_lr_ratio=0.1), 16)
    assert lrs[10:] == [pytest.approx(3e-5)] * 6


def test_cosine_schedule_errors():
    with pytest.raises(TypeError, match="optimizer: expected a torch.optim.Optimizer, got list"):
        cosine_schedule([], 1, 10)
    with pytest.raises(ValueError, match="warmup_steps: expected an int >= 0, got -2"):
        cosine_schedule(_optimizer(), -2, 10)
    with pytest.raises(ValueError, match=r"min_lr_ratio: expected a float in \[0, 1\], got 1.5"):
        cosine_schedule(_optimizer(), 1, 10, min_lr_ratio=1.5)
