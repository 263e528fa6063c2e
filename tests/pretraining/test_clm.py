"""Causal-LM data and loss: pack_blocks equals run_clm's group_texts, the explicitly shifted loss equals
transformers' GPT2LMHeadModel(labels=...) on the same weights, perplexity = exp(mean loss)."""

from __future__ import annotations

import math
import random
from itertools import chain

import pytest
import torch

from tlcourse.models import GPT2LMHeadModel, causal_lm_loss
from tlcourse.pretraining import clm_loss, evaluate_perplexity, pack_blocks, perplexity, shift_for_clm

transformers = pytest.importorskip("transformers")

TINY = dict(vocab_size=97, n_positions=32, n_embd=32, n_layer=2, n_head=4, n_inner=128, resid_pdrop=0.0,
            embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0)


def group_texts(examples: dict[str, list[list[int]]], block_size: int) -> dict[str, list[list[int]]]:
    """transformers' examples/pytorch/language-modeling/run_clm.py ``group_texts`` (the oracle)."""
    concatenated_examples = {k: list(chain(*examples[k])) for k in examples.keys()}
    total_length = len(concatenated_examples[list(examples.keys())[0]])
    total_length = (total_length // block_size) * block_size
    result = {k: [t[i: i + block_size] for i in range(0, total_length, block_size)]
              for k, t in concatenated_examples.items()}
    result["labels"] = result["input_ids"].copy()
    return result


@pytest.mark.parametrize("seed", range(6))
def test_pack_blocks_equals_run_clm_group_texts(seed):
    rng = random.Random(seed)
    docs = [[rng.randrange(1, 50) for _ in range(rng.randint(0, 40))] for _ in range(rng.randint(1, 12))]
    block_size = rng.randint(1, 16)
    with_eos = [doc + [0] for doc in docs[:-1]] + [docs[-1]]  # the end-of-text token between documents
    expected = group_texts({"input_ids": with_eos}, block_size)["input_ids"]
    blocks = pack_blocks(docs, block_size, eos_token_id=0)
    assert blocks.dtype == torch.long and blocks.shape == (len(expected), block_size)
    assert blocks.tolist() == expected


def test_pack_blocks_shorter_than_a_block_and_bad_block_size():
    assert pack_blocks([[1, 2], [3]], 8, eos_token_id=0).shape == (0, 8)
    with pytest.raises(ValueError, match="block_size: expected a positive int, got 0"):
        pack_blocks([[1, 2]], 0, eos_token_id=0)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A random tiny transformers GPT-2 (biases and LayerNorms perturbed) and ours loaded from its checkpoint."""
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(**TINY)).eval()
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if name.endswith("bias") or ".ln_" in name:
                p.add_(0.1 * torch.randn_like(p))
    path = tmp_path_factory.mktemp("gpt2")
    hf.save_pretrained(path)
    return hf, GPT2LMHeadModel.from_pretrained(path)


def test_shifted_loss_equals_transformers_gpt2_loss(models):
    hf, ours = models
    ids = torch.randint(1, 97, (3, 12), generator=torch.Generator().manual_seed(1))
    labels = ids.clone()
    labels[1, 7:] = -100  # positions without a loss
    expected = hf(ids, labels=labels).loss
    inputs, targets = shift_for_clm(ids)
    assert torch.equal(targets, ids[:, 1:]) and torch.equal(inputs, ids[:, :-1])
    _, label_targets = shift_for_clm(labels)
    with torch.no_grad():
        ours_loss = clm_loss(ours(inputs).logits, label_targets)
        theirs_on_shifted = clm_loss(hf(inputs).logits, label_targets)
        unshifted = causal_lm_loss(ours(ids).logits, labels)
    for loss in (ours_loss, theirs_on_shifted, unshifted):
        torch.testing.assert_close(loss, expected, atol=1e-5, rtol=0)


def test_perplexity_is_exp_of_the_mean_loss(models):
    hf, ours = models
    blocks = pack_blocks([list(range(1, 60)), list(range(60, 97)), list(range(5, 50))], 10, eos_token_id=0)
    assert blocks.shape == (14, 10)
    with torch.no_grad():
        expected = math.exp(hf(blocks, labels=blocks).loss.item())
    ours.train()
    for model in (ours, hf):  # batches of 4, 4, 4, 2: a token-weighted mean, not a mean of batch means
        assert math.isclose(evaluate_perplexity(model, blocks, batch_size=4), expected, rel_tol=1e-5)
    assert ours.training  # the mode is restored
    ours.eval()
    assert perplexity(torch.tensor(0.0)) == 1.0 and math.isclose(perplexity(math.log(97)), 97)


def test_clm_errors():
    with pytest.raises(ValueError, match="input_ids: expected at least 2 positions"):
        shift_for_clm(torch.tensor([[5]]))
    with pytest.raises(ValueError, match=r"targets: expected an integer tensor of shape \(1, 3\)"):
        clm_loss(torch.zeros(1, 3, 5), torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="blocks: expected at least one block"):
        evaluate_perplexity(torch.nn.Linear(1, 1), torch.zeros(0, 4, dtype=torch.long), batch_size=2)
