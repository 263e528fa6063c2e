"""MaskingCollator: dynamic masking equals transformers' DataCollatorForLanguageModeling batch after batch;
static masking gives an example the same mask in every epoch and batch; NSP fields are padded and kept."""

from __future__ import annotations

import random

import pytest
import torch
from torch.utils.data import DataLoader

from tlcourse.pretraining import MaskingCollator, nsp_examples

transformers = pytest.importorskip("transformers")
from transformers import DataCollatorForLanguageModeling  # noqa: E402


def _dataset(n: int = 48, seed: int = 0) -> list[list[int]]:
    rng = random.Random(seed)
    return [[2] + [rng.randrange(1, 30) for _ in range(rng.randint(1, 20))] + [3] for _ in range(n)]


def test_dynamic_masking_equals_transformers_collator_over_successive_batches(hf_tokenizer):
    data = _dataset()
    ours = MaskingCollator.from_tokenizer(hf_tokenizer, seed=11)
    theirs = DataCollatorForLanguageModeling(hf_tokenizer, seed=11)
    for epoch in range(2):
        for start in range(0, len(data), 8):
            batch, expected = ours(data[start:start + 8]), theirs(data[start:start + 8])
            assert torch.equal(batch["input_ids"], expected["input_ids"])
            assert torch.equal(batch["labels"], expected["labels"])
            lengths = torch.tensor([len(e) for e in data[start:start + 8]])
            assert torch.equal(batch["attention_mask"].sum(1), lengths)


def test_dynamic_masks_change_between_epochs_static_masks_do_not(hf_tokenizer):
    data = _dataset()
    for dynamic in (True, False):
        collate = MaskingCollator.from_tokenizer(hf_tokenizer, dynamic=dynamic, seed=3)
        loader = DataLoader(data, batch_size=8, shuffle=True, collate_fn=collate,
                            generator=torch.Generator().manual_seed(0))
        epochs = []
        for _ in range(2):  # shuffled: an example lands in another batch, at another row, in epoch 2
            masks = {}
            for batch in loader:
                original = torch.where(batch["labels"] != -100, batch["labels"], batch["input_ids"])
                for ids, masked, n in zip(original, batch["input_ids"], batch["attention_mask"].sum(1)):
                    masks.setdefault(tuple(ids.tolist()[:n]), []).append(tuple(masked.tolist()[:n]))
            epochs.append(sorted(masks.items()))
        assert (epochs[0] == epochs[1]) is not dynamic


def test_static_masking_depends_on_the_seed_and_pads_labels_with_minus_100():
    data = _dataset(32)
    a = MaskingCollator(0, 4, 30, [1, 2, 3], dynamic=False, seed=1)(data)
    b = MaskingCollator(0, 4, 30, [1, 2, 3], dynamic=False, seed=2)(data)
    assert not torch.equal(a["labels"], b["labels"])
    padding = a["attention_mask"] == 0
    assert padding.any() and (a["labels"][padding] == -100).all() and (a["input_ids"][padding] == 0).all()
    selected = a["labels"] != -100
    assert 0.08 < selected.sum().item() / (a["attention_mask"].sum().item() - 2 * len(data)) < 0.25


def test_nsp_examples_collate_with_token_types_and_labels():
    docs = [[[11, 12, 13], [14, 15]], [[16], [17, 18, 19, 20]], [[21, 22], [23]]]
    examples = nsp_examples(docs, cls_id=2, sep_id=3, max_length=8, seed=0)
    batch = MaskingCollator(0, 4, 30, [2, 3], seed=0)(examples)
    assert set(batch) == {"input_ids", "attention_mask", "token_type_ids", "next_sentence_label", "labels"}
    assert batch["next_sentence_label"].tolist() == [e["next_sentence_label"] for e in examples]
    for row, e in enumerate(examples):
        n = len(e["input_ids"])
        assert batch["token_type_ids"][row, :n].tolist() == e["token_type_ids"]
        assert (batch["token_type_ids"][row, n:] == 0).all()


def test_collator_rejects_empty_batches_and_bad_ids():
    with pytest.raises(ValueError, match="examples: expected at least one example"):
        MaskingCollator(0, 4, 30, [2, 3])([])
    with pytest.raises(ValueError, match="mask_token_id: expected a non-negative int, got -1"):
        MaskingCollator(0, -1, 30, [2, 3])
