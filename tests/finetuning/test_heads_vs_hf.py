"""Differential tests: the fine-tuning classifiers equal transformers' BertForSequenceClassification and
BertForTokenClassification with the same weights (logits, losses, gradients), and pooling ignores padding."""

from __future__ import annotations

import pytest
import torch
import transformers

from tlcourse.finetuning import SequenceClassifier, TokenClassifier, classification_head, mean_pooling
from tlcourse.models import BertConfig, BertModel

TINY = dict(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=16)
IDS = torch.tensor([[2, 15, 37, 8, 91, 3], [2, 44, 3, 60, 3, 0], [2, 7, 3, 0, 0, 0]])
MASK = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]])
TYPES = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 0], [0, 0, 0, 0, 0, 0]])


def _hf(arch: str, num_labels: int):
    torch.manual_seed(0)
    model = getattr(transformers, arch)(transformers.BertConfig(**TINY, num_labels=num_labels)).eval()
    with torch.no_grad():  # biases and LayerNorms perturbed, so a missing term shows
        for name, p in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name:
                p.add_(0.1 * torch.randn_like(p))
    return model


def _ours(hf, cls, **options):
    """Our classifier on an encoder holding the HF model's ``bert`` weights, its head the HF ``classifier``."""
    encoder = BertModel(BertConfig(**TINY), add_pooling_layer=hasattr(hf.bert, "pooler") and hf.bert.pooler is not None)
    encoder.load_hf_state({k[len("bert."):]: v for k, v in hf.state_dict().items() if k.startswith("bert.")})
    model = cls(encoder, hf.config.num_labels, **options).eval()
    model.head.out.load_state_dict(hf.classifier.state_dict())
    return model


@pytest.mark.parametrize("num_labels", [2, 3])
def test_sequence_classifier_with_the_pooler_is_bert_for_sequence_classification(num_labels):
    hf = _hf("BertForSequenceClassification", num_labels)
    ours = _ours(hf, SequenceClassifier, pooling="pooler")
    labels = torch.tensor([0, num_labels - 1, 1])
    expected = hf(input_ids=IDS, attention_mask=MASK, token_type_ids=TYPES, labels=labels)
    actual = ours(IDS, MASK, TYPES, labels=labels)
    torch.testing.assert_close(actual.logits, expected.logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(actual.loss, expected.loss, atol=1e-6, rtol=0)
    expected.loss.backward()
    actual.loss.backward()
    torch.testing.assert_close(ours.head.out.weight.grad, hf.classifier.weight.grad, atol=1e-6, rtol=0)
    torch.testing.assert_close(ours.encoder.embeddings.word_embeddings.weight.grad,
                               hf.bert.embeddings.word_embeddings.weight.grad, atol=1e-5, rtol=0)


def test_token_classifier_is_bert_for_token_classification():
    hf = _hf("BertForTokenClassification", 5)
    ours = _ours(hf, TokenClassifier)
    labels = torch.randint(5, IDS.shape, generator=torch.Generator().manual_seed(0))
    labels[MASK == 0] = -100
    labels[:, 0] = -100  # [CLS] and non-first sub-words are ignored too
    expected = hf(input_ids=IDS, attention_mask=MASK, token_type_ids=TYPES, labels=labels)
    actual = ours(IDS, MASK, TYPES, labels=labels)
    valid = MASK.bool()
    torch.testing.assert_close(actual.logits[valid], expected.logits[valid], atol=1e-5, rtol=0)
    torch.testing.assert_close(actual.loss, expected.loss, atol=1e-6, rtol=0)


def test_the_real_minilm_classifier_equals_transformers(minilm_dir):
    hf = transformers.BertForSequenceClassification.from_pretrained(minilm_dir, num_labels=3).eval()
    encoder = BertModel.from_pretrained(minilm_dir)
    ours = SequenceClassifier(encoder, 3, pooling="pooler").eval()
    ours.head.out.load_state_dict(hf.classifier.state_dict())
    ids = torch.randint(1000, 30000, (2, 12), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    torch.testing.assert_close(ours(ids, mask).logits, hf(input_ids=ids, attention_mask=mask).logits,
                               atol=1e-5, rtol=0)


def test_classification_head_is_a_softmax_layer_equal_to_a_linear_then_softmax():
    g = torch.Generator().manual_seed(0)
    y, W, b = torch.randn(4, 8, generator=g), torch.randn(3, 8, generator=g), torch.randn(3, generator=g)
    linear = torch.nn.Linear(8, 3)
    with torch.no_grad():
        linear.weight.copy_(W)
        linear.bias.copy_(b)
    probabilities = classification_head(y, W, b)
    torch.testing.assert_close(probabilities, torch.softmax(linear(y), -1))
    torch.testing.assert_close(probabilities.sum(-1), torch.ones(4))


@pytest.mark.parametrize("pooling", ["cls", "mean", "max"])
def test_pooled_vectors_do_not_change_with_extra_padding(pooling):
    torch.manual_seed(0)
    encoder = BertModel(BertConfig(**TINY)).eval()
    model = SequenceClassifier(encoder, 2, pooling=pooling).eval()
    ids, mask = IDS[:2, :5], MASK[:2, :5]
    padded_ids = torch.cat([ids, torch.zeros(2, 9, dtype=ids.dtype)], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(2, 9, dtype=mask.dtype)], dim=1)
    torch.testing.assert_close(model(padded_ids, padded_mask).logits, model(ids, mask).logits, atol=1e-5, rtol=0)


def test_mean_pooling_without_the_mask_would_change_with_padding():
    # the property the mask buys: averaging over all positions moves with the padding
    h = torch.randn(1, 6, 4, generator=torch.Generator().manual_seed(0))
    mask = torch.tensor([[1, 1, 1, 0, 0, 0]])
    torch.testing.assert_close(mean_pooling(h, mask), h[:, :3].mean(1))
    assert not torch.allclose(mean_pooling(h, torch.ones_like(mask)), h[:, :3].mean(1))


def test_bad_arguments_are_clear_errors():
    encoder = BertModel(BertConfig(**TINY), add_pooling_layer=False)
    with pytest.raises(ValueError, match="pooling: 'pooler' needs an encoder with a pooling layer"):
        SequenceClassifier(encoder, 2, pooling="pooler")
    with pytest.raises(ValueError, match="pooling: expected one of"):
        SequenceClassifier(encoder, 2, pooling="first")
    with pytest.raises(TypeError, match="encoder: expected a tlcourse.models.BertModel"):
        SequenceClassifier(torch.nn.Linear(2, 2), 2)
    with pytest.raises(ValueError, match=r"attention_mask: expected a tensor of shape \(1, 3\)"):
        mean_pooling(torch.zeros(1, 3, 2), torch.ones(1, 4))
    with pytest.raises(ValueError, match=r"weight: expected a tensor \(C, 2\)"):
        classification_head(torch.zeros(1, 2), torch.zeros(3, 5), torch.zeros(3))
    with pytest.raises(ValueError, match=r"labels: expected an integer tensor of shape \(3,\)"):
        SequenceClassifier(encoder, 2)(IDS, MASK, labels=torch.zeros(3, 6, dtype=torch.long))
