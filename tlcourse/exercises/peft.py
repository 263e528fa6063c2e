"""Exercise specs of assignment 07_peft: the pieces of parameter-efficient fine-tuning.

The bottleneck adapter with its residual and its parameter count, the LoRA layer's output and its merged weight,
BitFit's choice of parameters, and the prompt-tuning input. ``non_linearity`` / ``residual`` (adapters) and
``dropout`` (LoRA) are options of the references that the exercises leave out.
"""

from __future__ import annotations

import random

import torch

from tlcourse.exercises.registry import Case, Exercise, register

PEFT = "tlcourse.peft"
#: The peft library, whose LoRA layers compute what the LoRA exercises ask: not to be imported or called.
_PEFT_LORA = ("peft", "peft.tuners.lora.layer:LoraLayer", "peft.tuners.lora.layer:Linear")


def _generator(rng: random.Random) -> torch.Generator:
    return torch.Generator().manual_seed(rng.getrandbits(63))


# --- adapter_forward ---------------------------------------------------------------------------------------------

def _adapter_weights(g: torch.Generator, d: int, m: int, zero_up: bool = False) -> tuple:
    down_w, down_b = torch.randn(m, d, generator=g), torch.randn(m, generator=g)
    up_w = torch.zeros(d, m) if zero_up else torch.randn(d, m, generator=g)
    up_b = torch.zeros(d) if zero_up else torch.randn(d, generator=g)
    return down_w, down_b, up_w, up_b


def _adapter_public() -> list[Case]:
    g = torch.Generator().manual_seed(0)
    h = torch.tensor([[1.0, -2.0]])
    return [
        Case((h, torch.tensor([[1.0, 1.0]]), torch.tensor([3.0]), torch.tensor([[1.0], [-1.0]]),
              torch.tensor([0.5, 0.5])), note="d=2, m=1: h + W_up relu(W_down h + b_down) + b_up"),
        Case((h, torch.tensor([[1.0, 1.0]]), torch.tensor([-5.0]), torch.tensor([[1.0], [-1.0]]), torch.zeros(2)),
             note="relu cuts a negative bottleneck: the output is h"),
        Case((torch.randn(2, 3, 8, generator=g), *_adapter_weights(g, 8, 2, zero_up=True)),
             note="a zero up-projection: the adapter is the identity"),
        Case((torch.randn(2, 3, 8, generator=g), *_adapter_weights(g, 8, 2)), note="a batch of sequences"),
    ]


def _adapter_hidden(rng: random.Random) -> list[Case]:
    g, cases = _generator(rng), []
    for _ in range(5):
        d, m = rng.randint(2, 24), rng.randint(1, 6)
        shape = rng.choice(((d,), (rng.randint(1, 4), d), (rng.randint(1, 3), rng.randint(1, 5), d)))
        cases.append(Case((torch.randn(*shape, generator=g), *_adapter_weights(g, d, m, zero_up=rng.random() < 0.2))))
    return cases


register(Exercise("adapter_forward", f"{PEFT}.adapters:adapter_forward", _adapter_public, _adapter_hidden,
                  tolerance="float32", ungraded=("non_linearity", "residual")))


# --- adapter_parameter_count -------------------------------------------------------------------------------------

def _count_public() -> list[Case]:
    return [
        Case((768, 48), note="BERT-base with reduction factor 16"),
        Case((384, 24), note="MiniLM with reduction factor 16"),
        Case((4, 1), note="a tiny one: W_down 1x4, b_down 1, W_up 4x1, b_up 4"),
    ]


def _count_hidden(rng: random.Random) -> list[Case]:
    return [Case((rng.randint(1, 4096), rng.randint(1, 512))) for _ in range(6)]


register(Exercise("adapter_parameter_count", f"{PEFT}.adapters:adapter_parameter_count", _count_public,
                  _count_hidden))


# --- lora_forward ------------------------------------------------------------------------------------------------

def _lora_tensors(g: torch.Generator, n_in: int, n_out: int, r: int, bias: bool) -> tuple:
    return (torch.randn(n_out, n_in, generator=g), torch.randn(n_out, generator=g) if bias else None,
            torch.randn(r, n_in, generator=g), torch.randn(n_out, r, generator=g))


def _lora_public() -> list[Case]:
    g = torch.Generator().manual_seed(0)
    x = torch.tensor([[1.0, 2.0]])
    return [
        Case((x, torch.eye(2), None, torch.tensor([[1.0, 1.0]]), torch.tensor([[0.5], [0.0]]), 2.0),
             note="W = I, r = 1, no bias: x + 2 * (B A) x"),
        Case((x, torch.eye(2), torch.tensor([1.0, -1.0]), torch.tensor([[1.0, 1.0]]), torch.zeros(2, 1), 4.0),
             note="B = 0 (LoRA's initialisation): the frozen layer alone"),
        Case((torch.randn(3, 5, 6, generator=g), *_lora_tensors(g, 6, 4, 2, bias=True), 0.5),
             note="a batch of sequences, in=6, out=4, r=2"),
    ]


def _lora_hidden(rng: random.Random) -> list[Case]:
    g, cases = _generator(rng), []
    for _ in range(5):
        n_in, n_out, r = rng.randint(1, 16), rng.randint(1, 16), rng.randint(1, 4)
        shape = rng.choice(((n_in,), (rng.randint(1, 4), n_in), (2, rng.randint(1, 5), n_in)))
        cases.append(Case((torch.randn(*shape, generator=g), *_lora_tensors(g, n_in, n_out, r, rng.random() < 0.7),
                           rng.choice((0.5, 1.0, 2.0, 16 / 8 ** 0.5)))))
    return cases


register(Exercise("lora_forward", f"{PEFT}.lora:lora_forward", _lora_public, _lora_hidden, tolerance="float32",
                  ungraded=("dropout",), forbidden=_PEFT_LORA))


# --- merge_lora --------------------------------------------------------------------------------------------------

def _merge_public() -> list[Case]:
    g = torch.Generator().manual_seed(1)
    return [
        Case((torch.eye(2), torch.tensor([[1.0, 1.0]]), torch.tensor([[0.5], [0.0]]), 2.0), note="W = I, r = 1"),
        Case((torch.randn(4, 6, generator=g), torch.randn(2, 6, generator=g), torch.zeros(4, 2), 8.0),
             note="B = 0: merging changes nothing"),
        Case((torch.randn(3, 5, generator=g), torch.randn(2, 5, generator=g), torch.randn(3, 2, generator=g), 0.25),
             note="a non-square weight, r = 2"),
    ]


def _merge_hidden(rng: random.Random) -> list[Case]:
    g, cases = _generator(rng), []
    for _ in range(5):
        n_in, n_out, r = rng.randint(1, 16), rng.randint(1, 16), rng.randint(1, 4)
        weight, _, a, b = _lora_tensors(g, n_in, n_out, r, bias=False)
        cases.append(Case((weight, a, b, rng.choice((0.5, 1.0, 2.0)))))
    return cases


register(Exercise("merge_lora", f"{PEFT}.lora:merge_lora", _merge_public, _merge_hidden, tolerance="float32",
                  forbidden=_PEFT_LORA))


# --- bitfit_parameters -------------------------------------------------------------------------------------------

#: One layer of transformers' BertForSequenceClassification, its embeddings, pooler and classifier.
_HF_NAMES = [
    "bert.embeddings.word_embeddings.weight", "bert.embeddings.position_embeddings.weight",
    "bert.embeddings.token_type_embeddings.weight", "bert.embeddings.LayerNorm.weight",
    "bert.embeddings.LayerNorm.bias",
    *(f"bert.encoder.layer.0.{part}.{kind}" for part in (
        "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
        "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm")
      for kind in ("weight", "bias")),
    "bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight", "classifier.bias",
]
#: The same parts in tlcourse's SequenceClassifier (its head is ``head``).
_OUR_NAMES = [
    "encoder.embeddings.word_embeddings.weight", "encoder.embeddings.norm.weight", "encoder.embeddings.norm.bias",
    "encoder.layers.0.attn.query.weight", "encoder.layers.0.attn.query.bias", "encoder.layers.0.ln_1.weight",
    "encoder.layers.0.ln_1.bias", "encoder.layers.0.fc_in.weight", "encoder.layers.0.fc_in.bias",
    "encoder.pooler.weight", "encoder.pooler.bias", "head.out.weight", "head.out.bias",
]


def _bitfit_public() -> list[Case]:
    return [
        Case((_HF_NAMES,), note="transformers' BERT classifier: every bias, LayerNorm biases too, and the classifier"),
        Case((_OUR_NAMES,), note="tlcourse's SequenceClassifier: its task head is 'head'"),
        Case((["bert.embeddings.LayerNorm.weight", "bert.encoder.layer.0.output.dense.weight"],),
             note="LayerNorm gains and weights stay frozen: nothing is selected"),
    ]


def _bitfit_hidden(rng: random.Random) -> list[Case]:
    names = _HF_NAMES + _OUR_NAMES
    return [Case((rng.sample(names, rng.randint(0, len(names))),)) for _ in range(5)]


register(Exercise("bitfit_parameters", f"{PEFT}.bitfit:bitfit_parameters", _bitfit_public, _bitfit_hidden))


# --- prompt_inputs -----------------------------------------------------------------------------------------------

def _prompt_public() -> list[Case]:
    g = torch.Generator().manual_seed(2)
    return [
        Case((torch.ones(2, 3, 4), torch.zeros(2, 4), torch.tensor([[1, 1, 1], [1, 1, 0]])),
             note="P=2 virtual tokens before T=3 words; the mask gets P ones in front"),
        Case((torch.randn(1, 4, 3, generator=g), torch.randn(5, 3, generator=g), None),
             note="no mask given: no padding, all ones"),
        Case((torch.randn(3, 2, 6, generator=g), torch.randn(1, 6, generator=g), torch.tensor([[1, 0], [1, 1], [1, 0]])),
             note="one virtual token, the same for every sequence"),
    ]


def _prompt_hidden(rng: random.Random) -> list[Case]:
    g, cases = _generator(rng), []
    for _ in range(5):
        B, T, H, P = rng.randint(1, 4), rng.randint(1, 6), rng.randint(1, 8), rng.randint(1, 5)
        mask = None if rng.random() < 0.3 else torch.tensor([[1] * n + [0] * (T - n) for n in
                                                              (rng.randint(1, T) for _ in range(B))])
        cases.append(Case((torch.randn(B, T, H, generator=g), torch.randn(P, H, generator=g), mask)))
    return cases


register(Exercise("prompt_inputs", f"{PEFT}.prompt_tuning:prompt_inputs", _prompt_public, _prompt_hidden))
