"""Differential and invariant tests of tlcourse's bottleneck adapters
(docs/reference-semantics.md, "Bottleneck adapters").

AdapterHub's ``adapters`` does not install next to transformers 5, so it cannot be called here; instead the oracle
is a plain transformers ``BertModel`` with the same weights whose ``BertSelfOutput`` / ``BertOutput`` forwards are
replaced by AdapterHub's closed forms, written here with torch only (Houlsby: ``LN(x + h + f(h))`` after attention
and FFN, SiLU; Pfeiffer: ``LN(x + h + f(LN(h + x)))`` after the FFN, ReLU), fed with our adapters' randomised
weights. Also: identity at the start, parameter counts from ``2md + m + d``, switching between named adapters, and
a frozen base that stays bit for bit the same through training. Expected values come from the formulas, never our
output.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
import transformers

from tlcourse.finetuning import SequenceClassifier
from tlcourse.models import BertConfig, BertModel, GPT2Config, GPT2Model
from tlcourse.peft.adapters import (
    Adapter,
    AdapterConfig,
    adapter_forward,
    adapter_names,
    adapter_parameter_count,
    add_adapters,
    set_active_adapter,
)

TINY = dict(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=16, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
IDS = torch.tensor([[2, 15, 37, 8, 91, 3], [2, 44, 3, 60, 3, 0], [2, 7, 3, 0, 0, 0]])
MASK = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]])
TYPES = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 0], [0, 0, 0, 0, 0, 0]])
VALID = MASK.bool()
ACT = {"houlsby": F.silu, "pfeiffer": F.relu}  # AdapterHub's "swish" is SiLU


def _models():
    """A transformers BertModel with perturbed biases and LayerNorms, and ours with the same weights."""
    torch.manual_seed(0)
    hf = transformers.BertModel(transformers.BertConfig(**TINY, attn_implementation="eager")).eval()
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name:
                p.add_(0.1 * torch.randn_like(p))
    ours = BertModel(BertConfig(**TINY)).eval()
    ours.load_hf_state(hf.state_dict())
    return hf, ours


def _randomise(model, name: str, seed: int) -> None:
    """Draw every parameter of adapter ``name`` from N(0, 0.3), so that each term of the formula shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param_name, p in model.named_parameters():
            if f"_adapters.{name}." in param_name:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))


def _bottleneck(z, adapter, act):
    """AdapterHub's f: the bottleneck without its residual, from the adapter's weights."""
    return F.linear(act(F.linear(z, adapter.down.weight, adapter.down.bias)), adapter.up.weight, adapter.up.bias)


def _patch(hf, ours, name: str, placement: str) -> None:
    """Replace the forwards of hf's BertSelfOutput (Houlsby only) and BertOutput by AdapterHub's formulas."""
    act = ACT[placement]
    for hf_layer, block in zip(hf.encoder.layer, ours.layers):
        outputs = [(hf_layer.output, block.mlp_adapters[name])]
        if placement == "houlsby":
            outputs.append((hf_layer.attention.output, block.attn_adapters[name]))
        for module, adapter in outputs:
            def forward(hidden_states, input_tensor, module=module, adapter=adapter):
                h, x, LN = module.dropout(module.dense(hidden_states)), input_tensor, module.LayerNorm
                if placement == "houlsby":
                    return LN(x + h + _bottleneck(h, adapter, act))
                return LN(x + h + _bottleneck(LN(h + x), adapter, act))

            module.forward = forward


def _hidden(model):
    return model(IDS, attention_mask=MASK, token_type_ids=TYPES).last_hidden_state


@pytest.mark.parametrize("placement", ["houlsby", "pfeiffer"])
@pytest.mark.parametrize("reduction_factor", [16, 4, 12.5])
def test_adapters_equal_the_closed_forms_on_transformers_bert(placement, reduction_factor):
    hf, ours = _models()
    base = _hidden(hf)
    add_adapters(ours, "task", AdapterConfig(placement, reduction_factor=reduction_factor))
    set_active_adapter(ours, "task")
    _randomise(ours, "task", seed=1)
    _patch(hf, ours, "task", placement)
    with torch.no_grad():
        expected, got = _hidden(hf), _hidden(ours)
    torch.testing.assert_close(got[VALID], expected[VALID], atol=1e-5, rtol=1e-4)
    assert (expected - base)[VALID].abs().max() > 1e-2  # the adapters do change the output


@pytest.mark.parametrize("placement", ["houlsby", "pfeiffer"])
def test_default_adapter_is_exactly_the_pretrained_model_at_the_start(placement):
    _, ours = _models()
    base = _hidden(ours)
    add_adapters(ours, "task", AdapterConfig(placement))
    set_active_adapter(ours, "task")
    for name, p in ours.named_parameters():
        if ".task.up." in name or name.endswith(".down.bias"):
            assert p.eq(0).all(), name
    assert torch.equal(_hidden(ours), base)


def test_inits_follow_adapterhub():
    torch.manual_seed(0)
    d, m = 256, 64
    zero_up, bert, houlsby = (Adapter(d, m, init=init) for init in ("zero_up", "bert", "houlsby"))
    for adapter in (zero_up, bert, houlsby):
        assert adapter.down.bias.eq(0).all() and adapter.up.bias.eq(0).all()
    # zero_up (AdapterHub's "mam_adapter"): kaiming-uniform down, U(-1/sqrt(d), 1/sqrt(d)); zero up
    assert zero_up.up.weight.eq(0).all()
    assert zero_up.down.weight.abs().max() <= 1 / math.sqrt(d)
    assert zero_up.down.weight.std().item() == pytest.approx(1 / math.sqrt(3 * d), rel=0.1)
    # bert (AdapterHub's default): N(0, 0.02) both ways, so not an identity
    for w in (bert.down.weight, bert.up.weight):
        assert w.std().item() == pytest.approx(0.02, rel=0.1)
    h = torch.randn(3, d)
    assert not torch.allclose(bert(h), h, atol=1e-3)
    # houlsby: N(0, 0.01) truncated at two standard deviations
    for w in (houlsby.down.weight, houlsby.up.weight):
        assert w.abs().max() <= 0.02 and w.std().item() == pytest.approx(0.0088, rel=0.1)


@pytest.mark.parametrize("placement, per_layer", [("houlsby", 2), ("pfeiffer", 1)])
def test_parameter_counts(placement, per_layer):
    _, ours = _models()
    d, L, rf = TINY["hidden_size"], TINY["num_hidden_layers"], 8
    m = d // rf
    one = 2 * m * d + m + d
    assert adapter_parameter_count(d, m) == one
    added = add_adapters(ours, "task", AdapterConfig(placement, reduction_factor=rf))
    names = [n for n, _ in ours.named_parameters() if ".task." in n]
    assert added == sum(p.numel() for n, p in ours.named_parameters() if ".task." in n) == L * per_layer * one
    assert len(names) == 4 * L * per_layer
    shapes = {n.split(".task.")[1]: tuple(p.shape) for n, p in ours.named_parameters() if ".task." in n}
    assert shapes == {"down.weight": (m, d), "down.bias": (m,), "up.weight": (d, m), "up.bias": (d,)}
    assert (".attn_adapters.task." in " ".join(names)) == (placement == "houlsby")
    assert AdapterConfig(reduction_factor=64).bottleneck_size(d) == 1  # at least 1, as AdapterHub


def test_switching_between_named_adapters():
    _, ours = _models()
    base = _hidden(ours)
    add_adapters(ours, "pf", AdapterConfig("pfeiffer"))
    add_adapters(ours, "ho", AdapterConfig("houlsby", reduction_factor=8))
    assert adapter_names(ours) == ["pf", "ho"]
    _randomise(ours, "pf", seed=1)
    _randomise(ours, "ho", seed=2)
    for name, placement in (("pf", "pfeiffer"), ("ho", "houlsby"), ("pf", "pfeiffer")):
        count = set_active_adapter(ours, name)
        hf_patched, _ = _models()
        _patch(hf_patched, ours, name, placement)
        with torch.no_grad():
            torch.testing.assert_close(_hidden(ours)[VALID], _hidden(hf_patched)[VALID], atol=1e-5, rtol=1e-4)
        trainable = {n for n, p in ours.named_parameters() if p.requires_grad}
        assert trainable == {n for n, _ in ours.named_parameters() if f"_adapters.{name}." in n}
        assert count.trainable == sum(p.numel() for n, p in ours.named_parameters() if n in trainable)
    assert set_active_adapter(ours, None).trainable == 0
    assert torch.equal(_hidden(ours), base)  # None: the pretrained model, bit for bit


def test_training_changes_only_the_active_adapter_and_the_head():
    _, encoder = _models()
    torch.manual_seed(1)
    model = SequenceClassifier(encoder, num_labels=3, pooling="mean")  # every position feeds the loss
    add_adapters(model, "pf", AdapterConfig("pfeiffer", reduction_factor=4))
    add_adapters(model, "ho", AdapterConfig("houlsby", reduction_factor=4))
    labels = torch.tensor([0, 2, 1])

    def train(name: str) -> None:
        count = set_active_adapter(model, name)
        trained = {n for n, p in model.named_parameters() if p.requires_grad}
        assert trained == {n for n, _ in model.named_parameters() if n.startswith("head.") or f".{name}." in n}
        assert count.trainable == sum(p.numel() for n, p in model.named_parameters() if n in trained)
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
        model.train()
        for _ in range(3):
            optimizer.zero_grad()
            model(IDS, MASK, TYPES, labels=labels).loss.backward()
            optimizer.step()
        model.eval()
        model.zero_grad(set_to_none=True)
        changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
        assert changed <= trained, f"frozen parameters changed: {sorted(changed - trained)}"
        ups = {n for n in trained if ".up." in n or n.startswith("head.")}  # a ReLU unit may stay dead
        assert ups <= changed and len(ups) == 2 * len(model.encoder.layers) * (1 + (name == "ho")) + 2

    train("pf")
    set_active_adapter(model, "pf", task_heads=())  # the adapter alone, head frozen too
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {
        n for n, _ in model.named_parameters() if ".pf." in n}
    pf_hidden = _hidden(model.encoder)
    train("ho")  # another task's adapter trains on the same frozen model ...
    set_active_adapter(model, "pf")
    assert torch.equal(_hidden(model.encoder), pf_hidden)  # ... and leaves the first one as it was


def test_adapter_forward_is_the_bottleneck_with_residual():
    g = torch.Generator().manual_seed(0)
    h, residual = torch.randn(2, 5, 8, generator=g), torch.randn(2, 5, 8, generator=g)
    wd, bd, wu, bu = (torch.randn(*s, generator=g) for s in ((3, 8), (3,), (8, 3), (8,)))
    expected = h + (torch.clamp(h @ wd.T + bd, min=0) @ wu.T + bu)
    torch.testing.assert_close(adapter_forward(h, wd, bd, wu, bu), expected, atol=1e-6, rtol=1e-6)
    z = h @ wd.T + bd
    expected = residual + (z * torch.sigmoid(z)) @ wu.T + bu
    got = adapter_forward(h, wd, bd, wu, bu, non_linearity="swish", residual=residual)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-6)


def test_clear_errors():
    h, wd, bd, wu, bu = torch.randn(2, 8), torch.randn(3, 8), torch.randn(3), torch.randn(8, 3), torch.randn(8)
    with pytest.raises(ValueError, match="down_weight: expected a tensor \\(m, 8\\)"):
        adapter_forward(h, wd.T, bd, wu, bu)
    with pytest.raises(ValueError, match="up_weight: expected a tensor of shape \\(8, 3\\)"):
        adapter_forward(h, wd, bd, wu.T, bu)
    with pytest.raises(ValueError, match="non_linearity"):
        adapter_forward(h, wd, bd, wu, bu, non_linearity="softmax")
    with pytest.raises(ValueError, match="m: expected a positive int"):
        adapter_parameter_count(8, 0)
    with pytest.raises(ValueError, match="placement"):
        AdapterConfig("parallel")
    with pytest.raises(ValueError, match="reduction_factor"):
        AdapterConfig(reduction_factor=0)
    with pytest.raises(ValueError, match="init"):
        AdapterConfig(init="lora")
    _, ours = _models()
    add_adapters(ours, "task")
    with pytest.raises(ValueError, match="already has"):
        add_adapters(ours, "task")
    with pytest.raises(ValueError, match="name: expected letters"):
        add_adapters(ours, "a.b")
    with pytest.raises(ValueError, match="one of the model's adapters \\['task'\\]"):
        set_active_adapter(ours, "other")
    with pytest.raises(TypeError, match="TransformerBlock"):
        add_adapters(torch.nn.Linear(4, 4), "task")
    gpt2 = GPT2Model(GPT2Config(vocab_size=50, n_positions=16, n_embd=16, n_layer=1, n_head=2))
    with pytest.raises(ValueError, match="post-LN"):
        add_adapters(gpt2, "task")
