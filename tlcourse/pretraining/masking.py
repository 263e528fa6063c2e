"""Masked-language-model corruption: BERT's 15 % selection with 80/10/10 replacement, and whole-word masking.

BERT picks each (non-special) token with probability 0.15; a picked token becomes ``[MASK]`` 80 % of the time, a
random token 10 % of the time and stays itself 10 % of the time, and only picked tokens are scored
(``labels`` is -100 elsewhere). The draws follow transformers' ``DataCollatorForLanguageModeling`` exactly, so with
the same ``torch.Generator`` seed the result is bit-identical to its output:

1. ``bernoulli(P)`` over the batch, ``P = mlm_probability`` except 0 at special tokens: the selection;
2. ``bernoulli(mask_replace_prob)``: which selected tokens become ``[MASK]``;
3. ``bernoulli(random_replace_prob / (1 - mask_replace_prob))``: which of the others become random tokens;
4. ``randint(vocab_size)``: the random tokens (drawn for every position, used where step 3 says so).

Steps 3 and 4 are skipped when ``mask_replace_prob == 1`` or ``random_replace_prob == 0``, as there.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from tlcourse.checks import reference
from tlcourse.models.validation import check_ids, check_input_ids
from tlcourse.pretraining.losses import token_cross_entropy


def _check_probability(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: expected a probability in [0, 1], got {value!r}")


def special_tokens_mask(input_ids: Tensor, special_token_ids: Iterable[int]) -> Tensor:
    """``True`` where ``input_ids`` holds one of ``special_token_ids`` ([CLS], [SEP], [PAD], [MASK], [UNK]...).

    Shapes:
        input_ids: (B, T), integer; returns (B, T), bool.

    Example:
        >>> special_tokens_mask(torch.tensor([[2, 17, 3, 0]]), [0, 2, 3])
        tensor([[ True, False,  True,  True]])
    """
    specials = torch.tensor(sorted(set(special_token_ids)), dtype=input_ids.dtype, device=input_ids.device)
    return torch.isin(input_ids, specials)


def replace_selected(
    input_ids: Tensor,
    selected: Tensor,
    *,
    mask_token_id: int,
    vocab_size: int,
    mask_replace_prob: float = 0.8,
    random_replace_prob: float = 0.1,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Corrupt the ``selected`` tokens (steps 2-4 of the module docstring) and label them.

    A selected token becomes ``mask_token_id`` with probability ``mask_replace_prob``, a uniform random id in
    ``[0, vocab_size)`` with probability ``random_replace_prob``, and stays itself otherwise. ``labels`` holds the
    original id at selected positions and -100 elsewhere. ``input_ids`` is not modified.

    Shapes:
        input_ids: (B, T), integer; selected: (B, T), bool; returns (masked_input_ids, labels), both (B, T) with
        the dtype and device of ``input_ids``.

    Example:
        >>> ids = torch.tensor([[2, 11, 12, 13, 3]])
        >>> selected = torch.tensor([[False, True, False, True, False]])
        >>> replace_selected(ids, selected, mask_token_id=4, vocab_size=20, mask_replace_prob=1.0,
        ...                  random_replace_prob=0.0)
        (tensor([[ 2,  4, 12,  4,  3]]), tensor([[-100,   11, -100,   13, -100]]))
    """
    check_input_ids(input_ids)
    if not isinstance(selected, Tensor) or selected.dtype != torch.bool or selected.shape != input_ids.shape:
        got = f"{selected.dtype} tensor of shape {tuple(selected.shape)}" if isinstance(selected, Tensor) else (
            type(selected).__name__)
        raise ValueError(f"selected: expected a bool tensor of shape {tuple(input_ids.shape)}, got {got}")
    _check_probability("mask_replace_prob", mask_replace_prob)
    _check_probability("random_replace_prob", random_replace_prob)
    if mask_replace_prob + random_replace_prob > 1.0:
        raise ValueError(f"mask_replace_prob + random_replace_prob: expected at most 1, got "
                         f"{mask_replace_prob} + {random_replace_prob}")
    device, shape = input_ids.device, input_ids.shape
    ids, selected = input_ids.cpu(), selected.cpu()  # drawn on the CPU, as transformers' collator does
    labels = ids.clone()
    labels[~selected] = -100
    masked = ids.clone()
    replaced = torch.bernoulli(torch.full(shape, float(mask_replace_prob)), generator=generator).bool() & selected
    masked[replaced] = mask_token_id
    if mask_replace_prob < 1.0 and random_replace_prob > 0.0:
        scaled = random_replace_prob / (1.0 - mask_replace_prob)  # of the selected tokens not turned into [MASK]
        randomised = torch.bernoulli(torch.full(shape, scaled), generator=generator).bool() & selected & ~replaced
        random_ids = torch.randint(vocab_size, shape, dtype=torch.long, generator=generator)
        masked[randomised] = random_ids[randomised].to(masked.dtype)
    return masked.to(device), labels.to(device)


@reference
def mask_tokens(
    input_ids: Tensor,
    *,
    mask_token_id: int,
    vocab_size: int,
    special_token_ids: Iterable[int],
    mlm_probability: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """BERT's masking: select each non-special token with probability ``mlm_probability``, then 80/10/10.

    Selection is a Bernoulli draw per token (about, not exactly, 15 % of a sequence). A selected token becomes
    ``[MASK]`` (80 %), a random id in ``[0, vocab_size)`` (10 %, special ids included), or stays (10 %); labels are
    the original ids at selected positions and -100 elsewhere. Tokens in ``special_token_ids`` (include the padding
    id) are never selected. The draws are those of transformers' ``DataCollatorForLanguageModeling`` (module
    docstring): with ``generator = torch.Generator().manual_seed(s)``, ``vocab_size = len(tokenizer)`` and
    ``special_token_ids = tokenizer.all_special_ids`` the output equals its output with ``seed=s`` bit for bit.
    ``generator=None`` draws from torch's global generator.

    Shapes:
        input_ids: (B, T), integer; returns (masked_input_ids, labels), both (B, T), integer.

    Example:
        >>> ids = torch.tensor([[2, 11, 12, 13, 14, 15, 16, 17, 3, 0]])          # [CLS] ... [SEP] [PAD]
        >>> g = torch.Generator().manual_seed(0)
        >>> masked, labels = mask_tokens(ids, mask_token_id=4, vocab_size=20, special_token_ids=[0, 2, 3],
        ...                              mlm_probability=0.5, generator=g)
        >>> masked
        tensor([[ 2, 11,  4,  4,  4, 15,  4, 17,  3,  0]])
        >>> labels
        tensor([[-100, -100,   12,   13,   14, -100,   16, -100, -100, -100]])
    """
    check_input_ids(input_ids)
    _check_probability("mlm_probability", mlm_probability)
    probability = torch.full(input_ids.shape, float(mlm_probability))  # (B, T)
    probability[special_tokens_mask(input_ids, special_token_ids).cpu()] = 0.0
    selected = torch.bernoulli(probability, generator=generator).bool()  # (B, T)
    return replace_selected(input_ids, selected.to(input_ids.device), mask_token_id=mask_token_id,
                            vocab_size=vocab_size, generator=generator)


def mask_whole_words(
    input_ids: Tensor,
    word_ids: Tensor,
    *,
    mask_token_id: int,
    vocab_size: int,
    mlm_probability: float = 0.15,
    mask_replace_prob: float = 0.8,
    random_replace_prob: float = 0.1,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Whole-word masking: select *words* with probability ``mlm_probability`` and mask all their sub-words.

    ``word_ids`` says which word each token belongs to, as a fast tokenizer's ``encoding.word_ids()`` with ``None``
    written as -1; -1 marks tokens outside any word (special tokens, padding), which are never selected. A word is
    a run of equal ids, so ids may restart in the second segment of a pair. The draw is made at each word's first
    token (``bernoulli`` over the batch, 0 elsewhere), then spread to the word's other tokens, and each selected
    token is replaced as in :func:`replace_selected` (80/10/10 per token by default, as Google's BERT with whole
    word masking). transformers v5's ``DataCollatorForLanguageModeling(whole_word_mask=True)`` forces
    ``mask_replace_prob=1, random_replace_prob=0``; with those values, and the same seed, this equals it bit for
    bit where its offset-based words agree with ``word_ids`` (words separated by spaces; it glues punctuation
    to the word before).

    Shapes:
        input_ids, word_ids: (B, T), integer; returns (masked_input_ids, labels), both (B, T), integer.

    Example:
        >>> ids = torch.tensor([[2, 11, 12, 13, 14, 15, 3]])                  # [CLS] play ##ing the cat ##s [SEP]
        >>> words = torch.tensor([[-1, 0, 0, 1, 2, 2, -1]])
        >>> g = torch.Generator().manual_seed(5)
        >>> mask_whole_words(ids, words, mask_token_id=4, vocab_size=20, mlm_probability=0.5,
        ...                  mask_replace_prob=1.0, random_replace_prob=0.0, generator=g)
        (tensor([[ 2,  4,  4, 13, 14, 15,  3]]), tensor([[-100,   11,   12, -100, -100, -100, -100]]))
    """
    check_input_ids(input_ids)
    check_ids("word_ids", word_ids, tuple(input_ids.shape))
    _check_probability("mlm_probability", mlm_probability)
    words = word_ids.cpu().long()
    in_word = words >= 0  # (B, T)
    previous = torch.cat([torch.full_like(words[:, :1], -1), words[:, :-1]], dim=1)  # (B, T): word of token t-1
    starts = in_word & (words != previous)  # (B, T): first token of each word
    word_index = torch.cumsum(starts, dim=1) * in_word  # (B, T): 1, 2, ... per word in its row, 0 outside words
    probability = torch.where(starts, float(mlm_probability), 0.0)  # (B, T)
    chosen_starts = torch.bernoulli(probability, generator=generator).bool()  # (B, T)
    chosen_words = torch.zeros(words.shape[0], words.shape[1] + 1, dtype=torch.bool)  # (B, T + 1), by word index
    rows, cols = chosen_starts.nonzero(as_tuple=True)
    chosen_words[rows, word_index[rows, cols]] = True
    selected = chosen_words.gather(1, word_index) & in_word  # (B, T): every token of a chosen word
    return replace_selected(input_ids, selected.to(input_ids.device), mask_token_id=mask_token_id,
                            vocab_size=vocab_size, mask_replace_prob=mask_replace_prob,
                            random_replace_prob=random_replace_prob, generator=generator)


@reference
def mlm_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """The masked-LM loss: mean cross-entropy over the positions whose label is not -100 (the selected tokens).

    The other positions were not masked; predicting a token the model can see teaches nothing, so they add
    nothing to the loss. Labels are not shifted (BERT predicts the token at its own position). Equal to the loss
    of transformers' ``BertForMaskedLM``.

    Shapes:
        logits: (B, T, V); labels: (B, T), integer, -100 where not selected; returns a scalar.

    Example:
        >>> logits = torch.zeros(1, 3, 4)
        >>> logits[0, 1, 2] = 10.0                            # confident and right at the one masked position
        >>> mlm_loss(logits, torch.tensor([[-100, 2, -100]])) < 1e-3
        tensor(True)
    """
    return token_cross_entropy(logits, labels)
