"""Diverse (group) beam search: equal to golden outputs of transformers 4.51.3, and its defining properties.

transformers 5 runs group beam search only as Hub code (``trust_remote_code``), which cannot run offline, so
``data/diverse_beam_golden.json`` holds the outputs of 4.51.3's local implementation on the checkpoint
``data/tiny-gpt2``, made once by ``make_diverse_beam_golden.py``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from tlcourse.decoding import generate
from tlcourse.models import GPT2LMHeadModel

DATA = Path(__file__).parent / "data"
GOLDEN = json.loads((DATA / "diverse_beam_golden.json").read_text())
ARGUMENTS = ("attention_mask", "max_new_tokens", "num_beams", "num_beam_groups", "diversity_penalty",
             "length_penalty", "early_stopping", "num_return_sequences", "eos_token_id", "pad_token_id")


@pytest.fixture(scope="module")
def model():
    for name, digest in GOLDEN["checkpoint_sha256"].items():
        assert hashlib.sha256((DATA / "tiny-gpt2" / name).read_bytes()).hexdigest() == digest, name
    return GPT2LMHeadModel.from_pretrained(DATA / "tiny-gpt2").eval()


def _ours(model, kwargs: dict, **overrides):
    options = {name: kwargs[name] for name in ARGUMENTS} | overrides
    options["attention_mask"] = torch.tensor(options["attention_mask"])
    return generate(model, torch.tensor(kwargs["input_ids"]), output_scores=True, **options)


def test_the_golden_file_exercises_eos_and_diversity():
    configurations = GOLDEN["configurations"]
    assert GOLDEN["transformers_version"] == "4.51.3" and len(configurations) >= 16
    assert sum(c["stats"]["returned_finished_before_max_new_tokens"] > 0 for c in configurations) >= 8
    assert sum(any(c["stats"]["groups_first_beam_tokens_differ_per_batch_item"]) for c in configurations) >= 8


@pytest.mark.parametrize("case", GOLDEN["configurations"], ids=lambda c: c["name"])
def test_diverse_beam_search_equals_transformers_4_51_3(model, case):
    out = _ours(model, case["generate_kwargs"])
    assert out.sequences.tolist() == case["sequences"]
    # scores reach -50, where float32's 7 digits leave a few 1e-6 of rounding that the thread count can move
    torch.testing.assert_close(out.sequences_scores, torch.tensor(case["sequences_scores"]), atol=1e-5, rtol=1e-6)


@pytest.mark.parametrize("num_groups", [2, 3])
def test_without_penalty_each_group_is_an_independent_beam_search(model, num_groups):
    """With no penalty the groups never interact: each is a beam search of width num_beams / G, so each group
    finds that search's hypotheses and the union of the groups holds G copies of them."""
    case = GOLDEN["configurations"][0]["generate_kwargs"]
    prompt = torch.tensor(case["input_ids"][:1])
    width = 2
    grouped = _ours(model, {**case, "input_ids": prompt.tolist(), "attention_mask": [[1] * prompt.shape[1]]},
                    num_beams=width * num_groups, num_beam_groups=num_groups, diversity_penalty=1e-12,
                    num_return_sequences=width * num_groups, early_stopping=True, length_penalty=0.0)
    single = _ours(model, {**case, "input_ids": prompt.tolist(), "attention_mask": [[1] * prompt.shape[1]]},
                   num_beams=width * num_groups, num_beam_groups=num_groups, diversity_penalty=1e-12,
                   num_return_sequences=width, early_stopping=True, length_penalty=0.0)
    rows = [tuple(r) for r in grouped.sequences.tolist()]
    for row in single.sequences.tolist():
        assert rows.count(tuple(row)) == num_groups


def test_a_large_penalty_makes_the_groups_start_differently(model):
    case = GOLDEN["configurations"][0]["generate_kwargs"]
    out = _ours(model, case, num_beams=3, num_beam_groups=3, diversity_penalty=100.0, num_return_sequences=3)
    prompt_length = len(case["input_ids"][0])
    for item in out.sequences.view(len(case["input_ids"]), 3, -1):
        assert len(set(item[:, prompt_length].tolist())) == 3


def test_the_penalty_is_part_of_the_scores(model):
    """Two groups of one beam, no EOS, no length normalisation: one hypothesis scores its plain log-probability,
    the other its log-probability minus the penalty for every step where it chose the other's token."""
    prompt, penalty, steps = torch.tensor([[9, 22, 14, 18, 16]]), 0.05, 4
    out = generate(model, prompt, max_new_tokens=steps, num_beams=2, num_beam_groups=2, diversity_penalty=penalty,
                   num_return_sequences=2, length_penalty=0.0, output_scores=True)
    with torch.no_grad():
        log_probs = model(out.sequences).logits.log_softmax(-1)[:, prompt.shape[1] - 1:-1]  # (2, steps, V)
    generated = out.sequences[:, prompt.shape[1]:]  # (2, steps)
    plain = log_probs.gather(-1, generated[..., None]).squeeze(-1).sum(-1)  # (2,)
    shared = int((generated[0] == generated[1]).sum())
    assert shared > 0, "the groups never chose the same token: the penalty is not exercised"
    first, second = plain.tolist(), (plain - penalty * shared).tolist()
    assert out.sequences_scores.tolist() in (
        pytest.approx([first[0], second[1]], abs=1e-5), pytest.approx([first[1], second[0]], abs=1e-5))
