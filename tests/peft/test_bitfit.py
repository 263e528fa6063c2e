"""BitFit: the official rule on transformers' BertForSequenceClassification and on ours
(docs/reference-semantics.md, "BitFit").

The expected trainable set is written out from the paper's list (b_q, b_k, b_v, b_m1, b_LN1, b_m2, b_m3, b_LN2 per
layer) plus what the official code's substring rule also catches (``embeddings.LayerNorm.bias``,
``pooler.dense.bias``, ``classifier.weight`` and ``.bias``); one SGD step (lr 0.1) must equal the official
``requires_grad`` mask's and leave every other tensor bit for bit as it was, for transformers' model and ours.
"""

from __future__ import annotations

import pytest
import torch
import transformers

from tlcourse.finetuning import SequenceClassifier
from tlcourse.models import BertForSequenceClassification
from tlcourse.models.bert import bert_hf_name
from tlcourse.peft.bitfit import apply_bitfit, bitfit_parameters

TINY = dict(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=16, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, num_labels=3)
IDS = torch.tensor([[2, 15, 37, 8, 91, 3], [2, 44, 3, 60, 3, 0], [2, 7, 3, 0, 0, 0]])
MASK = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]])
LABELS = torch.tensor([0, 2, 1])
PAPER_BIASES = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm")


def _moves(name: str) -> bool:
    """Whether one step must change a trained tensor: all but b_k, whose gradient is zero (adding the same
    q.b_k to every score of a query leaves the softmax unchanged)."""
    return ".key.bias" not in name


def _hf_model():
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(transformers.BertConfig(**TINY))
    with torch.no_grad():  # non-zero biases, so that a step shows in each
        for name, p in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name:
                p.add_(0.1 * torch.randn_like(p))
    return model


def _expected_hf_names() -> set[str]:
    per_layer = {f"bert.encoder.layer.{i}.{c}.bias" for i in range(TINY["num_hidden_layers"]) for c in PAPER_BIASES}
    return per_layer | {"bert.embeddings.LayerNorm.bias", "bert.pooler.dense.bias", "classifier.weight",
                        "classifier.bias"}


def _sgd_step(model, lr: float = 0.1) -> None:
    model.train()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)
    model(IDS, attention_mask=MASK, labels=LABELS).loss.backward()
    optimizer.step()


def test_trainable_set_on_transformers_bert_is_the_official_one():
    model = _hf_model()
    count = apply_bitfit(model)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == _expected_hf_names()
    assert trainable == {n for n, _ in model.named_parameters() if "bias" in n or "classifier" in n}  # official code
    assert not any("LayerNorm.weight" in n for n in trainable)  # LayerNorm gains stay frozen
    assert count.trainable == sum(p.numel() for n, p in model.named_parameters() if n in trainable)
    assert count.total == sum(p.numel() for p in model.parameters())


def test_one_sgd_step_equals_the_official_mask_and_touches_nothing_else():
    ours, official = _hf_model(), _hf_model()
    before = {n: p.detach().clone() for n, p in ours.named_parameters()}
    apply_bitfit(ours)
    for name, p in official.named_parameters():  # benzakenelad/BitFit, _deactivate_relevant_gradients
        p.requires_grad = False
        if any(component in name for component in ["bias", "classifier"]):
            p.requires_grad = True
    _sgd_step(ours)
    _sgd_step(official)
    theirs = dict(official.named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p, theirs[name], atol=1e-7, rtol=0)
        if name not in _expected_hf_names():
            assert torch.equal(p, before[name]), f"{name} changed"
        elif _moves(name):
            assert not torch.equal(p, before[name]), f"{name} did not train"


def test_our_bert_for_sequence_classification_trains_what_transformers_trains(tmp_path):
    hf = _hf_model()
    hf.save_pretrained(tmp_path)
    ours = BertForSequenceClassification.from_pretrained(tmp_path)
    before = {n: p.detach().clone() for n, p in ours.named_parameters()}
    count = apply_bitfit(ours)
    apply_bitfit(hf)
    trainable = {n for n, p in ours.named_parameters() if p.requires_grad}
    assert {ours.hf_name(n) for n in trainable} == _expected_hf_names()
    assert count.trainable == sum(p.numel() for n, p in hf.named_parameters() if p.requires_grad)
    _sgd_step(ours)
    _sgd_step(hf)
    theirs = dict(hf.named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p, theirs[ours.hf_name(name)], atol=1e-6, rtol=1e-5)
        if name not in trainable:
            assert torch.equal(p, before[name]), f"{name} changed"


def test_sequence_classifier_head_plays_the_classifier(tmp_path):
    hf = _hf_model()
    hf.save_pretrained(tmp_path)
    encoder = BertForSequenceClassification.from_pretrained(tmp_path).bert
    torch.manual_seed(1)
    model = SequenceClassifier(encoder, num_labels=3, pooling="pooler")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    apply_bitfit(model)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    encoder_part = {"bert." + bert_hf_name(n[len("encoder."):]) for n in trainable if n.startswith("encoder.")}
    assert encoder_part == _expected_hf_names() - {"classifier.weight", "classifier.bias"}
    assert trainable - {n for n in trainable if n.startswith("encoder.")} == {"head.out.weight", "head.out.bias"}
    _sgd_step(model)
    for name, p in model.named_parameters():
        if name not in trainable:
            assert torch.equal(p, before[name]), f"{name} changed"
        elif _moves(name):
            assert not torch.equal(p, before[name]), f"{name} did not train"


def test_bitfit_parameters_rule_and_errors():
    names = ["layers.0.attn.query.weight", "layers.0.attn.query.bias", "layers.0.ln_1.weight", "pooler.bias",
             "head.dense.weight", "head.out.weight", "lm_head.weight", "classifier.weight", "overhead.weight"]
    assert bitfit_parameters(names) == ["layers.0.attn.query.bias", "pooler.bias", "head.dense.weight",
                                        "head.out.weight", "classifier.weight"]
    with pytest.raises(TypeError, match="names: expected a list"):
        bitfit_parameters("bias")
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module"):
        apply_bitfit(names)
