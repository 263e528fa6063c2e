"""mask_tokens and mask_whole_words against transformers' DataCollatorForLanguageModeling, bit for bit on padded
batches, plus the statistics and invariants of BERT's 15 % / 80-10-10 masking
(docs/reference-semantics.md, "BERT and the MLM collator")."""

from __future__ import annotations

import dataclasses
import random

import pytest
import torch

from tlcourse.pretraining import mask_tokens, mask_whole_words, pad_sequences, replace_selected

transformers = pytest.importorskip("transformers")
from transformers import DataCollatorForLanguageModeling  # noqa: E402


def _examples(n: int, max_len: int, seed: int, vocab_size: int) -> list[list[int]]:
    """[CLS] ... [SEP] examples of random lengths (so the batch is padded), with some [UNK] (id 1) inside."""
    rng = random.Random(seed)
    return [[2] + [rng.choice([1] + list(range(5, vocab_size))) for _ in range(rng.randint(1, max_len))] + [3]
            for _ in range(n)]


def _ours(tokenizer, examples, seed: int, mlm_probability: float = 0.15):
    ids = pad_sequences(examples, tokenizer.pad_token_id)
    return mask_tokens(ids, mask_token_id=tokenizer.mask_token_id, vocab_size=len(tokenizer),
                       special_token_ids=tokenizer.all_special_ids, mlm_probability=mlm_probability,
                       generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("seed", "n", "max_len", "mlm_probability"),
                         [(0, 4, 12, 0.15), (1, 8, 30, 0.15), (123, 16, 60, 0.15), (7, 3, 5, 0.5), (2024, 32, 9, 0.9)])
def test_mask_tokens_equals_transformers_collator_bit_for_bit(hf_tokenizer, seed, n, max_len, mlm_probability):
    examples = _examples(n, max_len, seed, len(hf_tokenizer))
    collator = DataCollatorForLanguageModeling(hf_tokenizer, mlm_probability=mlm_probability, seed=seed)
    expected = collator(examples)
    masked, labels = _ours(hf_tokenizer, examples, seed, mlm_probability)
    assert torch.equal(masked, expected["input_ids"])
    assert torch.equal(labels, expected["labels"])
    assert (labels != -100).any() and (masked == hf_tokenizer.mask_token_id).any()


def test_mask_tokens_equals_transformers_on_tokenizer_padded_dicts(hf_tokenizer):
    texts = ["the cat sat on the mat", "a big dog ran", "green trees", "the small red house jumped fast"] * 4
    encoded = [dict(hf_tokenizer(t)) for t in texts]
    expected = DataCollatorForLanguageModeling(hf_tokenizer, seed=5)(encoded)
    masked, labels = _ours(hf_tokenizer, [e["input_ids"] for e in encoded], seed=5)
    assert torch.equal(masked, expected["input_ids"]) and torch.equal(labels, expected["labels"])


def test_specials_padding_and_unk_are_never_selected_and_input_is_untouched(hf_tokenizer):
    examples = _examples(64, 40, 3, len(hf_tokenizer))
    ids = pad_sequences(examples, 0)
    before = ids.clone()
    masked, labels = _ours(hf_tokenizer, examples, seed=3, mlm_probability=0.9)
    special = torch.isin(ids, torch.tensor(hf_tokenizer.all_special_ids))
    assert special.any() and (ids == 0).any() and (ids == 1).any()
    assert (labels[special] == -100).all() and torch.equal(masked[special], ids[special])
    assert torch.equal(ids, before)
    selected = labels != -100
    assert torch.equal(labels[selected], ids[selected])
    assert torch.equal(masked[~selected], ids[~selected])


def test_selection_rate_and_80_10_10_split_over_40k_tokens():
    V, mask_id, specials = 1000, 4, [0, 1, 2, 3, 4]
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, V, (200, 200), generator=g)  # 40k tokens
    ids[:, 0], ids[:, -1], ids[::7, 150:] = 2, 3, 0  # [CLS], [SEP], some padding
    masked, labels = mask_tokens(ids, mask_token_id=mask_id, vocab_size=V, special_token_ids=specials, generator=g)
    special = torch.isin(ids, torch.tensor(specials))
    selected = labels != -100
    assert not selected[special].any()
    assert abs(selected[~special].float().mean().item() - 0.15) < 0.01
    n = selected.sum().item()
    as_mask = (masked[selected] == mask_id).sum().item() / n
    unchanged = (masked[selected] == ids[selected]).sum().item() / n
    assert abs(as_mask - 0.8) < 0.02
    assert abs(1 - as_mask - unchanged - 0.1) < 0.02  # random tokens (a random token equal to the original counts
    assert abs(unchanged - 0.1) < 0.02                # as unchanged: 1 in 1000 here)


def test_dtype_and_device_follow_the_input():
    ids = torch.tensor([[2, 10, 11, 12, 3]], dtype=torch.int32)
    masked, labels = mask_tokens(ids, mask_token_id=4, vocab_size=20, special_token_ids=[2, 3], mlm_probability=1.0,
                                 generator=torch.Generator().manual_seed(0))
    assert masked.dtype == labels.dtype == torch.int32
    assert torch.equal(labels, torch.tensor([[-100, 10, 11, 12, -100]], dtype=torch.int32))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"mlm_probability": 1.5}, "mlm_probability: expected a probability in [0, 1], got 1.5"),
    ({"input_ids": torch.tensor([[0.5, 1.0]])}, "input_ids: expected an integer tensor"),
])
def test_mask_tokens_rejects_bad_arguments(kwargs, message):
    arguments = dict(input_ids=torch.tensor([[2, 7, 3]]), mask_token_id=4, vocab_size=20, special_token_ids=[2, 3])
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        mask_tokens(**{**arguments, **kwargs})


def test_replace_selected_rejects_probabilities_over_one():
    ids = torch.tensor([[5, 6]])
    with pytest.raises(ValueError, match="mask_replace_prob \\+ random_replace_prob: expected at most 1"):
        replace_selected(ids, ids > 5, mask_token_id=4, vocab_size=9, mask_replace_prob=0.7, random_replace_prob=0.4)
    with pytest.raises(ValueError, match="selected: expected a bool tensor of shape \\(1, 2\\)"):
        replace_selected(ids, ids, mask_token_id=4, vocab_size=9)


def _word_ids(encoding, i: int) -> list[int]:
    return [-1 if w is None else w for w in encoding.word_ids(i)]


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_whole_word_masking_equals_transformers_v5_collator(hf_tokenizer, seed):
    if "whole_word_mask" not in {f.name for f in dataclasses.fields(DataCollatorForLanguageModeling)}:
        pytest.skip("transformers < 5: whole-word masking is DataCollatorForWholeWordMask, drawn with python random")
    collator = DataCollatorForLanguageModeling(hf_tokenizer, mlm_probability=0.3, seed=seed, whole_word_mask=True,
                                               mask_replace_prob=1.0, random_replace_prob=0.0)
    rng = random.Random(seed)
    words = ["the", "cats", "played", "walking", "dog", "jumped", "slowly", "green", "trees", "faster", "a"]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 12))) for _ in range(12)]
    encoding = hf_tokenizer(texts, padding=True, return_offsets_mapping=True, return_special_tokens_mask=True)
    expected = collator([{k: encoding[k][i] for k in encoding} for i in range(len(texts))])
    word_ids = torch.tensor([_word_ids(encoding, i) for i in range(len(texts))])
    masked, labels = mask_whole_words(torch.tensor(encoding["input_ids"]), word_ids,
                                      mask_token_id=hf_tokenizer.mask_token_id, vocab_size=len(hf_tokenizer),
                                      mlm_probability=0.3, mask_replace_prob=1.0, random_replace_prob=0.0,
                                      generator=torch.Generator().manual_seed(seed))
    assert torch.equal(masked, expected["input_ids"]) and torch.equal(labels, expected["labels"])
    assert (labels != -100).any()


def test_whole_word_masking_masks_all_sub_words_of_a_word_or_none(hf_tokenizer):
    rng = random.Random(0)
    words = ["cats", "played", "walking", "faster", "slowly", "dog", "the"]
    a = [" ".join(rng.choice(words) for _ in range(8)) for _ in range(200)]
    b = [" ".join(rng.choice(words) for _ in range(5)) for _ in range(200)]
    encoding = hf_tokenizer(a, b, padding=True, return_token_type_ids=True)  # pairs: word ids restart at 0 in segment B
    word_ids = torch.tensor([_word_ids(encoding, i) for i in range(200)])
    masked, labels = mask_whole_words(torch.tensor(encoding["input_ids"]), word_ids, mask_token_id=4,
                                      vocab_size=len(hf_tokenizer), generator=torch.Generator().manual_seed(0))
    selected = labels != -100
    assert not selected[word_ids == -1].any()
    segment = torch.tensor(encoding["token_type_ids"])
    fractions = []
    for i in range(200):
        for s in (0, 1):
            for w in word_ids[i][segment[i] == s].unique().tolist():
                if w >= 0:
                    chosen = selected[i][(word_ids[i] == w) & (segment[i] == s)]
                    assert chosen.all() or not chosen.any()
                    fractions.append(chosen.all().item())
    assert abs(sum(fractions) / len(fractions) - 0.15) < 0.03  # words, not tokens, are drawn at 15 %
    as_mask = (masked[selected] == 4).float().mean().item()
    assert 0.7 < as_mask < 0.9  # 80/10/10 per token, as Google's BERT with whole-word masking
