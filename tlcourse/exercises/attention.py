"""Exercise specs of assignment 02_attention: attention and its masks, heads, positions, the block, the LM head.

Inputs are tensors drawn from a generator seeded by the case's ``random.Random``, so hidden cases are random but
reproducible. Masks come in every documented broadcast shape, and some rows are fully masked (their output must
be zeros, never NaN).
"""

from __future__ import annotations

import random

import torch
from torch import nn

from tlcourse.attention.block import BlockConfig
from tlcourse.exercises.registry import Case, Exercise, register

ATTENTION = "tlcourse.attention"
#: torch's fused attention, which the attention exercises replace (softmax and friends stay allowed).
_FUSED_SDPA = "torch.nn.functional:scaled_dot_product_attention"


def _generator(rng: random.Random) -> torch.Generator:
    return torch.Generator().manual_seed(rng.getrandbits(63))


def _randn(g: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=g)


def _random_mask(rng: random.Random, g: torch.Generator, B: int, H: int, Tq: int, Tk: int) -> torch.Tensor | None:
    """A boolean mask in one of the shapes that broadcast to (B, H, Tq, Tk), or None."""
    shape = rng.choice([None, (Tq, Tk), (B, 1, 1, Tk), (B, 1, Tq, Tk), (B, H, Tq, Tk)])
    if shape is None:
        return None
    return torch.rand(*shape, generator=g) < rng.choice((0.5, 0.7, 0.9))


# --- scaled_dot_product_attention ------------------------------------------------------------------------------

def _sdpa_public() -> list[Case]:
    g = torch.Generator().manual_seed(0)
    q = torch.tensor([[[[1.0, 0.0]]]])  # (B=1, H=1, Tq=1, d=2)
    k = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])  # (1, 1, Tk=2, 2)
    v = torch.tensor([[[[1.0], [3.0]]]])  # (1, 1, 2, dv=1)
    x = _randn(g, 2, 3, 4, 8)  # (B, H, T, d)
    lengths = torch.tensor([4, 2])
    padding = (torch.arange(4) < lengths[:, None])[:, None, None, :]  # (B, 1, 1, Tk)
    causal = torch.ones(4, 4, dtype=torch.bool).tril()  # (Tq, Tk)
    return [
        Case((q, k, v), note="one query, two keys: weights softmax([1/sqrt(2), 0])"),
        Case((x, _randn(g, 2, 3, 4, 8), _randn(g, 2, 3, 4, 8)), note="no mask: every query sees every key"),
        Case((x, x, x, padding), note="padding mask (B, 1, 1, Tk): padded keys get weight 0"),
        Case((x, x, x, causal), note="causal mask (T, T): query i sees keys 0..i"),
        Case((q, k, v, torch.tensor([False, False])), note="a fully masked row: weights and output are zeros"),
        Case((_randn(g, 1, 2, 3, 4), _randn(g, 1, 2, 5, 4), _randn(g, 1, 2, 5, 6)),
             note="cross-attention: Tq=3 queries over Tk=5 keys, values of size 6"),
    ]


def _sdpa_hidden(rng: random.Random) -> list[Case]:
    g, cases = _generator(rng), []
    for _ in range(8):
        B, H, Tq, Tk, d = (rng.randint(1, 3), rng.randint(1, 4), rng.randint(1, 6), rng.randint(1, 6),
                           rng.choice((2, 4, 8)))
        q, k, v = _randn(g, B, H, Tq, d), _randn(g, B, H, Tk, d), _randn(g, B, H, Tk, rng.choice((1, 3, d)))
        cases.append(Case((q, k, v, _random_mask(rng, g, B, H, Tq, Tk))))
    return cases


register(Exercise("scaled_dot_product_attention", f"{ATTENTION}.scaled_dot_product:scaled_dot_product_attention",
                  _sdpa_public, _sdpa_hidden, tolerance="float32", ungraded=("dropout_p", "training"),
                  forbidden=(_FUSED_SDPA,)))


# --- padding_mask ----------------------------------------------------------------------------------------------

def _padding_public() -> list[Case]:
    return [
        Case((torch.tensor([[1, 1, 1, 0, 0]]),), note="one sequence of 3 tokens padded to 5"),
        Case((torch.tensor([[1, 1], [1, 0], [0, 0]]),), note="a batch; the last row is all padding"),
        Case((torch.tensor([[True, False, True]]),), note="a bool mask works the same"),
    ]


def _padding_hidden(rng: random.Random) -> list[Case]:
    g = _generator(rng)
    return [Case((torch.randint(0, 2, (rng.randint(1, 4), rng.randint(1, 8)), generator=g),)) for _ in range(6)]


register(Exercise("padding_mask", f"{ATTENTION}.masks:padding_mask", _padding_public, _padding_hidden))


# --- causal_mask -----------------------------------------------------------------------------------------------

def _causal_public() -> list[Case]:
    return [
        Case((4,), note="4 x 4, lower triangular with the diagonal"),
        Case((1,), note="a single position sees itself"),
        Case((2, 5), note="2 new queries after 3 cached keys: query i sits at position 3 + i"),
    ]


def _causal_hidden(rng: random.Random) -> list[Case]:
    cases = []
    for _ in range(6):
        Tq = rng.randint(1, 8)
        cases.append(Case((Tq,) if rng.random() < 0.5 else (Tq, Tq + rng.randint(0, 6))))
    return cases


register(Exercise("causal_mask", f"{ATTENTION}.masks:causal_mask", _causal_public, _causal_hidden,
                  ungraded=("device",)))


# --- split_heads and merge_heads -------------------------------------------------------------------------------

def _split_public() -> list[Case]:
    return [
        Case((torch.arange(8.0).reshape(1, 2, 4), 2), note="head 1 holds the last two channels of each step"),
        Case((torch.arange(24.0).reshape(2, 3, 4), 4), note="one channel per head"),
        Case((torch.arange(12.0).reshape(1, 2, 6), 1), note="a single head keeps every channel"),
    ]


def _split_hidden(rng: random.Random) -> list[Case]:
    g, cases = _generator(rng), []
    for _ in range(6):
        H = rng.choice((1, 2, 3, 4))
        cases.append(Case((_randn(g, rng.randint(1, 3), rng.randint(1, 5), H * rng.randint(1, 4)), H)))
    return cases


register(Exercise("split_heads", f"{ATTENTION}.multi_head:split_heads", _split_public, _split_hidden))


def _merge_public() -> list[Case]:
    return [
        Case((torch.arange(8.0).reshape(1, 2, 2, 2),), note="(B=1, H=2, T=2, hs=2): step t gets head 0 then head 1"),
        Case((torch.arange(24.0).reshape(2, 3, 4, 1),), note="head size 1"),
    ]


def _merge_hidden(rng: random.Random) -> list[Case]:
    g = _generator(rng)
    return [Case((_randn(g, rng.randint(1, 3), rng.randint(1, 4), rng.randint(1, 5), rng.randint(1, 4)),))
            for _ in range(6)]


register(Exercise("merge_heads", f"{ATTENTION}.multi_head:merge_heads", _merge_public, _merge_hidden))


# --- MultiHeadAttention ----------------------------------------------------------------------------------------

def _mha_public() -> list[Case]:
    g = torch.Generator().manual_seed(1)
    x = _randn(g, 2, 5, 8)  # (B, T, d_model)
    causal = torch.ones(5, 5, dtype=torch.bool).tril()
    padding = (torch.arange(5) < torch.tensor([5, 3])[:, None])[:, None, None, :]  # (B, 1, 1, T)
    init = {"d_model": 8, "n_heads": 2}
    return [
        Case((x,), init=init, note="no mask"),
        Case((x,), {"mask": causal}, init=init, note="causal mask"),
        Case((x, padding), init=init, note="padding mask: the second sequence has 3 tokens"),
        Case((x,), init={"d_model": 8, "n_heads": 8}, note="eight heads of size 1"),
    ]


def _mha_hidden(rng: random.Random) -> list[Case]:
    g, cases = _generator(rng), []
    for _ in range(6):
        H = rng.choice((1, 2, 4))
        d, B, T = H * rng.choice((2, 4)), rng.randint(1, 3), rng.randint(1, 6)
        cases.append(Case((_randn(g, B, T, d), _random_mask(rng, g, B, H, T, T)), init={"d_model": d, "n_heads": H}))
    return cases


register(Exercise("MultiHeadAttention", f"{ATTENTION}.multi_head:MultiHeadAttention", _mha_public, _mha_hidden,
                  tolerance="float32", ungraded=("past_kv", "use_cache", "return_weights", "is_causal"),
                  forbidden=(_FUSED_SDPA, "torch.nn.functional:multi_head_attention_forward",
                             "torch.nn:MultiheadAttention")))


# --- sinusoidal_positions --------------------------------------------------------------------------------------

def _sinusoidal_public() -> list[Case]:
    return [
        Case((3, 4), note="sin, cos, sin, cos at positions 0, 1, 2"),
        Case((1, 2), note="position 0 is [sin 0, cos 0] = [0, 1]"),
        Case((50, 16), note="a longer table"),
    ]


def _sinusoidal_hidden(rng: random.Random) -> list[Case]:
    return [Case((rng.randint(1, 64), 2 * rng.randint(1, 32))) for _ in range(6)]


register(Exercise("sinusoidal_positions", f"{ATTENTION}.positions:sinusoidal_positions", _sinusoidal_public,
                  _sinusoidal_hidden, tolerance="float32", ungraded=("device",)))


# --- TransformerBlock ------------------------------------------------------------------------------------------

def _block_public() -> list[Case]:
    g = torch.Generator().manual_seed(2)
    x = _randn(g, 2, 4, 8)  # (B, T, d_model)
    causal = torch.ones(4, 4, dtype=torch.bool).tril()
    padding = (torch.arange(4) < torch.tensor([4, 2])[:, None])[:, None, None, :]  # (B, 1, 1, T)
    return [
        Case((x, causal), init={"config": BlockConfig.gpt2(d_model=8, n_heads=2)}, note="pre-LN (GPT-2), causal"),
        Case((x, padding), init={"config": BlockConfig.bert(d_model=8, n_heads=2, d_ff=16)},
             note="post-LN (BERT), padding mask"),
        Case((x,), init={"config": BlockConfig.gpt2(d_model=8, n_heads=4, d_ff=12)}, note="pre-LN, no mask"),
    ]


def _block_hidden(rng: random.Random) -> list[Case]:
    g, cases = _generator(rng), []
    for _ in range(6):
        H = rng.choice((1, 2, 4))
        d, B, T = H * rng.choice((2, 4)), rng.randint(1, 3), rng.randint(1, 5)
        layout = BlockConfig.gpt2 if rng.random() < 0.5 else BlockConfig.bert
        config = layout(d_model=d, n_heads=H, d_ff=rng.choice((d, 2 * d, 4 * d)))
        cases.append(Case((_randn(g, B, T, d), _random_mask(rng, g, B, H, T, T)), init={"config": config}))
    return cases


register(Exercise("TransformerBlock", f"{ATTENTION}.block:TransformerBlock", _block_public, _block_hidden,
                  tolerance="float32", ungraded=("past_kv", "use_cache", "return_weights", "is_causal"),
                  forbidden=("torch.nn:TransformerEncoderLayer",)))


# --- LMHead ----------------------------------------------------------------------------------------------------

def _embedding(g: torch.Generator, vocab_size: int, d: int) -> nn.Embedding:
    return nn.Embedding(vocab_size, d, _weight=_randn(g, vocab_size, d))


def _lm_head_public() -> list[Case]:
    g = torch.Generator().manual_seed(3)
    h = _randn(g, 2, 3, 4)  # (B, T, d)
    return [
        Case((h,), init={"embedding": _embedding(g, 10, 4)}, note="GPT-2's head: h @ E^T, no bias"),
        Case((h,), init={"embedding": _embedding(g, 10, 4), "bias": True}, note="BERT's head: h @ E^T + b"),
        Case((h[0, 0],), init={"embedding": _embedding(g, 7, 4)}, note="a single vector (d,) gives (V,) logits"),
    ]


def _lm_head_hidden(rng: random.Random) -> list[Case]:
    g, cases = _generator(rng), []
    for _ in range(6):
        V, d = rng.randint(2, 30), rng.randint(1, 8)
        init = {"embedding": _embedding(g, V, d), "bias": rng.random() < 0.5}
        cases.append(Case((_randn(g, rng.randint(1, 3), rng.randint(1, 4), d),), init=init))
    return cases


register(Exercise("LMHead", f"{ATTENTION}.lm_head:LMHead", _lm_head_public, _lm_head_hidden, tolerance="float32"))
