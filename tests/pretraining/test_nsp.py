"""NSP pairs: balanced IsNext / NotNext, IsNext truly the next sentence of the same document, NotNext from another
document; BERT pair inputs and longest-first truncation equal to the transformers tokenizer's."""

from __future__ import annotations

import random

import pytest

from tlcourse.pretraining import IS_NEXT, NOT_NEXT, bert_inputs, make_nsp_pairs, nsp_examples, truncate_pair


def _documents(n_docs: int, seed: int) -> list[list[str]]:
    """Documents whose sentences name their place, so a pair says where its sentences came from."""
    rng = random.Random(seed)
    return [[f"d{d} s{s}" for s in range(rng.randint(1, 12))] for d in range(n_docs)]


def _where(sentence: str) -> tuple[int, int]:
    d, s = sentence.split()
    return int(d[1:]), int(s[1:])


def test_pairs_are_balanced_and_come_from_the_right_places():
    documents = _documents(300, 0)
    pairs = make_nsp_pairs(documents, random.Random(0))
    assert len(pairs) == sum(len(d) - 1 for d in documents) > 1000
    labels = [label for _, _, label in pairs]
    assert abs(labels.count(IS_NEXT) / len(labels) - 0.5) < 0.03
    for a, b, label in pairs:
        (da, sa), (db, sb) = _where(a), _where(b)
        if label == IS_NEXT:
            assert (db, sb) == (da, sa + 1)
        else:
            assert label == NOT_NEXT and db != da
    assert [a for a, _, _ in pairs] == [s for d in documents for s in d[:-1]]  # every A in document order


def test_pairs_are_deterministic_given_the_seed_and_work_on_token_ids():
    documents = [[[1, 2], [3], [4, 5]], [[6], [7, 8]]]
    assert make_nsp_pairs(documents, random.Random(5)) == make_nsp_pairs(documents, random.Random(5))
    assert any(make_nsp_pairs(documents, random.Random(5)) != make_nsp_pairs(documents, random.Random(s))
               for s in range(6, 12))


@pytest.mark.parametrize(("documents", "message"), [
    ([["only one document"]], "documents: expected at least 2 documents"),
    ([["a", "b"], []], r"documents: expected every document to have a sentence, got empty documents \[1\]"),
])
def test_make_nsp_pairs_rejects_unusable_documents(documents, message):
    with pytest.raises(ValueError, match=message):
        make_nsp_pairs(documents, random.Random(0))


def test_bert_inputs_segments():
    ids, types = bert_inputs([11, 12], [13], cls_id=2, sep_id=3)
    assert ids == [2, 11, 12, 3, 13, 3]
    assert types == [0, 0, 0, 0, 1, 1]


def test_pair_inputs_and_truncation_equal_the_transformers_tokenizer(hf_tokenizer):
    """[CLS] A [SEP] B [SEP], token types and truncation="longest_first" (the longer segment is cut first)."""
    words = sorted(t for t in hf_tokenizer.get_vocab() if t.isalpha())  # whole words: one token each
    rng = random.Random(0)
    for _ in range(300):
        a = " ".join(rng.choice(words) for _ in range(rng.randint(1, 15)))
        b = " ".join(rng.choice(words) for _ in range(rng.randint(1, 15)))
        max_length = rng.randint(3, 33)
        expected = hf_tokenizer(a, b, truncation="longest_first", max_length=max_length, return_token_type_ids=True)
        a_ids = hf_tokenizer(a, add_special_tokens=False)["input_ids"]
        b_ids = hf_tokenizer(b, add_special_tokens=False)["input_ids"]
        ids, types = bert_inputs(*truncate_pair(a_ids, b_ids, max_length - 3), cls_id=2, sep_id=3)
        assert (ids, types) == (expected["input_ids"], expected["token_type_ids"]), (a, b, max_length)


def test_nsp_examples_fit_max_length():
    documents = [[list(range(10, 10 + n)) for n in (3, 30, 7)], [list(range(50, 70)), [99]]]
    examples = nsp_examples(documents, cls_id=2, sep_id=3, max_length=16, seed=0)
    assert len(examples) == 3
    for e in examples:
        assert len(e["input_ids"]) == len(e["token_type_ids"]) <= 16
        assert e["input_ids"][0] == 2 and e["input_ids"][-1] == 3 and e["input_ids"].count(3) == 2
    with pytest.raises(ValueError, match="max_length: expected an int >= 3"):
        nsp_examples(documents, cls_id=2, sep_id=3, max_length=2)
