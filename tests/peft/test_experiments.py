"""The 07_peft comparison: every method trains only what it should, and takes off again to leave the pretrained
encoder bit for bit (frozen means untouched, under AdamW with weight decay too; docs/reference-semantics.md,
"Frozen parameters")."""

from __future__ import annotations

import copy

import pytest
import torch

from tlcourse.data import world_sentiment
from tlcourse.finetuning import FineTuneConfig, fine_tune, load_backbone
from tlcourse.peft.experiments import METHODS, SIZES, PeftRun, backbone_after, kept, kept_sentences, prepared


@pytest.fixture(scope="module")
def backbone():
    return load_backbone("world-bert-scratch")


def _trained(method: str, backbone):
    r = PeftRun(method, backbone="world-bert-scratch")
    pretrained = copy.deepcopy(backbone.encoder)
    model, collator = prepared(r, copy.deepcopy(backbone))
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    trainable = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    config = FineTuneConfig(epochs=1, min_steps=3, lr=1e-2, weight_decay=0.1, progress=False)
    fine_tune(model, world_sentiment(16, "train"), collator, config)
    return r, model, pretrained, frozen, trainable


@pytest.mark.parametrize("method", list(METHODS))
def test_training_moves_only_the_trainable_parameters(backbone, method):
    _, model, _, frozen, trainable = _trained(method, backbone)
    after = dict(model.named_parameters())
    assert trainable and all(torch.equal(after[n], t) for n, t in frozen.items())
    assert any(not torch.equal(after[n], t) for n, t in trainable.items())
    if method == "full":  # everything but BERT's pooler, which mean pooling does not read
        assert set(frozen) == {"encoder.pooler.weight", "encoder.pooler.bias"}


@pytest.mark.parametrize("method", list(METHODS))
def test_taking_the_method_off_leaves_the_pretrained_encoder(backbone, method):
    """Adapters switched off, LoRA unloaded, prompts dropped: the pretrained weights, bit for bit, and its
    sentence vectors unchanged; full fine-tuning and BitFit change the encoder."""
    r, model, pretrained, _, _ = _trained(method, backbone)
    left = backbone_after(r, model)
    state = left.state_dict()
    same = all(torch.equal(state[k], v) for k, v in pretrained.state_dict().items())
    assert same == (method not in ("full", "bitfit"))
    scores = kept(pretrained, left, kept_sentences(20), backbone)
    if same:
        assert scores == {"cosine": pytest.approx(1.0, abs=1e-6), "neighbours": 1.0}
    else:
        assert scores["cosine"] < 0.999
    if method == "lora":  # merging writes the update into the weights
        query = "layers.0.attn.query.weight"
        merged = backbone_after(r, model, merged=True).state_dict()
        assert not torch.equal(merged[query], pretrained.state_dict()[query])


def test_peft_run_sizes_and_errors():
    assert PeftRun("lora").size == SIZES["lora"] == 8 and PeftRun("full").size is None
    assert PeftRun("lora") == PeftRun("lora", size=8)  # one cache entry
    assert PeftRun("bitfit").task_run.lr == METHODS["bitfit"]
    with pytest.raises(ValueError, match="method: expected one of"):
        PeftRun("ia3")
    with pytest.raises(ValueError, match="size: expected None for method 'full', got 4"):
        PeftRun("full", size=4)
    with pytest.raises(ValueError, match="size: expected a positive int, got 0"):
        PeftRun("prompt", size=0)
