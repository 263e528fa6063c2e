"""Causal-LM (GPT) pretraining data and evaluation: pack documents into blocks, teacher forcing, perplexity.

Documents are joined into one token stream with an end-of-text token between them and cut into blocks of equal
length, as transformers' ``run_clm.py`` (``group_texts``) does: no padding, and the short tail is dropped. With
teacher forcing the model reads ``x[:, :-1]`` and is scored on predicting ``x[:, 1:]``: every position learns
from the true previous tokens, never from its own guesses. Perplexity is ``exp`` of the mean next-token loss.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from tlcourse.checks import reference
from tlcourse.models.validation import check_input_ids
from tlcourse.pretraining.losses import token_cross_entropy


@reference
def pack_blocks(token_id_lists: Sequence[Sequence[int]], block_size: int, *, eos_token_id: int) -> Tensor:
    """Concatenate documents with ``eos_token_id`` between them and cut the stream into full blocks.

    The stream is ``doc_0 + [eos] + doc_1 + [eos] + ... + doc_n``; its last ``len(stream) % block_size`` tokens
    are dropped, as in ``run_clm``'s ``group_texts``.

    Shapes:
        returns (len(stream) // block_size, block_size), int64; (0, block_size) when the stream is shorter.

    Example:
        >>> pack_blocks([[5, 6, 7], [8, 9], [10, 11, 12, 13]], 4, eos_token_id=0)
        tensor([[ 5,  6,  7,  0],
                [ 8,  9,  0, 10]])
    """
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size: expected a positive int, got {block_size!r}")
    stream: list[int] = []
    for i, ids in enumerate(token_id_lists):
        if i > 0:
            stream.append(eos_token_id)
        stream.extend(ids)
    n_blocks = len(stream) // block_size
    return torch.tensor(stream[: n_blocks * block_size], dtype=torch.long).reshape(n_blocks, block_size)


@reference
def shift_for_clm(input_ids: Tensor) -> tuple[Tensor, Tensor]:
    """Teacher forcing: the model reads ``input_ids[:, :-1]`` and predicts ``input_ids[:, 1:]``.

    ``GPT2LMHeadModel(ids, labels=ids)`` makes this shift inside (transformers' and ours); this is the explicit
    version: ``clm_loss(model(inputs).logits, targets)`` equals ``model(ids, labels=ids).loss``.

    Shapes:
        input_ids: (B, T), integer, T >= 2; returns (inputs, targets), both (B, T - 1).

    Example:
        >>> shift_for_clm(torch.tensor([[5, 6, 7, 8]]))
        (tensor([[5, 6, 7]]), tensor([[6, 7, 8]]))
    """
    check_input_ids(input_ids)
    if input_ids.shape[1] < 2:
        raise ValueError(f"input_ids: expected at least 2 positions (an input and its next token), "
                         f"got shape {tuple(input_ids.shape)}")
    return input_ids[:, :-1], input_ids[:, 1:]


@reference
def clm_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean next-token cross-entropy of already shifted ``targets`` (see :func:`shift_for_clm`), -100 ignored.

    As transformers' GPT-2 loss (``ForCausalLMLoss``, here :func:`~tlcourse.models.causal_lm_loss`) after its
    shift: the logits are upcast to float32 and the mean is over targets that are not -100.

    Shapes:
        logits: (B, T, V); targets: (B, T), integer; returns a scalar.

    Example:
        >>> clm_loss(torch.zeros(1, 2, 4), torch.tensor([[3, -100]]))     # uniform over 4 tokens: log 4
        tensor(1.3863)
    """
    return token_cross_entropy(logits, targets, name="targets")


def perplexity(mean_loss: float | Tensor) -> float:
    """``exp(mean_loss)``: the effective number of equally likely next tokens the model hesitates between.

    Example:
        >>> round(perplexity(math.log(50.0)), 6)         # as unsure as a uniform choice among 50 tokens
        50.0
    """
    return math.exp(float(mean_loss))


@torch.no_grad()
def evaluate_perplexity(model: nn.Module, blocks: Tensor, batch_size: int, *, progress: bool = False) -> float:
    """Perplexity of a causal LM on packed ``blocks`` (:func:`pack_blocks`), in eval mode and without gradients.

    ``model(input_ids)`` must return an object with ``.logits`` (ours and transformers' ``GPT2LMHeadModel`` do).
    The loss is averaged over every predicted token of every block (each block scores ``T - 1`` targets), then
    exponentiated; the model's train/eval mode is restored afterwards.

    Shapes:
        blocks: (N, T), integer, N >= 1, T >= 2; returns a float.

    Example:
        >>> from tlcourse.models import GPT2Config, GPT2LMHeadModel
        >>> _ = torch.manual_seed(0)
        >>> model = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_positions=16, n_embd=8, n_layer=1, n_head=2))
        >>> blocks = pack_blocks([list(range(1, 30)), list(range(30, 45))], 8, eos_token_id=0)
        >>> 40 < evaluate_perplexity(model, blocks, batch_size=2) < 60     # untrained: close to the vocab size
        True
    """
    check_input_ids(blocks)
    if len(blocks) == 0:
        raise ValueError("blocks: expected at least one block, got none (is the text shorter than a block?)")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    device = next(model.parameters()).device
    for start in tqdm(range(0, len(blocks), batch_size), desc="perplexity", disable=not progress):
        inputs, targets = shift_for_clm(blocks[start : start + batch_size].to(device))  # (b, T - 1) each
        n = targets.numel()
        total += float(clm_loss(model(inputs).logits, targets)) * n
        count += n
    model.train(was_training)
    return perplexity(total / count)
