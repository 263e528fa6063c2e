"""``load_or_train``: the first call trains and saves, the second loads the same weights without training; another
key (config or data) trains again. The cache lives in a temporary ``TLCOURSE_CACHE``."""

from __future__ import annotations

from dataclasses import asdict

import pytest
import torch
from tiny import params, tiny_gpt2, token_data

from tlcourse.training import TrainConfig, Trainer, fingerprint, load_or_train, make_loader, trained_path


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TLCOURSE_CACHE", str(tmp_path))


class CountingTrain:
    """``train(model)`` for load_or_train: a real Trainer run, counted."""

    def __init__(self, config: TrainConfig, data):
        self.config, self.data, self.calls, self.trained = config, data, 0, None

    def __call__(self, model):
        self.calls += 1
        history = Trainer(model, self.config, make_loader(self.data, batch_size=4)).train()
        self.trained = params(model)
        return history


def _key(config: TrainConfig, data) -> dict:
    return {"train": asdict(config), "data": fingerprint(*(example["input_ids"] for example in data))}


def test_second_call_loads_instead_of_training():
    config, data = TrainConfig(max_steps=3, lr=1e-2, log_every=1, device="cpu", progress=False), token_data(8)
    train = CountingTrain(config, data)
    model, history = load_or_train("tiny-gpt2", _key(config, data), tiny_gpt2, train)
    assert train.calls == 1 and len(history) == 3
    assert (trained_path("tiny-gpt2", _key(config, data)) / "model.safetensors").is_file()

    again, history_again = load_or_train("tiny-gpt2", _key(config, data), lambda: tiny_gpt2(seed=9), train)
    assert train.calls == 1  # not trained again
    assert not again.training and history_again == history
    for name, expected in train.trained.items():
        assert torch.equal(dict(again.named_parameters())[name], expected), name


def test_another_key_trains_again():
    config, data = TrainConfig(max_steps=2, device="cpu", progress=False), token_data(8)
    train = CountingTrain(config, data)
    load_or_train("tiny-gpt2", _key(config, data), tiny_gpt2, train)
    load_or_train("tiny-gpt2", _key(TrainConfig(max_steps=2, lr=1e-3, device="cpu", progress=False), data),
                  tiny_gpt2, train)
    load_or_train("tiny-gpt2", _key(config, token_data(8, seed=4)), tiny_gpt2, train)
    assert train.calls == 3


def test_errors():
    with pytest.raises(TypeError, match="key: expected a dict of JSON values, got list"):
        load_or_train("x", [], tiny_gpt2, lambda model: [])
    with pytest.raises(TypeError, match="build_model: expected a function returning a torch.nn.Module, got int"):
        load_or_train("x", {}, lambda: 3, lambda model: [])
    with pytest.raises(TypeError, match="tensors: expected torch.Tensor values, got list"):
        fingerprint([1, 2])
