"""Differential tests: tlcourse.models.BertForPreTraining equals transformers' BertForPreTraining (v5).

A random tiny transformers model (biases, LayerNorms, the MLM bias and the NSP head perturbed, so a missing term
would show) goes through checkpoints both ways; masked-LM and NSP logits, the pooler, the loss with -100 labels
and every gradient must agree within atol 1e-5 on a right-padded pair batch.
"""

from __future__ import annotations

import pytest
import torch

from tlcourse.models import BertConfig, BertForMaskedLM, BertForPreTraining, read_checkpoint

transformers = pytest.importorskip("transformers")

ATOL = 1e-5
TINY = dict(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=16, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
IDS = torch.tensor([[2, 15, 37, 3, 91, 3], [2, 44, 3, 60, 3, 0], [2, 7, 3, 9, 3, 0]])
MASK = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 0]])
TYPES = torch.tensor([[0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 0], [0, 0, 0, 1, 1, 0]])
VALID = MASK.bool()
LABELS = torch.tensor([[-100, 15, -100, -100, 91, -100], [-100, 44, -100, 60, -100, -100],
                       [-100, -100, -100, 9, -100, -100]])
NEXT = torch.tensor([0, 1, 1])


def _hf_model(impl: str = "eager"):
    config = transformers.BertConfig(**TINY, attn_implementation=impl)
    torch.manual_seed(0)
    model = transformers.BertForPreTraining(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name:
                p.add_(0.1 * torch.randn_like(p))
    return model


def _assert_same(ours, theirs) -> None:
    torch.testing.assert_close(ours.prediction_logits[VALID], theirs.prediction_logits[VALID], atol=ATOL, rtol=0)
    torch.testing.assert_close(ours.seq_relationship_logits, theirs.seq_relationship_logits, atol=ATOL, rtol=0)
    torch.testing.assert_close(ours.loss, theirs.loss, atol=ATOL, rtol=0)


@pytest.mark.parametrize("impl", ["eager", "sdpa"])
def test_transformers_checkpoint_loads_into_ours_with_equal_outputs_and_gradients(tmp_path, impl):
    hf = _hf_model(impl)
    hf.save_pretrained(tmp_path)
    ours = BertForPreTraining.from_pretrained(tmp_path)
    got = ours(IDS, MASK, TYPES, labels=LABELS, next_sentence_label=NEXT)
    expected = hf(IDS, attention_mask=MASK, token_type_ids=TYPES, labels=LABELS, next_sentence_label=NEXT,
                  output_hidden_states=True)
    _assert_same(got, expected)
    torch.testing.assert_close(got.pooler_output, hf.bert.pooler(expected.hidden_states[-1]), atol=ATOL, rtol=0)
    got.loss.backward()
    expected.loss.backward()
    hf_params = dict(hf.named_parameters(remove_duplicate=False))
    for name, param in ours.named_parameters():
        torch.testing.assert_close(param.grad, hf_params[ours.hf_name(name)].grad, atol=ATOL, rtol=0, msg=name)


def test_our_checkpoint_loads_into_transformers_with_equal_outputs(tmp_path):
    torch.manual_seed(1)
    ours = BertForPreTraining(BertConfig(**TINY)).eval()
    with torch.no_grad():
        for name, p in ours.named_parameters():
            if name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    ours.save_pretrained(tmp_path)
    _, state = read_checkpoint(tmp_path)
    assert {"cls.predictions.bias", "cls.predictions.transform.dense.weight", "cls.seq_relationship.weight",
            "cls.seq_relationship.bias", "bert.pooler.dense.weight"} <= set(state)
    assert "cls.predictions.decoder.weight" not in state  # tied: saved once, as the word embeddings
    hf = transformers.BertForPreTraining.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        _assert_same(ours(IDS, MASK, TYPES, labels=LABELS, next_sentence_label=NEXT),
                     hf(IDS, attention_mask=MASK, token_type_ids=TYPES, labels=LABELS, next_sentence_label=NEXT))


def test_one_label_gives_its_own_loss_where_transformers_gives_none(tmp_path):
    hf = _hf_model()
    hf.save_pretrained(tmp_path)
    ours = BertForPreTraining.from_pretrained(tmp_path)
    with torch.no_grad():
        mlm_only = ours(IDS, MASK, TYPES, labels=LABELS)
        nsp_only = ours(IDS, MASK, TYPES, next_sentence_label=NEXT)
        theirs = hf(IDS, attention_mask=MASK, token_type_ids=TYPES, labels=LABELS)
    assert theirs.loss is None and mlm_only.nsp_loss is None and nsp_only.mlm_loss is None
    expected_mlm = torch.nn.functional.cross_entropy(theirs.prediction_logits.flatten(0, 1), LABELS.flatten())
    expected_nsp = torch.nn.functional.cross_entropy(theirs.seq_relationship_logits, NEXT)
    torch.testing.assert_close(mlm_only.loss, expected_mlm, atol=ATOL, rtol=0)
    torch.testing.assert_close(nsp_only.loss, expected_nsp, atol=ATOL, rtol=0)
    assert ours(IDS, MASK, TYPES).loss is None


def test_masked_lm_checkpoint_gives_the_same_mlm_logits_and_a_new_nsp_head(tmp_path):
    torch.manual_seed(2)
    mlm = BertForMaskedLM(BertConfig(**TINY)).eval()
    mlm.save_pretrained(tmp_path)
    with pytest.warns(UserWarning, match="cls.seq_relationship.weight"):
        ours = BertForPreTraining.from_pretrained(tmp_path)
    assert ours.decoder.weight is ours.bert.embeddings.word_embeddings.weight
    with torch.no_grad():
        torch.testing.assert_close(ours(IDS, MASK, TYPES).logits, mlm(IDS, MASK, TYPES).logits, atol=0, rtol=0)


def test_next_sentence_label_is_checked():
    model = BertForPreTraining(BertConfig(**TINY))
    with pytest.raises(ValueError, match=r"next_sentence_label: expected an integer tensor of shape \(3,\)"):
        model(IDS, MASK, TYPES, next_sentence_label=torch.tensor([0, 1]))
