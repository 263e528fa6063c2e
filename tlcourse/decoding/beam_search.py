"""Beam search with transformers' (>= 4.36) scoring and stopping rules, written to be read.

Beam search keeps the ``num_beams`` most probable partial sequences ("beams"). At each step every beam is extended
by every token; a candidate's score is its beam's sum of log-probabilities plus the token's log-probability, and
the best ``2 * num_beams`` candidates over all beams go on (two times, so that ``num_beams`` remain even if up to
``num_beams`` of them end). A candidate that ends (its token is an EOS, or the sequence reaches the maximum length)
becomes a **finished hypothesis**, but only if it is among the best ``num_beams`` candidates; its score is
**length-normalised**: ``sum_logprobs / generated_length ** length_penalty``, where ``generated_length`` counts the
new tokens including the EOS (not the prompt). Each batch item keeps its ``num_beams`` best hypotheses. The best
``num_beams`` candidates that did not end are the next beams.

When to stop, per batch item (``early_stopping``):

- ``True``: as soon as ``num_beams`` hypotheses are finished;
- ``False`` (the default): when the pool is full and the best running beam, normalised by its *current* length,
  cannot beat the worst finished hypothesis;
- ``"never"``: the same test, but with the maximum length when ``length_penalty > 0`` (a longer beam could still
  win then): the canonical beam search.

Once an item has stopped it accepts no more hypotheses; the search ends when every item has, or at the maximum
length. The result is each item's best ``num_return_sequences`` hypotheses, best first.

Example:
    >>> from tlcourse.models import GPT2Config, GPT2LMHeadModel
    >>> _ = torch.manual_seed(0)
    >>> model = GPT2LMHeadModel(GPT2Config(vocab_size=20, n_positions=32, n_embd=16, n_layer=1, n_head=2)).eval()
    >>> decoder = IncrementalDecoder(model, torch.tensor([[3, 4]]))
    >>> sequences, scores = beam_search(decoder, BeamConfig(num_beams=3, num_return_sequences=2), max_new_tokens=4,
    ...                                 eos_token_ids=[0], pad_token_id=0)
    >>> sequences.shape, bool(scores[0] >= scores[1])
    (torch.Size([2, 6]), True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from tlcourse.checks import reference
from tlcourse.decoding.incremental import IncrementalDecoder
from tlcourse.models.validation import check_positive_ints

@dataclass
class BeamConfig:
    """The beam-search arguments of ``generate``: beams, length penalty, stopping mode, sequences returned."""

    num_beams: int = 4
    length_penalty: float = 1.0
    early_stopping: bool | str = False
    num_return_sequences: int = 1

    def __post_init__(self) -> None:
        check_positive_ints(self, ("num_beams", "num_return_sequences"))
        if self.num_return_sequences > self.num_beams:
            raise ValueError(f"num_return_sequences: expected at most num_beams = {self.num_beams}, "
                             f"got {self.num_return_sequences}")
        if not (isinstance(self.early_stopping, bool) or self.early_stopping == "never"):
            raise ValueError(f"early_stopping: expected True, False or 'never', got {self.early_stopping!r}")
        if isinstance(self.length_penalty, bool) or not isinstance(self.length_penalty, (int, float)):
            raise ValueError(f"length_penalty: expected a number, got {self.length_penalty!r}")


@reference
def expand_beams(beam_scores: Tensor, log_probs: Tensor, k: int) -> tuple[Tensor, Tensor, Tensor]:
    """The ``k`` best one-token extensions of a batch item's beams: scores, which beam, which token.

    A candidate's score is its beam's score (a sum of log-probabilities) plus the token's log-probability; the
    candidates of all beams of an item compete together.

    Shapes:
        beam_scores: (B, num_beams); log_probs: (B, num_beams, V); returns scores (B, k), float, best first, and
        beam indices and token ids (B, k), int64.

    Example:
        >>> log_probs = torch.tensor([[[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]]).log()    # 1 item, 2 beams, V = 3
        >>> scores, beams, tokens = expand_beams(torch.tensor([[0.6, 0.4]]).log(), log_probs, 3)
        >>> scores.exp(), beams, tokens
        (tensor([[0.3200, 0.3000, 0.1800]]), tensor([[1, 0, 0]]), tensor([[2, 0, 1]]))
    """
    V = log_probs.shape[-1]
    total = beam_scores[:, :, None] + log_probs  # (B, num_beams, V)
    scores, flat = total.flatten(1).topk(k, dim=1)  # (B, k): indices into num_beams * V
    return scores, flat // V, flat % V


@reference
def length_normalised(sum_logprobs: Tensor, generated_length: int, length_penalty: float) -> Tensor:
    """A finished hypothesis's score: ``sum_logprobs / generated_length ** length_penalty``.

    ``generated_length`` counts the new tokens, the EOS included, not the prompt. Log-probabilities are negative,
    so ``length_penalty > 0`` favours longer sequences, ``< 0`` shorter ones, and 0 compares raw sums.

    Example:
        >>> length_normalised(torch.tensor(-6.0), 3, 1.0), length_normalised(torch.tensor(-6.0), 3, 0.0)
        (tensor(-2.), tensor(-6.))
    """
    return sum_logprobs / (generated_length**length_penalty)


@dataclass
class FinishedHypotheses:
    """One batch item's best finished hypotheses: at most ``capacity`` (score, generated tokens), best first."""

    capacity: int
    items: list[tuple[Tensor, Tensor]] = field(default_factory=list)

    @property
    def is_full(self) -> bool:
        return len(self.items) == self.capacity

    @property
    def worst_score(self) -> Tensor:
        return self.items[-1][0]

    def add(self, score: Tensor, tokens: Tensor) -> None:
        """Insert in score order (after equal scores) and drop the worst beyond ``capacity``."""
        position = next((i for i, (s, _) in enumerate(self.items) if score > s), len(self.items))
        self.items.insert(position, (score, tokens))
        del self.items[self.capacity:]


def can_still_improve(best_running: Tensor, pool: FinishedHypotheses, length: int, max_new_tokens: int,
                       config: BeamConfig) -> bool:
    """Whether the best running beam could still beat the worst hypothesis of a full pool (``early_stopping``)."""
    if not pool.is_full:
        return True
    if config.early_stopping == "never" and config.length_penalty > 0:
        length = max_new_tokens  # a positive penalty rewards length: assume the longest possible
    return bool(best_running / (length**config.length_penalty) > pool.worst_score)


def beam_search(decoder: IncrementalDecoder, config: BeamConfig, *, max_new_tokens: int, eos_token_ids: list[int],
                pad_token_id: int) -> tuple[Tensor, Tensor]:
    """Beam search from the prompts in ``decoder``; see the module docstring for the rules.

    Shapes:
        decoder.sequences: (B, T_prompt); returns sequences (B * num_return_sequences, T_prompt + n), the prompt
        followed by the generated tokens (EOS included) and ``pad_token_id`` after, n the longest returned; and
        their normalised scores (B * num_return_sequences,), float32.
    """
    B, prompt_length = decoder.sequences.shape
    nb, lp = config.num_beams, config.length_penalty
    decoder.reorder(torch.arange(B).repeat_interleave(nb))  # every prompt num_beams times: (B * nb, T)
    running = torch.zeros(B, nb)
    running[:, 1:] = -1e9  # the copies start dead, so the first step extends one beam per item
    pools = [FinishedHypotheses(nb) for _ in range(B)]
    improvable = [True] * B
    eos = torch.tensor(eos_token_ids, dtype=torch.long)
    k = max(2, 1 + len(eos_token_ids)) * nb  # enough candidates that nb survive even if many end
    for step in range(max_new_tokens):
        length = step + 1  # generated tokens, counting this one
        log_probs = decoder.next_logits().log_softmax(dim=-1)  # (B * nb, V)
        scores, beams, tokens = expand_beams(running, log_probs.view(B, nb, -1), k)  # (B, k) each
        ends = torch.isin(tokens, eos) | (length == max_new_tokens)  # (B, k)
        rows = beams + torch.arange(B)[:, None] * nb  # (B, k): rows of decoder.sequences
        for b in range(B):
            if not improvable[b] or (config.early_stopping is True and pools[b].is_full):
                continue
            for j in torch.nonzero(ends[b, :nb]).flatten().tolist():  # only the best nb candidates may finish
                generated = torch.cat([decoder.sequences[rows[b, j], prompt_length:], tokens[b, j, None]])
                pools[b].add(length_normalised(scores[b, j], length, lp), generated)
        live_scores = scores + ends * -1e9  # (B, k): the candidates that did not end go on
        running, best = live_scores.topk(nb, dim=1)  # (B, nb)
        decoder.reorder(rows.gather(1, best).flatten())
        decoder.append(tokens.gather(1, best).flatten())
        for b in range(B):
            improvable[b] = improvable[b] and can_still_improve(running[b, 0], pools[b], length, max_new_tokens,
                                                                 config)
        all_full = all(pool.is_full for pool in pools)
        if not any(improvable) or (config.early_stopping is True and all_full) or bool(ends.all()):
            break
    return best_hypotheses(decoder.sequences[::nb, :prompt_length], pools, config.num_return_sequences,
                            pad_token_id)


def best_hypotheses(prompts: Tensor, pools: list[FinishedHypotheses], n: int,
                     pad_token_id: int) -> tuple[Tensor, Tensor]:
    """Each item's ``n`` best hypotheses after its prompt, padded to the longest: (B * n, T) and (B * n,)."""
    best = [(b, score, tokens) for b, pool in enumerate(pools) for score, tokens in pool.items[:n]]
    width = max(len(tokens) for _, _, tokens in best)
    sequences = torch.full((len(best), prompts.shape[1] + width), pad_token_id, dtype=torch.long)
    for row, (b, _, tokens) in enumerate(best):
        sequences[row, :prompts.shape[1]] = prompts[b]
        sequences[row, prompts.shape[1]:prompts.shape[1] + len(tokens)] = tokens
    return sequences, torch.stack([score for _, score, _ in best])
