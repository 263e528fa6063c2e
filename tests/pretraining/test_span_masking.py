"""SpanBERT span masking: exact budget per row, specials never chosen, geometric span lengths (mean 3.8, at most
10), and one 80/10/10 decision per span."""

from __future__ import annotations

import math

import pytest
import torch

from tlcourse.pretraining import mask_spans, span_length_distribution

SPECIALS = [0, 1, 2, 3, 4]


@pytest.fixture(scope="module")
def masked_batch():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 1000, (64, 512), generator=g)
    ids[:, 0], ids[:, -1], ids[::5, 300:], ids[:, 100] = 2, 3, 0, 3  # [CLS], [SEP], padding, a [SEP] inside
    masked, labels = mask_spans(ids, mask_token_id=4, vocab_size=1000, special_token_ids=SPECIALS, generator=g)
    return ids, masked, labels


def _runs(selected_row: list[bool]) -> list[list[int]]:
    """Maximal runs of consecutive selected positions."""
    runs, current = [], []
    for t, chosen in enumerate(selected_row + [False]):
        if chosen:
            current.append(t)
        elif current:
            runs.append(current)
            current = []
    return runs


def test_span_length_distribution_is_the_truncated_renormalised_geometric():
    probs = span_length_distribution(0.2, 10)
    expected = torch.tensor([0.2 * 0.8 ** (k - 1) for k in range(1, 11)], dtype=torch.float64) / (1 - 0.8 ** 10)
    torch.testing.assert_close(probs, expected)
    assert abs((torch.arange(1, 11) * probs).sum().item() - 3.8) < 0.01  # SpanBERT's reported mean span length


def test_each_row_uses_exactly_its_budget_and_never_a_special(masked_batch):
    ids, masked, labels = masked_batch
    special = torch.isin(ids, torch.tensor(SPECIALS))
    selected = labels != -100
    assert not selected[special].any() and torch.equal(masked[special], ids[special])
    for row in range(ids.shape[0]):
        assert selected[row].sum().item() == math.ceil(0.15 * (~special[row]).sum().item())
    assert torch.equal(labels[selected], ids[selected]) and torch.equal(masked[~selected], ids[~selected])


def test_spans_are_geometric_and_replaced_as_a_whole(masked_batch):
    ids, masked, labels = masked_batch
    runs = [(row, run) for row in range(ids.shape[0]) for run in _runs((labels[row] != -100).tolist())]
    lengths = torch.tensor([len(run) for _, run in runs], dtype=torch.float)
    assert 3.4 < lengths.mean().item() < 4.5  # 3.8 per span; touching spans merge, the budget cuts the last
    assert (lengths > 1).float().mean().item() > 0.6  # geometric(0.2) spans, not single tokens (P(1) = 0.22)
    whole = [(masked[row, run] == 4).all() or not (masked[row, run] == 4).any() for row, run in runs]
    assert sum(whole) / len(whole) > 0.9  # one decision per span (per-token 80/10/10 would split most runs)
    selected = labels != -100
    assert abs((masked[selected] == 4).float().mean().item() - 0.8) < 0.05


def test_mask_spans_rejects_bad_arguments():
    ids = torch.tensor([[2, 10, 11, 3]])
    with pytest.raises(ValueError, match="mask_ratio: expected a probability"):
        mask_spans(ids, mask_token_id=4, vocab_size=20, special_token_ids=[2, 3], mask_ratio=2.0)
    with pytest.raises(ValueError, match="max_span_length: expected a positive int, got 0"):
        mask_spans(ids, mask_token_id=4, vocab_size=20, special_token_ids=[2, 3], max_span_length=0)
