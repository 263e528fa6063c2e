"""Prompting a frozen LM: continuation scores against transformers' GPT-2 on the same weights, one sequence at a
time and without padding, so batching, padding and cutting a long context cannot hide an error."""

from __future__ import annotations

import pytest
import torch
import transformers

from tlcourse.models import GPT2LMHeadModel
from tlcourse.peft.prompting import continuation_log_probs, strip_verdict

GPT2 = dict(vocab_size=50, n_positions=12, n_embd=16, n_layer=2, n_head=2, bos_token_id=0, eos_token_id=0)


@pytest.fixture(scope="module")
def lm_pair(tmp_path_factory):
    path = tmp_path_factory.mktemp("prompting")
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(**GPT2)).eval()
    with torch.no_grad():
        hf.transformer.wte.weight.mul_(20.0)  # peaked next-token distributions: a wrong position shows
    hf.save_pretrained(path)
    return hf, GPT2LMHeadModel.from_pretrained(path)


def _hf_score(hf, context: list[int], continuation: list[int], room: int = 0) -> float:
    """The score one sequence at a time; a long context keeps the last tokens that leave ``room`` (at least the
    continuation's length) before the end of the model's positions."""
    ids = context[len(context) - min(len(context), GPT2["n_positions"] - max(room, len(continuation))):] + continuation
    start = len(ids) - len(continuation)
    with torch.no_grad():
        log_probs = hf(torch.tensor([ids])).logits[0].log_softmax(-1)  # (T, V)
    return sum(log_probs[start + i - 1, token].item() for i, token in enumerate(continuation))


def test_scores_equal_transformers_one_sequence_at_a_time(lm_pair):
    hf, ours = lm_pair
    g = torch.Generator().manual_seed(1)
    contexts = [torch.randint(1, 50, (n,), generator=g).tolist() for n in (1, 3, 7, 10, 11, 20)]  # 20: cut
    ends = [torch.randint(1, 50, (n,), generator=g).tolist() for n in (1, 2, 4, 1, 1, 3)]
    scores = continuation_log_probs(ours, contexts, ends, batch_size=4)  # two batches, padded
    expected = torch.tensor([_hf_score(hf, c, e) for c, e in zip(contexts, ends)])
    torch.testing.assert_close(scores, expected, atol=1e-4, rtol=0)
    assert expected.std() > 1.0  # the scores differ: a shifted position would show


def test_continuations_after_one_context_equal_transformers(lm_pair):
    """The verdicts of a prompt share its cached keys and values; a long context is cut once, to leave room for its
    longest continuation, and every continuation after it sees the same tokens."""
    hf, ours = lm_pair
    g = torch.Generator().manual_seed(2)
    short, long = torch.randint(1, 50, (4,), generator=g).tolist(), torch.randint(1, 50, (10,), generator=g).tolist()
    ends = [torch.randint(1, 50, (n,), generator=g).tolist() for n in (1, 2, 4, 3, 1, 5, 2)]
    contexts = [short] * 4 + [long] * 3
    scores = continuation_log_probs(ours, contexts, ends, batch_size=1)
    expected = torch.tensor([_hf_score(hf, c, e, room=4 if c is short else 5) for c, e in zip(contexts, ends)])
    torch.testing.assert_close(scores, expected, atol=1e-4, rtol=0)


def test_continuation_errors(lm_pair):
    _, ours = lm_pair
    with pytest.raises(ValueError, match="contexts, continuations: expected as many contexts as non-empty"):
        continuation_log_probs(ours, [[1, 2]], [[]])
    with pytest.raises(ValueError, match="contexts, continuations"):
        continuation_log_probs(ours, [[1, 2], [3]], [[4]])
    with pytest.raises(ValueError, match="continuations: expected each shorter than the model's 12 positions, got one "
                                         "of 12 tokens"):
        continuation_log_probs(ours, [[1]], [[2] * 12])
    with pytest.raises(ValueError, match="contexts: expected at least one token in each context"):
        continuation_log_probs(ours, [[]], [[2]])


def test_strip_verdict():
    assert strip_verdict("Last week, I bought a hat. It was red. I would buy it again.") == (
        "Last week, I bought a hat. It was red.")
    with pytest.raises(ValueError, match="review: expected at least two sentences"):
        strip_verdict("I would buy it again.")
