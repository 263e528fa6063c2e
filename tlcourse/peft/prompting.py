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
    over the continuation's tokens, in batches. A context too long for the model loses its first tokens.

    Shapes:
        N contexts and N continuations (lists of ids) -> (N,).
    """
    if len(contexts) != len(continuations) or not all(continuations):
        raise ValueError(f"contexts, continuations: expected as many contexts as non-empty continuations, got "
                         f"{len(contexts)} and {len(continuations)}")
    if any(len(end) >= lm.config.n_positions for end in continuations):
        raise ValueError(f"continuations: expected each shorter than the model's {lm.config.n_positions} positions, "
                         f"got one of {max(map(len, continuations))} tokens")
    lm.eval()
    device = next(lm.parameters()).device
    scores = []
    for start in range(0, len(contexts), batch_size):
        rows, spans = [], []
        for context, end in zip(contexts[start:start + batch_size], continuations[start:start + batch_size]):
            context = list(context)[max(0, len(context) + len(end) - lm.config.n_positions):]
            rows.append(context + list(end))
            spans.append((len(context), len(end)))
        T = max(map(len, rows))
        ids = torch.zeros(len(rows), T, dtype=torch.long)  # (b, T), right-padded
        mask = torch.zeros(len(rows), T, dtype=torch.long)
        for k, row in enumerate(rows):
            ids[k, : len(row)], mask[k, : len(row)] = torch.tensor(row), 1
        log_probs = lm(ids.to(device), mask.to(device)).logits.float().log_softmax(-1).cpu()  # (b, T, V)
        for k, (c, n) in enumerate(spans):
            predicting = torch.arange(c - 1, c + n - 1)  # the positions whose next token is a continuation token
            scores.append(log_probs[k, predicting, ids[k, c:c + n]].sum())
    return torch.stack(scores)  # (N,)


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
