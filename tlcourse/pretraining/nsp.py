"""Next-sentence prediction (NSP) data: sentence pairs from documents, and BERT's ``[CLS] A [SEP] B [SEP]`` inputs.

For each sentence A that has a successor in its document, B is that successor half of the time (label 0,
*IsNext*) and a random sentence of another document otherwise (label 1, *NotNext*): transformers'
``BertForPreTraining`` reads ``next_sentence_label`` 0 as "B continues A". A pair is truncated to the model's
length by cutting the longer segment first, as BERT's ``create_pretraining_data`` and the tokenizers'
``truncation="longest_first"`` do. Original BERT packs several sentences into each segment; here a segment is
one sentence, which keeps the construction easy to check.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, TypeVar

from tlcourse.checks import reference

S = TypeVar("S")  # a sentence: a string, or a list of token ids

IS_NEXT, NOT_NEXT = 0, 1


@reference
def make_nsp_pairs(documents: Sequence[Sequence[S]], rng: random.Random) -> list[tuple[S, S, int]]:
    """NSP pairs ``(A, B, label)``: B is A's next sentence (label 0) or a sentence of another document (label 1).

    The draws, in this order, for each document ``d`` and each sentence ``i`` but the last:
    ``rng.random() < 0.5`` keeps ``documents[d][i + 1]`` (label 0); otherwise ``j = rng.randrange(len(documents)
    - 1)``, plus one if ``j >= d`` (so a uniform *other* document), then ``k = rng.randrange(len(documents[j]))``
    gives B ``= documents[j][k]`` (label 1).

    Shapes:
        documents: a list of documents, each a list of sentences (at least two documents, none empty); returns
        one pair per sentence that has a successor, in document order.

    Example:
        >>> docs = [["The cat sat.", "It purred.", "Then it slept."], ["Rain fell.", "Streets flooded."]]
        >>> for pair in make_nsp_pairs(docs, random.Random(1)):
        ...     print(pair)
        ('The cat sat.', 'It purred.', 0)
        ('It purred.', 'Streets flooded.', 1)
        ('Rain fell.', 'Streets flooded.', 0)
    """
    if len(documents) < 2:
        raise ValueError(f"documents: expected at least 2 documents (NotNext sentences come from another one), "
                         f"got {len(documents)}")
    empty = [d for d, document in enumerate(documents) if len(document) == 0]
    if empty:
        raise ValueError(f"documents: expected every document to have a sentence, got empty documents {empty}")
    pairs = []
    for d, document in enumerate(documents):
        for i in range(len(document) - 1):
            if rng.random() < 0.5:
                pairs.append((document[i], document[i + 1], IS_NEXT))
            else:
                j = rng.randrange(len(documents) - 1)
                j += j >= d  # skip document d itself
                other = documents[j]
                pairs.append((document[i], other[rng.randrange(len(other))], NOT_NEXT))
    return pairs


@reference
def truncate_pair(a_ids: list[int], b_ids: list[int], max_num_tokens: int) -> tuple[list[int], list[int]]:
    """Cut the ends of two segments until they fit in ``max_num_tokens``, the longer first.

    As the tokenizers' ``truncation="longest_first"``: if the shorter segment fits in half the room it is kept
    and the longer one gets the rest; otherwise the segment that was shorter (A on a tie) keeps
    ``max_num_tokens // 2`` tokens and the other the rest. BERT's ``create_pretraining_data`` also cuts the longer
    one first, but from a random end.

    Shapes:
        returns (a_ids, b_ids) with ``len(a) + len(b) <= max_num_tokens``; for BERT inputs use
        ``max_num_tokens = max_length - 3`` (room for [CLS] and two [SEP]).

    Example:
        >>> truncate_pair([1, 2, 3, 4, 5, 6], [7, 8], 6)
        ([1, 2, 3, 4], [7, 8])
        >>> truncate_pair([1, 2, 3, 4, 5, 6], [7, 8, 9, 10], 5)
        ([1, 2, 3], [7, 8])
    """
    if isinstance(max_num_tokens, bool) or not isinstance(max_num_tokens, int) or max_num_tokens < 0:
        raise ValueError(f"max_num_tokens: expected a non-negative int, got {max_num_tokens!r}")
    if len(a_ids) + len(b_ids) <= max_num_tokens:
        return list(a_ids), list(b_ids)
    a_is_shorter = len(a_ids) <= len(b_ids)
    shorter = min(len(a_ids), len(b_ids))
    if shorter <= max_num_tokens - shorter:
        keep_shorter = shorter
    else:
        keep_shorter = max_num_tokens // 2
    keep_longer = max_num_tokens - keep_shorter
    if a_is_shorter:
        return list(a_ids[:keep_shorter]), list(b_ids[:keep_longer])
    return list(a_ids[:keep_longer]), list(b_ids[:keep_shorter])


@reference
def bert_inputs(a_ids: list[int], b_ids: list[int], *, cls_id: int, sep_id: int) -> tuple[list[int], list[int]]:
    """BERT's pair input ``[CLS] A [SEP] B [SEP]`` and its segment ids: 0 for [CLS], A and the first [SEP], 1 after.

    Shapes:
        returns (input_ids, token_type_ids), each of length ``len(a_ids) + len(b_ids) + 3``.

    Example:
        >>> bert_inputs([11, 12], [13, 14, 15], cls_id=2, sep_id=3)
        ([2, 11, 12, 3, 13, 14, 15, 3], [0, 0, 0, 0, 1, 1, 1, 1])
    """
    input_ids = [cls_id, *a_ids, sep_id, *b_ids, sep_id]
    token_type_ids = [0] * (len(a_ids) + 2) + [1] * (len(b_ids) + 1)
    return input_ids, token_type_ids


def nsp_examples(
    documents: Sequence[Sequence[list[int]]], *, cls_id: int, sep_id: int, max_length: int, seed: int = 0
) -> list[dict[str, Any]]:
    """NSP training examples from tokenized documents: :func:`make_nsp_pairs` with ``random.Random(seed)``, each
    pair truncated to ``max_length`` tokens in all and turned into :func:`bert_inputs`.

    Shapes:
        documents: documents of sentences of token ids; returns one dict per pair with ``input_ids`` and
        ``token_type_ids`` (lists of at most ``max_length`` ints) and ``next_sentence_label`` (0 or 1), ready for
        :class:`~tlcourse.pretraining.collator.MaskingCollator`.

    Example:
        >>> docs = [[[11, 12, 13], [14, 15]], [[16], [17, 18, 19, 20]]]
        >>> for example in nsp_examples(docs, cls_id=2, sep_id=3, max_length=8, seed=1):
        ...     print(example["input_ids"], example["token_type_ids"], example["next_sentence_label"])
        [2, 11, 12, 13, 3, 14, 15, 3] [0, 0, 0, 0, 0, 1, 1, 1] 0
        [2, 16, 3, 14, 15, 3] [0, 0, 0, 1, 1, 1] 1
    """
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 3:
        raise ValueError(f"max_length: expected an int >= 3 (room for [CLS] and two [SEP]), got {max_length!r}")
    examples = []
    for a, b, label in make_nsp_pairs(documents, random.Random(seed)):
        input_ids, token_type_ids = bert_inputs(*truncate_pair(a, b, max_length - 3), cls_id=cls_id, sep_id=sep_id)
        examples.append({"input_ids": input_ids, "token_type_ids": token_type_ids, "next_sentence_label": label})
    return examples
