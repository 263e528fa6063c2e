"""Differential tests: tlcourse's LoRA equals peft's on the same weights (docs/reference-semantics.md, "LoRA").

Layer level against peft's ``lora.Linear``; model level against ``get_peft_model`` on transformers'
BertForSequenceClassification and GPT2LMHeadModel holding the same weights (ours load them from the transformers
checkpoint): logits unmerged, merged, unmerged again and unloaded, the trainable set, training steps, and peft's
adapter files in both directions. Expected values come from peft or from the formulas, never from our output.
"""

from __future__ import annotations

import copy
import json
import math
import re

import peft
import pytest
import torch
import transformers
from peft.tuners.tuners_utils import check_target_module_exists
from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as PEFT_DEFAULTS
from safetensors.torch import load_file
from torch import nn

from tlcourse.finetuning import SequenceClassifier
from tlcourse.models import BertConfig, BertForSequenceClassification, BertModel, GPT2Config, GPT2LMHeadModel
from tlcourse.peft.lora import (
    DEFAULT_TARGET_MODULES,
    LoraConfig,
    LoRALinear,
    apply_lora,
    find_modules,
    lora_forward,
    lora_layers,
    lora_state_dict,
    merge,
    merge_and_unload,
    merge_lora,
    unload,
    unmerge,
)
from tlcourse.peft.lora_files import load_lora, save_lora

BERT = dict(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=16, num_labels=3)
GPT2 = dict(vocab_size=100, n_positions=16, n_embd=32, n_layer=2, n_head=4, bos_token_id=0, eos_token_id=0)
IDS = torch.tensor([[2, 15, 37, 8, 91, 3], [2, 44, 3, 60, 3, 0]])
MASK = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0]])
TOL = dict(atol=1e-4, rtol=1e-4)  # peft's own merge test


def _perturbed(model: nn.Module, seed: int) -> nn.Module:
    """Biases and LayerNorms moved off their init, so a missing term shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name or "ln_" in name:
                p.add_(0.1 * torch.randn(p.shape, generator=g))
    return model.eval()


@pytest.fixture
def bert_pair(tmp_path):
    """A transformers BertForSequenceClassification and ours with the same weights."""
    torch.manual_seed(0)
    hf = _perturbed(transformers.BertForSequenceClassification(transformers.BertConfig(**BERT)), 1)
    hf.save_pretrained(tmp_path / "base")
    return hf, BertForSequenceClassification.from_pretrained(tmp_path / "base")


@pytest.fixture
def gpt2_pair(tmp_path):
    torch.manual_seed(0)
    hf = _perturbed(transformers.GPT2LMHeadModel(transformers.GPT2Config(**GPT2)), 2)
    hf.save_pretrained(tmp_path / "base")
    return hf, GPT2LMHeadModel.from_pretrained(tmp_path / "base")


_BERT_NAMES = [(r"\.layers\.(\d+)\.attn\.(query|key|value)(\.|$)", r".encoder.layer.\1.attention.self.\2\3"),
               (r"\.layers\.(\d+)\.attn\.out(\.|$)", r".encoder.layer.\1.attention.output.dense\2"),
               (r"\.layers\.(\d+)\.fc_in(\.|$)", r".encoder.layer.\1.intermediate.dense\2"),
               (r"\.layers\.(\d+)\.fc_out(\.|$)", r".encoder.layer.\1.output.dense\2"),
               (r"\.pooler(\.|$)", r".pooler.dense\1")]


def _hf_name(name: str) -> str:
    """Our BERT classifier's names in transformers' spelling, written out here rather than taken from tlcourse."""
    for pattern, replacement in _BERT_NAMES:
        name = re.sub(pattern, replacement, name)
    return name


def _peft_name(name: str) -> str:
    """A peft parameter name without the wrapper parts: ``base_model.model.``, the adapter name, ``base_layer``."""
    name = name.removeprefix("base_model.model.")
    return name.replace(".modules_to_save.default", "").replace(".default", "").replace(".base_layer", "")


def _copy_adapters_from_peft(ours: nn.Module, peft_model: nn.Module) -> None:
    """Copy peft's LoRA A/B and modules_to_save weights into our BERT by name."""
    theirs = {_peft_name(n): p for n, p in peft_model.named_parameters() if p.requires_grad}
    with torch.no_grad():
        for name, p in ours.named_parameters():
            if p.requires_grad:
                p.copy_(theirs[_hf_name(name)])


def _random_(tensors, seed: int) -> None:
    """Random values (as ``init_lora_weights=False`` gives), so merged and base models differ."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in tensors:
            t.copy_(0.1 * torch.randn(t.shape, generator=g))


# ---------------------------------------------------------------------------------------------- layer level

def _peft_linear(base: nn.Linear, r: int, alpha: float, **options) -> nn.Module:
    config = peft.LoraConfig(r=r, lora_alpha=alpha, init_lora_weights=False, **options)
    return peft.tuners.lora.Linear(copy.deepcopy(base), "default", config=config, r=r, lora_alpha=alpha)


@pytest.mark.parametrize("use_rslora", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_layer_equals_peft_lora_linear(use_rslora, bias):
    torch.manual_seed(0)
    base = nn.Linear(16, 12, bias=bias)
    theirs = _peft_linear(base, 4, 16, use_rslora=use_rslora)
    ours = LoRALinear(copy.deepcopy(base), r=4, alpha=16, use_rslora=use_rslora)
    assert ours.scaling == theirs.scaling["default"] == (8.0 if use_rslora else 4.0)
    A, B = theirs.lora_A["default"].weight, theirs.lora_B["default"].weight
    with torch.no_grad():
        ours.lora_A.weight.copy_(A)
        ours.lora_B.weight.copy_(B)
    x = torch.randn(3, 5, 16)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-6, rtol=0)
    torch.testing.assert_close(lora_forward(x, base.weight, base.bias, A, B, ours.scaling), theirs(x),
                               atol=1e-6, rtol=0)
    expected_weight = base.weight + ours.scaling * B @ A
    torch.testing.assert_close(merge_lora(base.weight, A, B, ours.scaling), expected_weight, atol=1e-6, rtol=0)
    torch.testing.assert_close(ours.delta_weight(), theirs.get_delta_weight("default"), atol=1e-6, rtol=0)
    ours.merge()
    theirs.merge()
    assert ours.merged and theirs.merged
    torch.testing.assert_close(ours.base.weight, theirs.base_layer.weight, atol=1e-6, rtol=0)
    torch.testing.assert_close(ours.base.weight, expected_weight, atol=1e-6, rtol=0)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-6, rtol=0)
    ours.merge()  # merging twice does nothing
    torch.testing.assert_close(ours.base.weight, expected_weight, atol=1e-6, rtol=0)
    ours.unmerge()
    torch.testing.assert_close(ours.base.weight, base.weight, atol=1e-6, rtol=0)


def test_dropout_acts_on_the_adapter_input_only():
    torch.manual_seed(0)
    base = nn.Linear(16, 12)
    theirs = _peft_linear(base, 4, 8, lora_dropout=0.5)
    ours = LoRALinear(copy.deepcopy(base), r=4, alpha=8, dropout=0.5)
    with torch.no_grad():
        ours.lora_A.weight.copy_(theirs.lora_A["default"].weight)
        ours.lora_B.weight.copy_(theirs.lora_B["default"].weight)
    x = torch.randn(4, 16)
    torch.manual_seed(1)
    expected = theirs.train()(x)
    torch.manual_seed(1)
    torch.testing.assert_close(ours.train()(x), expected, atol=1e-6, rtol=0)
    torch.manual_seed(1)
    mask = nn.functional.dropout(torch.ones_like(x), 0.5)  # the same draw: x * mask on the branch only
    A, B = ours.lora_A.weight, ours.lora_B.weight
    torch.testing.assert_close(expected, base(x) + (x * mask) @ A.T @ B.T * ours.scaling, atol=1e-6, rtol=0)
    torch.testing.assert_close(ours.eval()(x), theirs.eval()(x), atol=1e-6, rtol=0)


def test_init_is_kaiming_uniform_a_and_zero_b():
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(512, 256), r=64)
    A = layer.lora_A.weight
    assert torch.equal(layer.lora_B.weight, torch.zeros(256, 64))
    assert A.abs().max() <= 1 / math.sqrt(512)
    assert abs(A.std().item() - 1 / math.sqrt(3 * 512)) < 0.1 / math.sqrt(3 * 512)
    x = torch.randn(3, 512)
    assert torch.equal(layer(x), layer.base(x))  # B = 0: the base layer
    assert not layer.base.weight.requires_grad and A.requires_grad and layer.lora_B.weight.requires_grad


# ------------------------------------------------------------------------------------------ target matching

@pytest.mark.parametrize("targets", [("query", "value"), ("attn.value", "layers.1.fc_in"), r".*\.1\.attn\.(query|key)",
                                     ("classifier",), ("dense",)])
def test_target_matching_is_peft_rule(targets):
    model = BertForSequenceClassification(BertConfig(**BERT))
    linears = {name for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    expected = set()
    for name in linears:  # peft's rule on our names and on transformers' names (written out by hand here)
        hf = _hf_name(name)
        config = peft.LoraConfig(target_modules=list(targets) if isinstance(targets, tuple) else targets)
        if check_target_module_exists(config, name) or check_target_module_exists(config, hf):
            expected.add(name)
    assert set(find_modules(model, targets)) & linears == expected
    assert expected  # each case selects something


def test_default_targets_are_peft_defaults():
    assert DEFAULT_TARGET_MODULES[BertConfig] == tuple(PEFT_DEFAULTS["bert"])
    assert DEFAULT_TARGET_MODULES[GPT2Config] == tuple(PEFT_DEFAULTS["gpt2"])
    torch.manual_seed(0)
    encoder = BertModel(BertConfig(**BERT))
    model = apply_lora(SequenceClassifier(encoder, 3), LoraConfig(modules_to_save=("head",)))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {f"encoder.layers.{i}.attn.{m}.lora_{ab}.weight" for i in range(2) for m in ("query", "value")
                         for ab in "AB"} | {"head.out.weight", "head.out.bias"}


# --------------------------------------------------------------------------------------------- model level

def _peft_bert(hf, **options):
    config = peft.LoraConfig(r=4, lora_alpha=16, init_lora_weights=False, task_type="SEQ_CLS", **options)
    return peft.get_peft_model(copy.deepcopy(hf), config).eval()


def test_bert_logits_unmerged_merged_unloaded_equal_peft(bert_pair):
    hf, ours = bert_pair
    base_logits = hf(input_ids=IDS, attention_mask=MASK).logits
    theirs = _peft_bert(hf)
    _random_([p for n, p in theirs.named_parameters() if "modules_to_save" in n], 3)  # a trained head
    apply_lora(ours, LoraConfig(r=4, alpha=16, modules_to_save=("classifier",)))
    _copy_adapters_from_peft(ours, theirs)
    expected = theirs(input_ids=IDS, attention_mask=MASK).logits
    assert not torch.allclose(expected, base_logits, **TOL)
    torch.testing.assert_close(ours(IDS, MASK).logits, expected, **TOL)
    before = {n: t.clone() for n, t in ours.state_dict().items()}
    merge(ours)
    assert all(layer.merged for layer in lora_layers(ours).values())
    torch.testing.assert_close(ours(IDS, MASK).logits, expected, **TOL)
    unmerge(ours)
    for name, t in ours.state_dict().items():
        torch.testing.assert_close(t, before[name], atol=1e-6, rtol=0)
    torch.testing.assert_close(ours(IDS, MASK).logits, expected, **TOL)
    merge_and_unload(ours)
    assert not lora_layers(ours)
    assert set(ours.state_dict()) == set(BertForSequenceClassification(BertConfig(**BERT)).state_dict())
    torch.testing.assert_close(ours(IDS, MASK).logits, expected, **TOL)
    torch.testing.assert_close(ours(IDS, MASK).logits, theirs.merge_and_unload()(IDS, MASK).logits, **TOL)


def test_trainable_names_equal_peft(bert_pair):
    hf, ours = bert_pair
    theirs = _peft_bert(hf)
    apply_lora(ours, LoraConfig(r=4, alpha=16, modules_to_save=("classifier",)))
    expected = {_peft_name(n) for n, p in theirs.named_parameters() if p.requires_grad}
    assert {_hf_name(n) for n, p in ours.named_parameters() if p.requires_grad} == expected
    assert set(lora_state_dict(ours)) == {n for n, p in ours.named_parameters() if p.requires_grad}


def test_training_moves_only_lora_and_head_and_follows_peft(bert_pair):
    hf, ours = bert_pair
    theirs = _peft_bert(hf)
    apply_lora(ours, LoraConfig(r=4, alpha=16, modules_to_save=("classifier",)))
    _copy_adapters_from_peft(ours, theirs)
    before = {n: t.clone() for n, t in ours.state_dict().items()}
    labels = torch.tensor([0, 2])
    for model, forward in ((ours, lambda: ours(IDS, MASK, labels=labels).loss),
                           (theirs, lambda: theirs(input_ids=IDS, attention_mask=MASK, labels=labels).loss)):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)  # all parameters: frozen ones get no gradient
        for _ in range(3):
            optimizer.zero_grad()
            forward().backward()
            optimizer.step()
    trainable = {n for n, p in ours.named_parameters() if p.requires_grad}
    for name, t in ours.state_dict().items():
        if name in trainable:
            assert not torch.equal(t, before[name]), f"{name} is trainable but did not move"
        else:
            assert torch.equal(t, before[name]), f"{name} is frozen but changed"
    torch.testing.assert_close(ours(IDS, MASK).logits, theirs(input_ids=IDS, attention_mask=MASK).logits, **TOL)


# ------------------------------------------------------------------------------------------- adapter files

def test_save_lora_is_read_by_peft(bert_pair, tmp_path):
    hf, ours = bert_pair
    config = LoraConfig(r=4, alpha=16, use_rslora=True, modules_to_save=("classifier",))
    apply_lora(ours, config)
    _random_([p for p in ours.parameters() if p.requires_grad], 4)
    assert not torch.allclose(ours(IDS, MASK).logits, hf(input_ids=IDS, attention_mask=MASK).logits, **TOL)
    save_lora(ours, tmp_path / "ours", config)
    theirs = peft.PeftModel.from_pretrained(copy.deepcopy(hf), tmp_path / "ours").eval()
    torch.testing.assert_close(theirs(input_ids=IDS, attention_mask=MASK).logits, ours(IDS, MASK).logits, **TOL)
    _peft_bert(hf, use_rslora=True).save_pretrained(tmp_path / "peft")  # the same adapter, saved by peft
    expected = {k: v.shape for k, v in load_file(tmp_path / "peft" / "adapter_model.safetensors").items()}
    assert {k: v.shape for k, v in load_file(tmp_path / "ours" / "adapter_model.safetensors").items()} == expected


def test_load_lora_reads_peft_save_pretrained(bert_pair, tmp_path):
    hf, ours = bert_pair
    theirs = _peft_bert(hf, lora_dropout=0.1, target_modules=["query", "attention.output.dense"])
    _random_([p for n, p in theirs.named_parameters() if "modules_to_save" in n], 5)
    theirs.save_pretrained(tmp_path)
    load_lora(ours, tmp_path)
    assert not torch.allclose(ours(IDS, MASK).logits, hf(input_ids=IDS, attention_mask=MASK).logits, **TOL)
    assert {_hf_name(n) for n, p in ours.named_parameters() if p.requires_grad} == {
        _peft_name(n) for n, p in theirs.named_parameters() if p.requires_grad}
    torch.testing.assert_close(ours.eval()(IDS, MASK).logits, theirs(input_ids=IDS, attention_mask=MASK).logits,
                               **TOL)


def test_gpt2_c_attn_round_trips_with_peft(gpt2_pair, tmp_path):
    hf, ours = gpt2_pair
    config = LoraConfig(r=4, alpha=16, target_modules=("c_attn", "c_proj"))
    apply_lora(ours, config)
    attn = ours.transformer.h[0].attn
    assert attn.query.lora_A is attn.key.lora_A is attn.value.lora_A  # peft's one A for c_attn
    theirs = peft.get_peft_model(copy.deepcopy(hf), peft.LoraConfig(
        r=4, lora_alpha=16, target_modules=["c_attn", "c_proj"], fan_in_fan_out=True))
    count = sum(p.numel() for p in theirs.parameters() if p.requires_grad)
    assert sum(p.numel() for p in ours.parameters() if p.requires_grad) == count
    _random_([p for p in ours.parameters() if p.requires_grad], 6)
    assert not torch.allclose(ours(IDS).logits, hf(IDS).logits, **TOL)
    save_lora(ours, tmp_path / "ours", config)
    loaded = peft.PeftModel.from_pretrained(copy.deepcopy(hf), tmp_path / "ours").eval()
    torch.testing.assert_close(loaded(IDS).logits, ours(IDS).logits, **TOL)
    merge_and_unload(ours)
    torch.testing.assert_close(loaded.merge_and_unload()(IDS).logits, ours(IDS).logits, **TOL)


def test_gpt2_peft_adapter_loads_trains_alike_and_query_value_only_saves(gpt2_pair, tmp_path):
    hf, ours = gpt2_pair
    theirs = peft.get_peft_model(copy.deepcopy(hf), peft.LoraConfig(r=4, lora_alpha=8, init_lora_weights=False,
                                                                     fan_in_fan_out=True))
    theirs.eval().save_pretrained(tmp_path / "peft")
    load_lora(ours, tmp_path / "peft")
    torch.testing.assert_close(ours.eval()(IDS).logits, theirs(IDS).logits, **TOL)
    assert {n.rsplit(".", 1)[1] for n in lora_layers(ours)} == {"query", "key", "value"}
    for model in (ours, theirs):  # the shared lora_A trains as peft's single c_attn A
        optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
        for _ in range(2):
            optimizer.zero_grad()
            model(input_ids=IDS, labels=IDS).loss.backward()
            optimizer.step()
    torch.testing.assert_close(ours(IDS).logits, theirs(IDS).logits, **TOL)
    fresh = GPT2LMHeadModel.from_pretrained(tmp_path / "base")
    config = LoraConfig(r=2, alpha=4, target_modules=("query", "value"))  # LoRA on q and v only, as the paper
    apply_lora(fresh, config)
    _random_([p for p in fresh.parameters() if p.requires_grad], 7)
    save_lora(fresh, tmp_path / "qv", config)
    saved = load_file(tmp_path / "qv" / "adapter_model.safetensors")
    B = saved["base_model.model.transformer.h.0.attn.c_attn.lora_B.weight"]  # (3 * 32, r): query | key | value
    assert torch.equal(B[32:64], torch.zeros(32, 2))  # the key rows
    loaded = peft.PeftModel.from_pretrained(copy.deepcopy(hf), tmp_path / "qv").eval()
    torch.testing.assert_close(loaded(IDS).logits, fresh(IDS).logits, **TOL)


# ------------------------------------------------------------------------------------------------- errors

def test_bad_arguments_raise_clear_errors(bert_pair, tmp_path):
    _, ours = bert_pair
    with pytest.raises(ValueError, match="r: expected a positive int"):
        LoraConfig(r=0)
    with pytest.raises(ValueError, match="alpha: expected a positive number"):
        LoraConfig(alpha=-1)
    with pytest.raises(ValueError, match="dropout: expected a probability"):
        LoraConfig(dropout=1.0)
    with pytest.raises(TypeError, match="target_modules: expected"):
        LoraConfig(target_modules=5)
    with pytest.raises(TypeError, match="modules_to_save: expected a tuple"):
        LoraConfig(modules_to_save="classifier")
    with pytest.raises(TypeError, match="base: expected an nn.Linear, got Conv1d"):
        LoRALinear(nn.Conv1d(2, 2, 1))
    with pytest.raises(ValueError, match=r"lora_A: expected a tensor \(r, 4\), got shape \(2, 3\)"):
        lora_forward(torch.ones(1, 4), torch.ones(5, 4), None, torch.ones(2, 3), torch.ones(5, 2), 1.0)
    with pytest.raises(ValueError, match=r"x: expected a tensor \(\.\.\., 4\)"):
        lora_forward(torch.ones(1, 3), torch.ones(5, 4), None, torch.ones(2, 4), torch.ones(5, 2), 1.0)
    with pytest.raises(TypeError, match="model: expected an nn.Module"):
        apply_lora("bert")
    with pytest.raises(ValueError, match="target_modules: .* matches none"):
        apply_lora(copy.deepcopy(ours), LoraConfig(target_modules=("c_attn",)))
    with pytest.raises(ValueError, match="target_modules: expected names of nn.Linear layers.*MultiHeadAttention"):
        apply_lora(copy.deepcopy(ours), LoraConfig(target_modules=("attn",)))
    with pytest.raises(ValueError, match="modules_to_save: .* match none"):
        apply_lora(copy.deepcopy(ours), LoraConfig(modules_to_save=("head",)))
    with pytest.raises(ValueError, match="target_modules: expected module names for a Sequential"):
        apply_lora(nn.Sequential(nn.Linear(2, 2)))
    with pytest.raises(ValueError, match="model: expected a model with LoRA layers"):
        save_lora(ours, tmp_path, LoraConfig())
    apply_lora(ours, LoraConfig(r=4))
    with pytest.raises(ValueError, match="model: expected a model without LoRA layers"):
        apply_lora(ours, LoraConfig(r=4))
    with pytest.raises(ValueError, match="config: expected the LoRA layers' r=4"):
        save_lora(ours, tmp_path, LoraConfig(r=8))
    with pytest.raises(TypeError, match="model: expected a tlcourse model with transformers names"):
        save_lora(SequenceClassifier(BertModel(BertConfig(**BERT)), 3), tmp_path, LoraConfig())
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        load_lora(BertForSequenceClassification(BertConfig(**BERT)), tmp_path / "missing")
    save_lora(ours, tmp_path / "dora", LoraConfig(r=4))
    config_file = tmp_path / "dora" / "adapter_config.json"
    config_file.write_text(json.dumps({**json.loads(config_file.read_text()), "use_dora": True}))
    with pytest.raises(ValueError, match="options tlcourse does not implement: {'use_dora': True}"):
        load_lora(BertForSequenceClassification(BertConfig(**BERT)), tmp_path / "dora")


def test_unload_gives_back_the_base_bit_for_bit_as_peft(bert_pair):
    """Unloading without merging: our LoRA layers go, the base weights were never written, and the model (with
    its trained head) computes what peft's ``unload()`` gives, which differs from the LoRA model's output."""
    hf, ours = bert_pair
    theirs = _peft_bert(hf)
    _random_([p for n, p in theirs.named_parameters() if "modules_to_save" in n], 3)
    base = {n: t.clone() for n, t in ours.state_dict().items() if not n.startswith("classifier.")}
    apply_lora(ours, LoraConfig(r=4, alpha=16, modules_to_save=("classifier",)))
    _copy_adapters_from_peft(ours, theirs)
    with_lora = ours(IDS, MASK).logits
    merge(ours)  # unload unmerges first
    unload(ours)
    assert not lora_layers(ours)
    for name, t in base.items():
        torch.testing.assert_close(ours.state_dict()[name], t, atol=1e-6, rtol=0)
    expected = theirs.unload()(input_ids=IDS, attention_mask=MASK).logits
    torch.testing.assert_close(ours(IDS, MASK).logits, expected, **TOL)
    assert not torch.allclose(expected, with_lora, **TOL)
