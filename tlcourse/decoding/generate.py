"""``generate``: every decoding strategy behind transformers' keyword arguments, on the course's causal LMs.

One call decodes a batch of prompts (left-padded prompts need their ``attention_mask``) with a KV cache:

- greedy (the default): the most probable token at every step;
- sampling (``do_sample=True``): temperature, then top-k (off unless ``top_k > 0``, unlike transformers' default
  of 50), then top-p, then one ``torch.multinomial`` over the batch per step, drawing the same ids as
  transformers' ``generate`` after the same ``torch.manual_seed``;
- beam search (``num_beams > 1``, :mod:`~tlcourse.decoding.beam_search`) and diverse beam search
  (``num_beam_groups > 1`` with ``diversity_penalty > 0``, :mod:`~tlcourse.decoding.group_beam_search`).

A row that produces an EOS is finished: it gets ``pad_token_id`` afterwards, and generation stops when every row
is finished or after ``max_new_tokens``. The result is the prompts followed by the new tokens, as transformers
returns them; with ``output_scores=True``, a :class:`GenerateOutput` that also holds beam search's normalised
sequence scores.

Example:
    >>> from tlcourse.models import GPT2Config, GPT2LMHeadModel
    >>> _ = torch.manual_seed(0)
    >>> model = GPT2LMHeadModel(GPT2Config(vocab_size=20, n_positions=32, n_embd=16, n_layer=1, n_head=2)).eval()
    >>> prompt = torch.tensor([[3, 4, 5]])
    >>> greedy = generate(model, prompt, max_new_tokens=4)
    >>> greedy.shape, torch.equal(greedy[:, :3], prompt)
    (torch.Size([1, 7]), True)
    >>> _ = torch.manual_seed(1)
    >>> sampled = generate(model, prompt.repeat(2, 1), max_new_tokens=4, do_sample=True, top_p=0.9)
    >>> beams = generate(model, prompt, max_new_tokens=4, num_beams=3, num_return_sequences=2, output_scores=True)
    >>> sampled.shape, beams.sequences.shape, beams.sequences_scores.shape
    (torch.Size([2, 7]), torch.Size([2, 7]), torch.Size([2]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from tlcourse.decoding.beam_search import BeamConfig, beam_search
from tlcourse.decoding.incremental import IncrementalDecoder
from tlcourse.decoding.logits import greedy_step, warp_logits


@dataclass
class GenerateOutput:
    """What ``generate(..., output_scores=True)`` returns: the sequences and, for beam search, their scores."""

    sequences: Tensor  # (B * num_return_sequences, T_prompt + new tokens)
    sequences_scores: Tensor | None = None  # (B * num_return_sequences,): beam search's normalised scores


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return value


def _eos_list(eos_token_id: int | list[int] | None) -> list[int]:
    ids = [] if eos_token_id is None else [eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id)
    if any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in ids):
        raise ValueError(f"eos_token_id: expected None, a token id or a list of token ids, got {eos_token_id!r}")
    return ids


def _check_strategy(do_sample: bool, temperature: float, top_k: int, top_p: float, num_beams: int,
                    num_beam_groups: int, diversity_penalty: float, num_return_sequences: int) -> None:
    """Raise a ValueError naming the argument for every combination transformers rejects or ignores silently."""
    _positive_int("num_beams", num_beams)
    _positive_int("num_beam_groups", num_beam_groups)
    _positive_int("num_return_sequences", num_return_sequences)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature: expected a number > 0, got {temperature!r}")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
        raise ValueError(f"top_k: expected an int >= 0 (0: no top-k), got {top_k!r}")
    if isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p: expected a probability in (0, 1], got {top_p!r}")
    if num_beams % num_beam_groups:
        raise ValueError(f"num_beams: expected a multiple of num_beam_groups = {num_beam_groups}, got {num_beams}")
    if num_beam_groups > 1:
        if do_sample:
            raise ValueError("do_sample: expected False with num_beam_groups > 1 (diverse beam search is greedy), "
                             "got True")
        if not diversity_penalty > 0:
            raise ValueError(f"diversity_penalty: expected a number > 0 with num_beam_groups > 1, "
                             f"got {diversity_penalty!r}")
    if num_beams > 1 and do_sample:
        raise ValueError("do_sample: beam sampling is not implemented; expected False with num_beams > 1, got True")
    if num_beams == 1 and not do_sample and num_return_sequences > 1:
        raise ValueError(f"num_return_sequences: greedy search returns one sequence per prompt; expected 1, "
                         f"got {num_return_sequences} (sample, or use beams)")


@torch.no_grad()
def generate(
    model: nn.Module,
    input_ids: Tensor,
    *,
    attention_mask: Tensor | None = None,
    max_new_tokens: int,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    num_beams: int = 1,
    num_beam_groups: int = 1,
    diversity_penalty: float = 0.0,
    length_penalty: float = 1.0,
    early_stopping: bool | str = False,
    num_return_sequences: int = 1,
    eos_token_id: int | list[int] | None = None,
    pad_token_id: int | None = None,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
    output_scores: bool = False,
) -> Tensor | GenerateOutput:
    """Decode ``max_new_tokens`` at most after each prompt; the keywords mean what they mean in transformers.

    ``pad_token_id`` defaults to the (first) EOS id. ``attention_mask`` defaults to all ones (transformers infers
    it from ``pad_token_id`` instead, which silently masks real tokens equal to the pad id). ``generator`` is the
    sampling generator (torch's global one when None, as in transformers). ``use_cache=False`` recomputes the
    whole prefix at every step (same result, slower).

    Shapes:
        input_ids, attention_mask: (B, T_prompt); returns (B * num_return_sequences, T_prompt + n), n <=
        max_new_tokens.
    """
    _positive_int("max_new_tokens", max_new_tokens)
    _check_strategy(do_sample, temperature, top_k, top_p, num_beams, num_beam_groups, diversity_penalty,
                    num_return_sequences)
    eos = _eos_list(eos_token_id)
    pad = pad_token_id if pad_token_id is not None else (eos[0] if eos else 0)
    was_training = model.training
    model.eval()
    try:
        if num_beams > 1:
            beams = BeamConfig(num_beams, length_penalty, early_stopping, num_return_sequences)
            decoder = IncrementalDecoder(model, input_ids, attention_mask, use_cache=use_cache)
            if num_beam_groups > 1:
                from tlcourse.decoding.group_beam_search import group_beam_search

                sequences, scores = group_beam_search(decoder, beams, num_beam_groups, diversity_penalty,
                                                      max_new_tokens=max_new_tokens, eos_token_ids=eos,
                                                      pad_token_id=pad)
            else:
                sequences, scores = beam_search(decoder, beams, max_new_tokens=max_new_tokens, eos_token_ids=eos,
                                                pad_token_id=pad)
        else:
            if num_return_sequences > 1:  # sampling several continuations of each prompt
                input_ids = input_ids.repeat_interleave(num_return_sequences, dim=0)
                attention_mask = None if attention_mask is None else attention_mask.repeat_interleave(
                    num_return_sequences, dim=0)
            decoder = IncrementalDecoder(model, input_ids, attention_mask, use_cache=use_cache)
            sequences, scores = _sample(decoder, max_new_tokens, do_sample, temperature, top_k, top_p, eos, pad,
                                        generator), None
    finally:
        model.train(was_training)
    return GenerateOutput(sequences, scores) if output_scores else sequences


def _sample(decoder: IncrementalDecoder, max_new_tokens: int, do_sample: bool, temperature: float, top_k: int,
            top_p: float, eos: list[int], pad: int, generator: torch.Generator | None) -> Tensor:
    """Greedy or sampled decoding, one token per step for the whole batch; finished rows get ``pad``."""
    unfinished = torch.ones(decoder.sequences.shape[0], dtype=torch.bool)
    eos_ids = torch.tensor(eos, dtype=torch.long)
    for step in range(max_new_tokens):
        if step:  # the last step's token is appended below, without a forward pass nobody would use
            decoder.append(next_ids.to(decoder.sequences.device))
        logits = decoder.next_logits()  # (B, V), float32
        if do_sample:
            scores = warp_logits(logits, temperature=temperature, top_k=top_k, top_p=top_p)
            next_ids = torch.multinomial(scores.softmax(dim=-1), 1, generator=generator).squeeze(1)  # (B,)
        else:
            next_ids = greedy_step(logits)
        next_ids = torch.where(unfinished, next_ids.cpu(), pad)
        unfinished &= ~torch.isin(next_ids, eos_ids)
        if not unfinished.any():
            break
    return torch.cat([decoder.sequences, next_ids[:, None].to(decoder.sequences.device)], dim=1)
