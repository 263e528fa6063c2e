"""Exercise specs of assignment 06_finetuning: the parts of fine-tuning a pretrained encoder.

Mean pooling with a mask, the softmax classification head, the ``[CLS] A [SEP] B [SEP]`` input with HF's
longest-first truncation, word-to-sub-word label alignment, freezing by parameter name, and one training step.
``freeze_except`` and ``training_step`` are judged by what they do to the model (``Exercise.observe``): which
parameters are trainable afterwards, and the weights after the step.
"""

from __future__ import annotations

import random

import torch
from torch import nn

from tlcourse.exercises.registry import Case, Exercise, register
from tlcourse.models.bert import BertConfig, BertModel

FINETUNING = "tlcourse.finetuning"


def _generator(rng: random.Random) -> torch.Generator:
    return torch.Generator().manual_seed(rng.getrandbits(63))


def _mask(rng: random.Random, B: int, T: int) -> torch.Tensor:
    """Right-padded 0/1 rows, each with at least one token."""
    lengths = [rng.randint(1, T) for _ in range(B)]
    return torch.tensor([[1] * n + [0] * (T - n) for n in lengths])


# --- mean_pooling ------------------------------------------------------------------------------------------------

def _pooling_public() -> list[Case]:
    h = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [50.0, 60.0]],
                      [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]])  # (B=2, T=3, H=2)
    return [
        Case((h, torch.tensor([[1, 1, 0], [1, 1, 1]])), note="the padded position of row 0 must not count"),
        Case((h, torch.tensor([[1, 0, 0], [0, 1, 1]])), note="one token; a mask that is not a prefix"),
        Case((h, torch.tensor([[0, 0, 0], [1, 1, 1]])),
             note="a row of padding only gives zeros (clamp the count at 1e-9, as sentence-transformers does)"),
    ]


def _pooling_hidden(rng: random.Random) -> list[Case]:
    g, cases = _generator(rng), []
    for _ in range(6):
        B, T, H = rng.randint(1, 4), rng.randint(1, 12), rng.randint(1, 16)
        h = torch.randn(B, T, H, generator=g) * rng.choice((1.0, 10.0))
        cases.append(Case((h, _mask(rng, B, T))))
    return cases


register(Exercise("mean_pooling", f"{FINETUNING}.pooling:mean_pooling", _pooling_public, _pooling_hidden,
                  tolerance="float32"))


# --- classification_head -----------------------------------------------------------------------------------------

def _head_public() -> list[Case]:
    return [
        Case((torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), torch.zeros(3)),
             note="one sentence vector, three classes"),
        Case((torch.tensor([[1.0, 2.0], [0.0, 0.0]]), torch.tensor([[1.0, -1.0], [0.5, 0.5]]),
              torch.tensor([0.0, 3.0])), note="the bias shifts the classes"),
        Case((torch.tensor([[100.0, 0.0]]), torch.tensor([[1.0, 0.0], [0.0, 0.0]]), torch.zeros(2)),
             note="large logits: softmax must not overflow"),
    ]


def _head_hidden(rng: random.Random) -> list[Case]:
    g, cases = _generator(rng), []
    for _ in range(6):
        B, H, C = rng.randint(1, 5), rng.randint(1, 16), rng.randint(2, 6)
        cases.append(Case((torch.randn(B, H, generator=g), torch.randn(C, H, generator=g),
                           torch.randn(C, generator=g))))
    return cases


register(Exercise("classification_head", f"{FINETUNING}.heads:classification_head", _head_public, _head_hidden,
                  tolerance="float32"))


# --- pair_input --------------------------------------------------------------------------------------------------

def _pair(a: list[int], b: list[int] | None, max_length: int, note: str = "") -> Case:
    return Case((a, b), {"cls_id": 2, "sep_id": 3, "max_length": max_length}, note=note)


def _pair_public() -> list[Case]:
    return [
        _pair([10, 11, 12], [20, 21], 16, "the pair fits: nothing is cut"),
        _pair([10, 11, 12, 13, 14, 15, 16, 17, 18, 19], [20, 21], 10, "the short one fits in half: the long one is cut"),
        _pair([10, 11, 12, 13, 14, 15], [20, 21, 22, 23, 24, 25], 10, "both long: 3 and 4 (the second gets the odd one)"),
        _pair([10, 11, 12, 13, 14, 15, 16], [20, 21, 22, 23, 24, 25], 10, "both long, the first longer: it gets the 4"),
        _pair([10, 11, 12, 13, 14, 15], None, 5, "one sequence: [CLS] A [SEP], cut at the end"),
    ]


def _pair_hidden(rng: random.Random) -> list[Case]:
    cases = []
    for _ in range(10):
        a = [rng.randint(5, 99) for _ in range(rng.randint(0, 20))]
        b = None if rng.random() < 0.2 else [rng.randint(5, 99) for _ in range(rng.randint(0, 20))]
        cases.append(_pair(a, b, rng.randint(3, 30)))
    return cases


register(Exercise("pair_input", f"{FINETUNING}.inputs:pair_input", _pair_public, _pair_hidden))


# --- align_labels ------------------------------------------------------------------------------------------------

def _align_public() -> list[Case]:
    return [
        Case(([None, 0, 1, 1, 1, 2, None], [5, 0, 7]), note="[CLS] the una ##ffa ##ble cat [SEP]"),
        Case(([None, 0, 1, 2, None], [1, 2, 3]), note="one token per word"),
        Case(([None, 0, 0, 1, None, None, None], [4, 6]), note="padding after [SEP] is ignored too"),
        Case(([None, 0, 1, 1, None], [3, 3, 8, 9]), note="truncated: words 2 and 3 have no tokens"),
    ]


def _align_hidden(rng: random.Random) -> list[Case]:
    cases = []
    for _ in range(8):
        n_words = rng.randint(1, 10)
        word_ids: list[int | None] = [None]
        for w in range(n_words):
            word_ids += [w] * rng.randint(1, 3)
        cut = rng.randint(2, len(word_ids))  # truncation may cut the last words
        word_ids = word_ids[:cut] + [None] + [None] * rng.randint(0, 3)
        cases.append(Case((word_ids, [rng.randint(0, 16) for _ in range(n_words)])))
    return cases


register(Exercise("align_labels", f"{FINETUNING}.alignment:align_labels", _align_public, _align_hidden))


# --- freeze_except -----------------------------------------------------------------------------------------------

def _tiny_classifier(seed: int, num_labels: int = 3, layers: int = 2) -> nn.Module:
    from tlcourse.finetuning.heads import SequenceClassifier

    torch.manual_seed(seed)
    encoder = BertModel(BertConfig(vocab_size=40, hidden_size=8, num_hidden_layers=layers, num_attention_heads=2,
                                   intermediate_size=16, max_position_embeddings=16, hidden_dropout_prob=0.0,
                                   attention_probs_dropout_prob=0.0))
    return SequenceClassifier(encoder, num_labels, pooling="mean", dropout=0.0)


def _trainable_after(result, args, kwargs) -> tuple:
    """The returned count and every parameter's ``requires_grad`` afterwards."""
    model = args[0] if args else kwargs["model"]
    return result, {name: p.requires_grad for name, p in model.named_parameters()}


def _freeze_public() -> list[Case]:
    from tlcourse.models import BertForMaskedLM

    partly_frozen = _tiny_classifier(1)
    partly_frozen.head.requires_grad_(False)
    torch.manual_seed(0)
    tied = BertForMaskedLM(BertConfig(vocab_size=40, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                      intermediate_size=16, max_position_embeddings=16))
    return [
        Case((_tiny_classifier(0), ["head."]), note="only the head"),
        Case((_tiny_classifier(0), ["head.", "encoder.layers.1."]), note="the head and the top layer"),
        Case((partly_frozen, ["head."]), note="a frozen head must become trainable again"),
        Case((tied, ["bert.embeddings.", "decoder."]), note="a tied weight (decoder = embeddings) counts once"),
        Case((_tiny_classifier(0), []), note="nothing trainable"),
    ]


def _freeze_hidden(rng: random.Random) -> list[Case]:
    cases = []
    for _ in range(5):
        layers = rng.randint(1, 3)
        model = _tiny_classifier(rng.randint(0, 99), layers=layers)
        names = [name for name, _ in model.named_parameters()]
        options = ["head.", "encoder.embeddings.", "encoder.pooler.", *(f"encoder.layers.{i}." for i in range(layers)),
                   rng.choice(names)]
        cases.append(Case((model, rng.sample(options, rng.randint(0, len(options))))))
    return cases


register(Exercise("freeze_except", f"{FINETUNING}.freezing:freeze_except", _freeze_public, _freeze_hidden,
                  observe=_trainable_after))


# --- training_step -----------------------------------------------------------------------------------------------

def _step_case(seed: int, optimizer: str, lr: float, frozen_encoder: bool = False, note: str = "") -> Case:
    model = _tiny_classifier(seed)
    if frozen_encoder:
        model.encoder.requires_grad_(False)
    g = torch.Generator().manual_seed(seed)
    B, T = 4, 6
    batch = {"input_ids": torch.randint(5, 40, (B, T), generator=g),
             "attention_mask": torch.tensor([[1] * (T - i) + [0] * i for i in range(B)]),
             "labels": torch.randint(0, 3, (B,), generator=g)}
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = (torch.optim.SGD(trainable, lr=lr) if optimizer == "sgd" else torch.optim.AdamW(trainable, lr=lr))
    return Case((model, batch, opt), note=note)


def _earlier_backward(args, kwargs) -> None:
    """Leave the gradients of another batch in ``.grad``, as the previous step of a loop does."""
    model, batch = args[0], args[1]
    model(**{**batch, "labels": batch["labels"].flip(0)}).loss.backward()


def _state_after(result, args, kwargs) -> tuple:
    """The returned loss and every weight after the step."""
    model = args[0] if args else kwargs["model"]
    return result, {name: t.detach().clone() for name, t in model.state_dict().items()}


def _step_public() -> list[Case]:
    # Every case starts with the previous batch's gradients in .grad (see _earlier_backward).
    return [
        _step_case(0, "sgd", 0.5, note="plain SGD; .grad still holds the previous batch's gradients: clear them"),
        _step_case(1, "adamw", 1e-2, note="AdamW"),
        _step_case(2, "sgd", 0.5, frozen_encoder=True, note="a frozen encoder: only the head moves"),
    ]


def _step_hidden(rng: random.Random) -> list[Case]:
    return [_step_case(rng.randint(0, 999), rng.choice(("sgd", "adamw")), rng.choice((1e-3, 1e-2, 0.3)),
                       frozen_encoder=rng.random() < 0.3) for _ in range(4)]


register(Exercise("training_step", f"{FINETUNING}.training:training_step", _step_public, _step_hidden,
                  tolerance="float32", observe=_state_after, prepare=_earlier_backward))
