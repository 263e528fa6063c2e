"""Exercise specs of assignment 05_decoding: one decoding step at a time.

The greedy step, temperature, the top-k and top-p filters (transformers' rules: top-k keeps ties with the k-th
value; top-p keeps the token that crosses p), the beam-search expansion and its length normalisation, and the
KV-cache update. Random cases avoid exact probability ties, where float rounding decides.
"""

from __future__ import annotations

import random

import torch

from tlcourse.exercises.registry import Case, Exercise, register

DECODING = "tlcourse.decoding"


def _generator(rng: random.Random) -> torch.Generator:
    return torch.Generator().manual_seed(rng.getrandbits(63))


def _logits(rng: random.Random, g: torch.Generator) -> torch.Tensor:
    B, V = rng.randint(1, 4), rng.randint(2, 30)
    return rng.choice((0.5, 2.0, 5.0)) * torch.randn(B, V, generator=g)


# --- greedy_step -----------------------------------------------------------------------------------------------

def _greedy_public() -> list[Case]:
    return [
        Case((torch.tensor([[0.1, 2.0, -1.0]]),), note="the largest logit"),
        Case((torch.tensor([[1.0, 3.0, 3.0], [-2.0, -1.0, -3.0]]),), note="a tie goes to the first; negative logits"),
    ]


def _greedy_hidden(rng: random.Random) -> list[Case]:
    g = _generator(rng)
    return [Case((_logits(rng, g),)) for _ in range(5)]


register(Exercise("greedy_step", f"{DECODING}.logits:greedy_step", _greedy_public, _greedy_hidden))


# --- apply_temperature -----------------------------------------------------------------------------------------

def _temperature_public() -> list[Case]:
    logits = torch.tensor([[2.0, 1.0, 0.0]])
    return [
        Case((logits, 0.5), note="T < 1 sharpens"),
        Case((logits, 2.0), note="T > 1 flattens"),
        Case((logits, 1.0), note="T = 1 changes nothing"),
    ]


def _temperature_hidden(rng: random.Random) -> list[Case]:
    g = _generator(rng)
    return [Case((_logits(rng, g), rng.choice((0.1, 0.7, 1.3, 4.0)))) for _ in range(5)]


register(Exercise("apply_temperature", f"{DECODING}.logits:apply_temperature", _temperature_public,
                  _temperature_hidden, tolerance="float32"))


# --- top_k_filter ----------------------------------------------------------------------------------------------

def _top_k_public() -> list[Case]:
    return [
        Case((torch.tensor([[3.0, 1.0, 2.0, 0.0]]), 2), note="keep the two largest"),
        Case((torch.tensor([[1.0, 2.0, 2.0, 2.0, 0.0]]), 2), note="ties with the k-th value are kept: 3 survive"),
        Case((torch.tensor([[0.5, -1.0], [2.0, 1.0]]), 5), note="k larger than the vocabulary keeps everything"),
        Case((torch.tensor([[3.0, 1.0, 2.0, 0.0]]), 1), {"min_tokens_to_keep": 3}, note="min_tokens_to_keep wins"),
    ]


def _top_k_hidden(rng: random.Random) -> list[Case]:
    g, cases = _generator(rng), []
    for _ in range(6):
        logits = _logits(rng, g)
        if rng.random() < 0.5:
            logits = logits.round()  # integer logits: many ties
        cases.append(Case((logits, rng.randint(1, logits.shape[-1] + 1)), {"min_tokens_to_keep": rng.choice((1, 2))}))
    return cases


register(Exercise("top_k_filter", f"{DECODING}.logits:top_k_filter", _top_k_public, _top_k_hidden))


# --- top_p_filter ----------------------------------------------------------------------------------------------

def _top_p_public() -> list[Case]:
    probs = torch.tensor([[0.05, 0.5, 0.15, 0.3]])
    return [
        Case((probs.log(), 0.45), note="the most probable token alone reaches p"),
        Case((probs.log(), 0.7), note="0.5 < 0.7: the token that crosses p (0.3) is kept too"),
        Case((probs.log(), 0.9), note="0.5 + 0.3 < 0.9: three tokens"),
        Case((probs.log(), 0.3), {"min_tokens_to_keep": 2}, note="min_tokens_to_keep keeps the top 2"),
        Case((torch.tensor([[2.0, 1.0, 0.5], [0.0, 0.0, 3.0]]), 1.0), note="p = 1 keeps everything"),
    ]


def _top_p_hidden(rng: random.Random) -> list[Case]:
    g = _generator(rng)
    return [Case((_logits(rng, g), rng.choice((0.3, 0.55, 0.72, 0.9, 0.97))), {"min_tokens_to_keep": rng.choice((1, 2))})
            for _ in range(6)]


register(Exercise("top_p_filter", f"{DECODING}.logits:top_p_filter", _top_p_public, _top_p_hidden))


# --- expand_beams and length_normalised ------------------------------------------------------------------------

def _expand_public() -> list[Case]:
    log_probs = torch.tensor([[[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]]).log()  # 1 item, 2 beams, V = 3
    return [
        Case((torch.tensor([[0.6, 0.4]]).log(), log_probs, 3),
             note="the second beam's best extension beats the first beam's"),
        Case((torch.tensor([[0.0, -1e9]]), log_probs, 2), note="the start: only the first beam is alive"),
    ]


def _expand_hidden(rng: random.Random) -> list[Case]:
    g, cases = _generator(rng), []
    for _ in range(5):
        B, nb, V = rng.randint(1, 3), rng.randint(1, 4), rng.randint(2, 12)
        scores = -3 * torch.rand(B, nb, generator=g)
        log_probs = torch.randn(B, nb, V, generator=g).log_softmax(-1)
        cases.append(Case((scores, log_probs, rng.randint(1, nb * V))))
    return cases


register(Exercise("expand_beams", f"{DECODING}.beam_search:expand_beams", _expand_public, _expand_hidden,
                  tolerance="float32"))


def _normalised_public() -> list[Case]:
    return [
        Case((torch.tensor(-6.0), 3, 1.0), note="divide by the length"),
        Case((torch.tensor(-6.0), 3, 0.0), note="length_penalty 0: the raw sum"),
        Case((torch.tensor(-6.0), 4, 2.0), note="length_penalty 2: divide by 4 ** 2"),
    ]


def _normalised_hidden(rng: random.Random) -> list[Case]:
    return [Case((torch.tensor(-10 * rng.random()), rng.randint(1, 20), rng.choice((-1.0, 0.0, 0.5, 1.0, 2.0))))
            for _ in range(5)]


register(Exercise("length_normalised", f"{DECODING}.beam_search:length_normalised", _normalised_public,
                  _normalised_hidden, tolerance="float32"))


# --- update_kv_cache -------------------------------------------------------------------------------------------

def _kv_public() -> list[Case]:
    g = torch.Generator().manual_seed(6)
    past = (torch.randn(1, 2, 3, 4, generator=g), torch.randn(1, 2, 3, 4, generator=g))
    new = (torch.randn(1, 2, 1, 4, generator=g), torch.randn(1, 2, 1, 4, generator=g))
    return [
        Case((past, *new), note="3 cached positions, 1 new"),
        Case((None, *past), note="no cache yet: the new keys and values are the cache"),
    ]


def _kv_hidden(rng: random.Random) -> list[Case]:
    g, cases = _generator(rng), []
    for _ in range(4):
        B, H, T, T_new, hs = rng.randint(1, 3), rng.randint(1, 4), rng.randint(1, 6), rng.randint(1, 3), rng.randint(1, 5)
        past = (torch.randn(B, H, T, hs, generator=g), torch.randn(B, H, T, hs, generator=g))
        cases.append(Case((past, torch.randn(B, H, T_new, hs, generator=g), torch.randn(B, H, T_new, hs, generator=g))))
    return cases


register(Exercise("update_kv_cache", "tlcourse.attention.kv_cache:update_kv_cache", _kv_public, _kv_hidden))
