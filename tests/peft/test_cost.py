"""training_cost: trainable share, gradient, optimiser-state and activation bytes measured from the tensors, peak
memory, the time of a step and of its parts.

The expected bytes come from the model's trainable parameters and PyTorch's documented optimiser state: AdamW keeps
``exp_avg`` and ``exp_avg_sq`` (one value each per trained value) and a 0-d float32 ``step`` per trained tensor,
SGD with momentum a ``momentum_buffer``, plain SGD nothing; gradients are one value per trained value. So AdamW in
float32 costs ``3 x 4`` bytes per trained value plus 4 bytes per trained tensor, whatever the PEFT configuration.
"""

from __future__ import annotations

import functools

import pytest
import torch

from tlcourse.finetuning import SequenceClassifier
from tlcourse.models import BertConfig, BertForSequenceClassification, BertModel
from tlcourse.peft.adapters import AdapterConfig, add_adapters, set_active_adapter
from tlcourse.peft.bitfit import apply_bitfit
from tlcourse.peft.cost import TrainingCost, saved_activation_bytes, training_cost

TINY = dict(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=16, num_labels=3)
BATCH = {"input_ids": torch.tensor([[2, 15, 37, 8, 91, 3], [2, 44, 3, 60, 3, 0]]),
         "attention_mask": torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0]]),
         "labels": torch.tensor([0, 2])}


def _full():
    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(**TINY))


def _bitfit():
    model = _full()
    apply_bitfit(model)
    return model


def _adapters(placement: str):
    torch.manual_seed(0)
    model = SequenceClassifier(BertModel(BertConfig(**TINY)), num_labels=3)
    add_adapters(model, "task", AdapterConfig(placement))
    set_active_adapter(model, "task")
    return model


CONFIGS = {"full": _full, "bitfit": _bitfit, "houlsby": functools.partial(_adapters, "houlsby"),
           "pfeiffer": functools.partial(_adapters, "pfeiffer")}


def _trainable(model) -> tuple[int, int]:
    """(trained values, trained tensors) of the model."""
    tensors = [p for p in model.parameters() if p.requires_grad]
    return sum(p.numel() for p in tensors), len(tensors)


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_adamw_float32_costs_three_copies_of_the_trainable_parameters(config):
    model = CONFIGS[config]()
    values, tensors = _trainable(model)
    total = sum(p.numel() for p in model.parameters())
    cost = training_cost(model, BATCH, steps=2)
    assert isinstance(cost, TrainingCost) and cost.optimizer == "AdamW"
    assert (cost.trainable_parameters, cost.total_parameters) == (values, total)
    assert cost.trainable_share == pytest.approx(values / total)
    assert cost.gradient_bytes == 4 * values
    assert cost.optimizer_state_bytes == 2 * 4 * values + 4 * tensors
    assert cost.gradient_bytes + cost.optimizer_state_bytes == 3 * 4 * values + 4 * tensors
    assert cost.step_seconds > 0 and min(cost.forward_seconds, cost.backward_seconds, cost.optimizer_seconds) > 0
    assert str(cost).startswith(f"{values:,} of {total:,} parameters trainable")


def test_peft_configurations_cost_a_small_share():
    full = training_cost(_full(), BATCH, steps=1)
    for config in ("bitfit", "houlsby", "pfeiffer"):
        cost = training_cost(CONFIGS[config](), BATCH, steps=1)
        assert cost.trainable_share < 0.25 * full.trainable_share
        assert cost.optimizer_state_bytes < 0.25 * full.optimizer_state_bytes


def test_other_optimisers_and_what_is_really_there():
    model = _bitfit()
    values, _ = _trainable(model)
    momentum = training_cost(model, BATCH, lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9), steps=1)
    assert momentum.optimizer_state_bytes == 4 * values and momentum.optimizer == "SGD"
    plain = training_cost(model, BATCH, lambda ps: torch.optim.SGD(ps, lr=0.1), steps=1)
    assert plain.optimizer_state_bytes == 0 and plain.gradient_bytes == 4 * values
    # a trainable parameter the loss never reaches has no gradient and no state: measured, not estimated
    torch.manual_seed(0)
    model = SequenceClassifier(BertModel(BertConfig(**TINY)), num_labels=3, pooling="cls")  # the pooler is unused
    values, tensors = _trainable(model)
    pooler = sum(p.numel() for p in model.encoder.pooler.parameters())
    cost = training_cost(model, BATCH, steps=1)
    assert cost.trainable_parameters == values
    assert cost.gradient_bytes == 4 * (values - pooler)
    assert cost.optimizer_state_bytes == 2 * 4 * (values - pooler) + 4 * (tensors - 2)


def _batch(copies: int) -> dict[str, torch.Tensor]:
    return {k: v.repeat(copies, *(1,) * (v.dim() - 1)) for k, v in BATCH.items()}


def test_activations_are_what_the_backward_pass_keeps():
    full = training_cost(_full(), BATCH, steps=1)
    doubled = training_cost(_full(), _batch(2), steps=1)
    assert full.activation_bytes > 0
    assert 1.8 * full.activation_bytes < doubled.activation_bytes <= 2 * full.activation_bytes  # per example
    # a gradient that stops at the head keeps (almost) nothing of the encoder's forward pass
    head = training_cost(_frozen_but("classifier"), BATCH, steps=1)
    assert head.activation_bytes < 0.05 * full.activation_bytes
    # one trained tensor at the bottom (the word embeddings) makes the gradient flow through every layer
    bottom = training_cost(_frozen_but("word_embeddings"), BATCH, steps=1)
    assert bottom.activation_bytes > 0.5 * full.activation_bytes
    # x (5, 4) for the weight's gradient and y = layer(x) (5, 3) for the square's, in float32; the weight, which
    # autograd keeps for x's gradient when x needs one, is never counted
    layer = torch.nn.Linear(4, 3)
    assert saved_activation_bytes(layer, lambda: (layer(torch.randn(5, 4)) ** 2).sum()) == 5 * 4 * 4 + 5 * 3 * 4
    x = torch.randn(5, 4, requires_grad=True)
    assert saved_activation_bytes(layer, lambda: (layer(x) ** 2).sum()) == 5 * 4 * 4 + 5 * 3 * 4


def _frozen_but(part: str):
    model = _full()
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(part in name)
    return model


def test_mode_restored_gradients_released_and_weights_trained():
    model = _bitfit().eval()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    training_cost(model, BATCH, steps=1, warmup=0)
    assert not model.training
    assert all(p.grad is None for p in model.parameters())
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(model.get_parameter(n).requires_grad for n in changed)


def test_peak_memory_is_reported_honestly_on_cpu():
    cost = training_cost(_bitfit(), BATCH, steps=1)
    assert cost.device == "cpu" and cost.peak_memory_bytes is None
    assert "not measured on cpu" in cost.peak_memory_note


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_peak_memory_on_cuda_covers_weights_gradients_and_state():
    model = _full().cuda()
    weights = sum(p.nbytes for p in model.parameters())
    cost = training_cost(model, BATCH, steps=2)
    assert cost.device.startswith("cuda") and "max_memory_allocated" in cost.peak_memory_note
    assert cost.peak_memory_bytes >= weights + cost.gradient_bytes + cost.optimizer_state_bytes


def test_clear_errors():
    model = _bitfit()
    with pytest.raises(ValueError, match="steps: expected an int >= 1"):
        training_cost(model, BATCH, steps=0)
    with pytest.raises(ValueError, match="are labels in the batch"):
        training_cost(model, {k: v for k, v in BATCH.items() if k != "labels"}, steps=1)
    with pytest.raises(TypeError, match="optimizer_factory"):
        training_cost(model, BATCH, lambda ps: None, steps=1)
    with pytest.raises(TypeError, match="batch: expected a dict"):
        training_cost(model, [BATCH], steps=1)
    model.requires_grad_(False)
    with pytest.raises(ValueError, match="at least one trainable parameter"):
        training_cost(model, BATCH, steps=1)
