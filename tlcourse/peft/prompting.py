"""Prompting a frozen language model: a task solved from the input alone, with or without examples in it.

GPT-3 (Brown et al., 2020) showed that a large enough LM does new tasks with *no* parameter update: the task is
written as text to continue, optionally after a few solved examples (*in-context learning*, "few-shot"). The
same frozen model then serves every task; the price is that the result depends on how the prompt is written.

Here the task is the world's review sentiment, posed as the completion the LM learned in pretraining: a review
without its last sentence (its verdict) is the prompt, and each label has the verdicts the world writes for it
(:data:`VERDICTS`). The label whose verdicts the LM finds likelier wins: ``P(label) ∝ Σ_v P(v | prompt)``
(:func:`label_log_probs`). ``shots`` puts whole labeled reviews before the prompt, separated as the
pretraining documents were (``<|endoftext|>``).

Example:
    >>> strip_verdict("The soup was cold. I would not recommend it.")
    'The soup was cold.'
"""

from __future__ import annotations

import re
from typing import Sequence

import torch
from torch import Tensor

from tlcourse.decoding.incremental import positions_from_mask
from tlcourse.models import GPT2LMHeadModel
from tlcourse.tokenization import BPETokenizer
from tlcourse.world_models import END_OF_TEXT

#: The world's verdict sentences (``tlcourse.data.reviews``) by label id (0 negative, 1 positive), as text.
VERDICTS: tuple[tuple[str, ...], ...] = (
    ("I would not recommend it.", "I would give it one star.", "I would give it two stars.",
     "It was a waste of money.", "I will never go back.", "I will never buy it again."),
    ("Overall, I would recommend it.", "I would give it four stars.", "I would give it five stars.",
     "It was worth every penny.", "I will come back soon.", "I would buy it again."),
)


def strip_verdict(review: str) -> str:
    """The review without its last sentence."""
    sentences = re.split(r"(?<=[.!?]) ", review.strip())
    if len(sentences) < 2:
        raise ValueError(f"review: expected at least two sentences, got {review!r}")
    return " ".join(sentences[:-1])


@torch.no_grad()
def continuation_log_probs(lm: GPT2LMHeadModel, contexts: Sequence[list[int]], continuations: Sequence[list[int]],
                           *, batch_size: int = 64) -> Tensor:
    """``log P(continuation | context)`` under ``lm`` for each (context, continuation) pair of token ids, summed
    over the continuation's tokens.

    Each distinct context runs through the model once; its keys and values are cached, and every continuation
    that follows it is scored from that cache (the 12 verdicts of :func:`label_log_probs` share one prompt). A
    context too long for the model loses its first tokens, as many as its longest continuation needs, so that all
    its continuations are scored after the same tokens. ``batch_size`` contexts run at once, left-padded, so that
    every context ends in the last column.

    Shapes:
        N contexts and N continuations (lists of ids) -> (N,).
    """
    if len(contexts) != len(continuations) or not all(continuations):
        raise ValueError(f"contexts, continuations: expected as many contexts as non-empty continuations, got "
                         f"{len(contexts)} and {len(continuations)}")
    if not all(contexts):
        raise ValueError("contexts: expected at least one token in each context, got an empty one")
    n_positions = lm.config.n_positions
    if any(len(end) >= n_positions for end in continuations):
        raise ValueError(f"continuations: expected each shorter than the model's {n_positions} positions, "
                         f"got one of {max(map(len, continuations))} tokens")
    lm.eval()
    device = next(lm.parameters()).device
    pairs: dict[tuple[int, ...], list[int]] = {}  # each context once, in order -> the pairs it begins
    for k, context in enumerate(contexts):
        pairs.setdefault(tuple(context), []).append(k)
    cut = {context: context[max(0, len(context) + max(len(continuations[k]) for k in ks) - n_positions):]
           for context, ks in pairs.items()}
    distinct = list(pairs)
    scores = torch.empty(len(contexts))
    for start in range(0, len(distinct), batch_size):
        chunk = distinct[start:start + batch_size]
        width = max(len(cut[c]) for c in chunk)
        ids = torch.zeros(len(chunk), width, dtype=torch.long)  # (b, width), left-padded
        mask = torch.zeros(len(chunk), width, dtype=torch.long)
        for row, context in enumerate(chunk):
            kept = cut[context]
            ids[row, width - len(kept):], mask[row, width - len(kept):] = torch.tensor(kept), 1
        ids, mask = ids.to(device), mask.to(device)
        out = lm(ids, mask, positions_from_mask(mask), use_cache=True)
        first = out.logits[:, -1].float().log_softmax(-1).cpu()  # (b, V): each first continuation token's odds
        rows_by_length: dict[int, list[tuple[int, int]]] = {}  # continuation length -> (pair, context row)
        for row, context in enumerate(chunk):
            for k in pairs[context]:
                rows_by_length.setdefault(len(continuations[k]), []).append((k, row))
        for length, rows in rows_by_length.items():
            ks, owners = [k for k, _ in rows], torch.tensor([row for _, row in rows])
            scores[ks] = first[owners, torch.tensor([continuations[k][0] for k in ks])]
            if length == 1:
                continue
            # the cache and mask of each pair's context, cut to the longest of these contexts: T_past + T fits
            keep = max(len(cut[chunk[row]]) for _, row in rows)
            past = tuple((key[owners, :, width - keep:], value[owners, :, width - keep:])
                         for key, value in out.past_key_values)  # each (R, heads, keep, head_size)
            ends = torch.tensor([continuations[k] for k in ks])  # (R, length)
            lengths = torch.tensor([len(cut[chunk[row]]) for _, row in rows])
            positions = lengths[:, None] + torch.arange(length)  # (R, length): after each context's own tokens
            end_mask = torch.cat([mask[owners.to(device), width - keep:], torch.ones_like(ends).to(device)], 1)
            log_probs = lm(ends.to(device), end_mask, positions.to(device),
                           past_key_values=past).logits.float().log_softmax(-1).cpu()  # (R, length, V)
            following = log_probs[:, :-1].gather(-1, ends[:, 1:, None]).squeeze(-1)  # (R, length - 1)
            scores[ks] += following.sum(-1)
    return scores


def label_log_probs(lm: GPT2LMHeadModel, tokenizer: BPETokenizer, reviews: Sequence[str],
                    shots: Sequence[str] = ()) -> Tensor:
    """``log Σ_v P(v | prompt)`` over each label's :data:`VERDICTS`, for each review: the prompt is the ``shots``
    (whole reviews), then the review without its verdict, each after ``<|endoftext|>`` as documents were in
    pretraining.

    Shapes:
        N reviews -> (N, 2): negative, positive.
    """
    eos = tokenizer.vocab[END_OF_TEXT]
    shot_ids = [i for text in shots for i in (eos, *tokenizer.encode(text))]
    contexts = [shot_ids + [eos, *tokenizer.encode(strip_verdict(review))] for review in reviews]
    verdicts = [tokenizer.encode(" " + v) for vs in VERDICTS for v in vs]  # after the prompt's last word
    scores = continuation_log_probs(lm, [c for c in contexts for _ in verdicts], verdicts * len(contexts))
    scores = scores.view(len(contexts), len(verdicts))  # (N, all verdicts)
    return torch.stack([part.logsumexp(-1) for part in scores.split([len(vs) for vs in VERDICTS], -1)], -1)


def prompt_predictions(lm: GPT2LMHeadModel, tokenizer: BPETokenizer, reviews: Sequence[str],
                       shots: Sequence[str] = ()) -> list[int]:
    """The label (0 negative, 1 positive) the frozen ``lm`` prefers for each review; see the module docstring."""
    return label_log_probs(lm, tokenizer, reviews, shots).argmax(-1).tolist()
