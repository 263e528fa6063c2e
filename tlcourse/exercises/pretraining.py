"""Exercise specs of assignments 03_pretraining_mlm and 04_pretraining_clm.

03: BERT's token masking (bit-exact with transformers' collator for a given generator), NSP pairs and the pair
input, the input embeddings and the MLM loss. 04: shifting for teacher forcing, the CLM loss and block packing (the
causal mask is 02's exercise, graded again in 04).
"""

from __future__ import annotations

import random

import torch

from tlcourse.exercises.registry import Case, Exercise, register
from tlcourse.models.bert import BertConfig

PRETRAINING = "tlcourse.pretraining"

# [PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3, [MASK]=4, as the course's WordPiece tokenizers number them.
SPECIALS = [0, 1, 2, 3, 4]


def _generator(rng: random.Random) -> torch.Generator:
    return torch.Generator().manual_seed(rng.getrandbits(63))


def _padded_batch(rng: random.Random, g: torch.Generator, vocab_size: int) -> torch.Tensor:
    """``[CLS] tokens [SEP] [PAD]...`` rows of random lengths, (B, T)."""
    B, T = rng.randint(1, 4), rng.randint(4, 24)
    ids = torch.randint(len(SPECIALS), vocab_size, (B, T), generator=g)
    for row in range(B):
        length = rng.randint(3, T)
        ids[row, 0], ids[row, length - 1] = 2, 3
        ids[row, length:] = 0
    return ids


# --- mask_tokens -----------------------------------------------------------------------------------------------

def _mask_kwargs(seed: int, vocab_size: int = 30, mlm_probability: float = 0.15) -> dict:
    return {"mask_token_id": 4, "vocab_size": vocab_size, "special_token_ids": SPECIALS,
            "mlm_probability": mlm_probability, "generator": torch.Generator().manual_seed(seed)}


def _mask_tokens_public() -> list[Case]:
    ids = torch.tensor([[2, 11, 12, 13, 14, 15, 16, 17, 3, 0]])  # [CLS] ... [SEP] [PAD]
    batch = torch.randint(5, 30, (4, 16), generator=torch.Generator().manual_seed(0))
    return [
        Case((ids,), _mask_kwargs(0, mlm_probability=0.5), note="half the tokens selected; specials never"),
        Case((batch,), _mask_kwargs(1), note="a batch with the default 15%"),
        Case((torch.tensor([[2, 3, 0, 0]]),), _mask_kwargs(2, mlm_probability=0.9), note="only specials: none selected"),
        Case((torch.randint(5, 30, (8, 32), generator=torch.Generator().manual_seed(1)),),
             _mask_kwargs(3, mlm_probability=1.0), note="every token of 256 selected: 80/10/10 shows"),
    ]


def _mask_tokens_hidden(rng: random.Random) -> list[Case]:
    cases = []
    for _ in range(8):
        vocab_size = rng.randint(8, 60)
        ids = _padded_batch(rng, _generator(rng), vocab_size)
        kwargs = _mask_kwargs(rng.getrandbits(32), vocab_size, rng.choice((0.15, 0.3, 0.5, 1.0)))
        cases.append(Case((ids,), kwargs))
    return cases


register(Exercise("mask_tokens", f"{PRETRAINING}.masking:mask_tokens", _mask_tokens_public, _mask_tokens_hidden))


# --- mlm_loss --------------------------------------------------------------------------------------------------

def _mlm_loss_public() -> list[Case]:
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(2, 5, 7, generator=g)
    return [
        Case((logits, torch.tensor([[-100, 3, -100, -100, 6], [-100, -100, 0, -100, -100]])),
             note="three masked positions out of ten"),
        Case((logits, torch.randint(7, (2, 5), generator=g)), note="every position masked: plain cross-entropy"),
    ]


def _mlm_loss_hidden(rng: random.Random) -> list[Case]:
    g, cases = _generator(rng), []
    for _ in range(6):
        B, T, V = rng.randint(1, 3), rng.randint(1, 8), rng.randint(2, 20)
        labels = torch.randint(V, (B, T), generator=g)
        labels[torch.rand(B, T, generator=g) < 0.7] = -100
        labels.view(-1)[rng.randrange(B * T)] = rng.randrange(V)  # at least one position counts
        cases.append(Case((3 * torch.randn(B, T, V, generator=g), labels)))
    return cases


register(Exercise("mlm_loss", f"{PRETRAINING}.masking:mlm_loss", _mlm_loss_public, _mlm_loss_hidden,
                  tolerance="float32"))


# --- make_nsp_pairs and bert_inputs ----------------------------------------------------------------------------

def _nsp_public() -> list[Case]:
    docs = [["The cat sat.", "It purred.", "Then it slept."], ["Rain fell.", "Streets flooded."]]
    three = [["a1", "a2", "a3", "a4"], ["b1", "b2"], ["c1", "c2", "c3"]]
    return [
        Case((docs, random.Random(1)), note="two documents"),
        Case((three, random.Random(7)), note="three documents: a NotNext sentence comes from either other one"),
        Case(([["x1"], ["y1", "y2"]], random.Random(0)), note="a one-sentence document gives no pair of its own"),
    ]


def _nsp_hidden(rng: random.Random) -> list[Case]:
    cases = []
    for _ in range(6):
        docs = [[f"d{d}s{s}" for s in range(rng.randint(1, 6))] for d in range(rng.randint(2, 6))]
        cases.append(Case((docs, random.Random(rng.getrandbits(32)))))
    return cases


register(Exercise("make_nsp_pairs", f"{PRETRAINING}.nsp:make_nsp_pairs", _nsp_public, _nsp_hidden))


def _bert_inputs_public() -> list[Case]:
    return [
        Case(([11, 12], [13, 14, 15]), {"cls_id": 2, "sep_id": 3}, note="[CLS] A [SEP] B [SEP]"),
        Case(([7], []), {"cls_id": 101, "sep_id": 102}, note="an empty second segment keeps its [SEP]"),
    ]


def _bert_inputs_hidden(rng: random.Random) -> list[Case]:
    def segment() -> list[int]:
        return [rng.randint(5, 99) for _ in range(rng.randint(0, 8))]

    return [Case((segment(), segment()), {"cls_id": rng.randint(0, 4), "sep_id": rng.randint(0, 4)})
            for _ in range(6)]


register(Exercise("bert_inputs", f"{PRETRAINING}.nsp:bert_inputs", _bert_inputs_public, _bert_inputs_hidden))


# --- BertEmbeddings --------------------------------------------------------------------------------------------

def _tiny_bert(**overrides) -> BertConfig:
    sizes = dict(vocab_size=30, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
                 max_position_embeddings=16)
    return BertConfig(**{**sizes, **overrides})


def _embeddings_public() -> list[Case]:
    ids = torch.tensor([[2, 11, 12, 3, 13, 14, 3, 0]])
    types = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 0]])
    return [
        Case((ids, types), init={"config": _tiny_bert()}, note="a sentence pair with segment ids"),
        Case((ids[:, :3], torch.zeros(1, 3, dtype=torch.long)), init={"config": _tiny_bert()},
             note="one segment: token types all 0"),
    ]


def _embeddings_hidden(rng: random.Random) -> list[Case]:
    g, cases = _generator(rng), []
    for _ in range(5):
        config = _tiny_bert(hidden_size=rng.choice((4, 8, 12)), num_attention_heads=2,
                            type_vocab_size=rng.choice((1, 2, 3)), layer_norm_eps=rng.choice((1e-12, 1e-5)))
        B, T = rng.randint(1, 3), rng.randint(1, 16)
        ids = torch.randint(config.vocab_size, (B, T), generator=g)
        types = torch.randint(config.type_vocab_size, (B, T), generator=g)
        cases.append(Case((ids, types), init={"config": config}))
    return cases


register(Exercise("BertEmbeddings", "tlcourse.models.bert:BertEmbeddings", _embeddings_public, _embeddings_hidden,
                  tolerance="float32"))


# --- shift_for_clm, clm_loss, pack_blocks (04) -----------------------------------------------------------------

def _shift_public() -> list[Case]:
    return [
        Case((torch.tensor([[5, 6, 7, 8]]),), note="read 5 6 7, predict 6 7 8"),
        Case((torch.arange(12).reshape(3, 4),), note="a batch"),
        Case((torch.tensor([[9, 10]]),), note="two tokens: one input, one target"),
    ]


def _shift_hidden(rng: random.Random) -> list[Case]:
    g = _generator(rng)
    return [Case((torch.randint(100, (rng.randint(1, 4), rng.randint(2, 12)), generator=g),)) for _ in range(6)]


register(Exercise("shift_for_clm", f"{PRETRAINING}.clm:shift_for_clm", _shift_public, _shift_hidden))


def _clm_loss_public() -> list[Case]:
    g = torch.Generator().manual_seed(5)
    return [
        Case((torch.zeros(1, 2, 4), torch.tensor([[3, -100]])), note="uniform over 4 tokens: log 4"),
        Case((torch.randn(2, 6, 9, generator=g), torch.randint(9, (2, 6), generator=g)), note="a batch"),
    ]


def _clm_loss_hidden(rng: random.Random) -> list[Case]:
    g, cases = _generator(rng), []
    for _ in range(6):
        B, T, V = rng.randint(1, 3), rng.randint(1, 10), rng.randint(2, 30)
        targets = torch.randint(V, (B, T), generator=g)
        if rng.random() < 0.5:
            targets[:, rng.randrange(T):] = -100  # padding after the end of a sequence
            targets[0, 0] = rng.randrange(V)
        cases.append(Case((3 * torch.randn(B, T, V, generator=g), targets)))
    return cases


register(Exercise("clm_loss", f"{PRETRAINING}.clm:clm_loss", _clm_loss_public, _clm_loss_hidden, tolerance="float32"))


def _pack_public() -> list[Case]:
    return [
        Case(([[5, 6, 7], [8, 9], [10, 11, 12, 13]], 4), {"eos_token_id": 0},
             note="EOS between documents; the last 3 tokens do not fill a block and are dropped"),
        Case(([[1, 2, 3, 4]], 2), {"eos_token_id": 0}, note="one document, no EOS"),
        Case(([[1, 2]], 5), {"eos_token_id": 0}, note="too short for one block: shape (0, 5)"),
    ]


def _pack_hidden(rng: random.Random) -> list[Case]:
    cases = []
    for _ in range(6):
        docs = [[rng.randint(1, 50) for _ in range(rng.randint(0, 9))] for _ in range(rng.randint(1, 6))]
        cases.append(Case((docs, rng.randint(1, 8)), {"eos_token_id": rng.choice((0, 50256))}))
    return cases


register(Exercise("pack_blocks", f"{PRETRAINING}.clm:pack_blocks", _pack_public, _pack_hidden))
