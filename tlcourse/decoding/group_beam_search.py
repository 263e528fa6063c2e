"""Diverse beam search (Vijayakumar et al., 2016): beams in groups, each group pushed away from the earlier ones.

Plain beam search tends to return near-copies of one sentence. Diverse beam search splits the ``num_beams`` beams
into ``G`` groups of ``num_beams / G`` and, at every step, runs the groups one after another: group ``g`` is an
ordinary beam search step whose log-probabilities first lose ``diversity_penalty`` times the number of times each
token was just chosen by groups ``0 .. g-1`` for the same prompt (the Hamming diversity term). The penalty stays in
the beams' scores. Each group keeps its own finished hypotheses and stops on its own; at the end the hypotheses of
all groups compete, best first.

The rules follow transformers 4.51.3's ``_group_beam_search`` (the last release that ran it without downloading
code from the Hub), which differ in details from its newer plain beam search: a group is done when its best
candidate (EOS ones included), normalised by the current length, cannot beat its worst hypothesis; a finished
group keeps choosing the pad token, which counts in the penalty of the groups after it; and beams still running
at the maximum length are scored by their length without an EOS. ``tests/decoding`` compares with golden outputs
of 4.51.3 and checks that, with no penalty, each group is an independent beam search.

Example:
    >>> from tlcourse.models import GPT2Config, GPT2LMHeadModel
    >>> _ = torch.manual_seed(0)
    >>> model = GPT2LMHeadModel(GPT2Config(vocab_size=20, n_positions=32, n_embd=16, n_layer=1, n_head=2)).eval()
    >>> decoder = IncrementalDecoder(model, torch.tensor([[3, 4]]))
    >>> sequences, scores = group_beam_search(decoder, BeamConfig(num_beams=4, num_return_sequences=4), 2, 5.0,
    ...                                       max_new_tokens=3, eos_token_ids=[0], pad_token_id=0)
    >>> sequences[0, 2] != sequences[2, 2] or sequences[0, 2] != sequences[1, 2]   # the groups start apart
    tensor(True)
"""

from __future__ import annotations

import torch
from torch import Tensor

from tlcourse.decoding.beam_search import (
    BeamConfig,
    FinishedHypotheses,
    best_hypotheses,
    can_still_improve,
    expand_beams,
    length_normalised,
)
from tlcourse.decoding.incremental import IncrementalDecoder


def hamming_penalty(chosen: Tensor, vocab_size: int, diversity_penalty: float) -> Tensor:
    """``diversity_penalty`` times how often each token occurs in ``chosen`` (the earlier groups' tokens).

    Shapes:
        chosen: (B, n), int64; returns (B, vocab_size), float32.

    Example:
        >>> hamming_penalty(torch.tensor([[2, 2, 0]]), 4, 0.5)
        tensor([[0.5000, 0.0000, 1.0000, 0.0000]])
    """
    counts = torch.zeros(chosen.shape[0], vocab_size)
    return diversity_penalty * counts.scatter_add_(1, chosen, torch.ones(chosen.shape))


def group_beam_search(decoder: IncrementalDecoder, config: BeamConfig, num_groups: int, diversity_penalty: float, *,
                      max_new_tokens: int, eos_token_ids: list[int], pad_token_id: int) -> tuple[Tensor, Tensor]:
    """Diverse beam search from the prompts in ``decoder``; see the module docstring.

    Shapes:
        decoder.sequences: (B, T_prompt); returns sequences (B * num_return_sequences, T_prompt + n) and their
        normalised scores (B * num_return_sequences,), float32, best first for each prompt.
    """
    B, prompt_length = decoder.sequences.shape
    G, gs, lp = num_groups, config.num_beams // num_groups, config.length_penalty
    decoder.reorder(torch.arange(B).repeat_interleave(config.num_beams))  # row b * nb + g * gs + i
    beam_scores = torch.full((B, G, gs), -1e9)
    beam_scores[:, :, 0] = 0.0  # one live beam per group at the start
    pools = [[FinishedHypotheses(gs) for _ in range(G)] for _ in range(B)]
    done = torch.zeros(B, G, dtype=torch.bool)
    eos = set(eos_token_ids)
    k = max(2, 1 + len(eos_token_ids)) * gs
    own_rows = torch.arange(B * config.num_beams).view(B, G, gs)
    for step in range(max_new_tokens):
        length = step + 1  # generated tokens, counting this one
        log_probs = decoder.next_logits().log_softmax(dim=-1).view(B, G, gs, -1)  # (B, G, gs, V)
        chosen = torch.full((B, G, gs), pad_token_id)  # the tokens each group picks at this step
        rows = own_rows.clone()  # which sequence each new beam extends
        next_scores = torch.zeros(B, G, gs)
        for g in range(G):
            penalty = hamming_penalty(chosen[:, :g].flatten(1), log_probs.shape[-1], diversity_penalty)  # (B, V)
            scores, beams, tokens = expand_beams(beam_scores[:, g], log_probs[:, g] - penalty[:, None], k)  # (B, k)
            for b in range(B):
                if done[b, g]:
                    continue  # a finished group keeps choosing the pad token
                kept = 0
                for rank in range(k):
                    row = int(own_rows[b, g, beams[b, rank]])
                    if int(tokens[b, rank]) in eos:
                        if rank < gs:  # only the best gs candidates may finish
                            generated = torch.cat([decoder.sequences[row, prompt_length:], tokens[b, rank, None]])
                            score = length_normalised(scores[b, rank].double(), length, lp)
                            pools[b][g].add(score, generated)
                    else:
                        next_scores[b, g, kept], chosen[b, g, kept], rows[b, g, kept] = scores[b, rank], tokens[b, rank], row
                        kept += 1
                    if kept == gs:
                        break
                pool = pools[b][g]
                done[b, g] = pool.is_full and (config.early_stopping is True or not can_still_improve(
                    scores[b, 0].double(), pool, length, max_new_tokens, config))
        beam_scores = next_scores
        decoder.reorder(rows.flatten())
        decoder.append(chosen.flatten())
        if done.all():
            break
    for b, g in torch.nonzero(~done).tolist():  # at the maximum length: the running beams compete too
        for i in range(gs):
            generated = decoder.sequences[int(own_rows[b, g, i]), prompt_length:]
            pools[b][g].add(length_normalised(beam_scores[b, g, i].double(), len(generated), lp), generated)
    merged = [FinishedHypotheses(config.num_beams) for _ in range(B)]
    for b in range(B):
        for pool in pools[b]:
            for score, generated in pool.items:
                merged[b].add(score, generated)
    sequences, scores = best_hypotheses(decoder.sequences[::config.num_beams, :prompt_length], merged,
                                        config.num_return_sequences, pad_token_id)
    return sequences, scores.float()
