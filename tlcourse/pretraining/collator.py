"""A DataLoader ``collate_fn`` for masked-LM pretraining: pad a batch, mask it, dynamically or statically.

- **dynamic** masking (RoBERTa; transformers' ``DataCollatorForLanguageModeling``): a fresh mask every time a
  sequence is batched, so each epoch sees other masked positions. One generator runs through all batches and
  the result is bit-identical to transformers' collator with the same ``seed``.
- **static** masking (the original BERT, whose data were masked once in preprocessing): an example's mask is a
  fixed function of ``seed`` and the example itself, the same in every epoch and in every batch it lands in.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from tlcourse.pretraining.masking import mask_tokens

Example = Sequence[int] | Mapping[str, Any]


def pad_sequences(sequences: Sequence[Sequence[int]], value: int) -> Tensor:
    """Right-pad integer sequences with ``value`` to the longest one.

    Shapes:
        returns (len(sequences), max length), int64.

    Example:
        >>> pad_sequences([[5, 6, 7], [8]], value=0)
        tensor([[5, 6, 7],
                [8, 0, 0]])
    """
    T = max(len(s) for s in sequences)
    padded = torch.full((len(sequences), T), value, dtype=torch.long)  # (B, T)
    for i, s in enumerate(sequences):
        padded[i, : len(s)] = torch.as_tensor(list(s), dtype=torch.long)
    return padded


@dataclass
class MaskingCollator:
    """Pad a list of examples and mask them with :func:`mask_tokens` (15 %, 80/10/10), as a ``collate_fn``.

    An example is a sequence of token ids, or a mapping with ``input_ids`` and optionally ``token_type_ids``
    (padded with 0) and ``next_sentence_label`` (stacked), as :func:`~tlcourse.pretraining.nsp.nsp_examples` makes.
    ``pad_token_id`` is special whether or not ``special_token_ids`` names it. With ``dynamic=True`` one
    ``torch.Generator`` seeded with ``seed`` (``seed + worker id`` in a DataLoader worker; torch's global generator
    when ``seed`` is None) masks the padded batch: transformers' ``DataCollatorForLanguageModeling(tokenizer,
    seed=seed)`` gives the same tensors. With ``dynamic=False`` each example is masked alone with a generator
    seeded with a checksum of ``seed`` (0 when None) and its ids, then padded (labels with -100).

    Shapes:
        returns a dict of input_ids, attention_mask, labels: (B, T), int64; token_type_ids (B, T) and
        next_sentence_label (B,) when the examples have them.

    Example:
        >>> collate = MaskingCollator(pad_token_id=0, mask_token_id=4, vocab_size=30, special_token_ids=[1, 2, 3],
        ...                           mlm_probability=0.5, dynamic=False, seed=1)
        >>> batch = collate([[2, 11, 12, 13, 14, 3], [2, 15, 16, 3]])
        >>> batch["input_ids"]
        tensor([[ 2,  4, 12, 13,  4,  3],
                [ 2, 15,  4,  3,  0,  0]])
        >>> batch["labels"]
        tensor([[-100,   11, -100, -100,   14, -100],
                [-100, -100,   16, -100, -100, -100]])
        >>> batch["attention_mask"]
        tensor([[1, 1, 1, 1, 1, 1],
                [1, 1, 1, 1, 0, 0]])
        >>> collate([[2, 15, 16, 3]])["input_ids"]            # static: the same mask in any batch, any epoch
        tensor([[ 2, 15,  4,  3]])
    """

    pad_token_id: int
    mask_token_id: int
    vocab_size: int
    special_token_ids: Sequence[int]
    mlm_probability: float = 0.15
    dynamic: bool = True
    seed: int | None = None
    _generator: torch.Generator | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("pad_token_id", "mask_token_id", "vocab_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}: expected a non-negative int, got {value!r}")
        self.special_token_ids = sorted({*self.special_token_ids, self.pad_token_id})

    @classmethod
    def from_tokenizer(cls, tokenizer: Any, **options: Any) -> MaskingCollator:
        """A collator for a transformers tokenizer: its pad and mask ids, ``len(tokenizer)`` and
        ``all_special_ids`` (which include [UNK], as the transformers collator's)."""
        return cls(pad_token_id=tokenizer.pad_token_id, mask_token_id=tokenizer.mask_token_id,
                   vocab_size=len(tokenizer), special_token_ids=tokenizer.all_special_ids, **options)

    def _batch_generator(self) -> torch.Generator | None:
        """The generator of dynamic masking, created at the first batch, offset by the DataLoader worker's id."""
        if self.seed is not None and self._generator is None:
            worker = torch.utils.data.get_worker_info()
            self._generator = torch.Generator().manual_seed(self.seed + (0 if worker is None else worker.id))
        return self._generator

    def _mask(self, input_ids: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        return mask_tokens(input_ids, mask_token_id=self.mask_token_id, vocab_size=self.vocab_size,
                           special_token_ids=self.special_token_ids, mlm_probability=self.mlm_probability,
                           generator=generator)

    def __call__(self, examples: Sequence[Example]) -> dict[str, Tensor]:
        """Pad and mask a batch; see the class docstring."""
        if not examples:
            raise ValueError("examples: expected at least one example, got an empty batch")
        rows = [e if isinstance(e, Mapping) else {"input_ids": e} for e in examples]
        ids = [list(row["input_ids"]) for row in rows]
        if min(len(s) for s in ids) == 0:
            raise ValueError("examples: expected each example to have at least one token, got an empty one")
        batch = {"input_ids": pad_sequences(ids, self.pad_token_id),
                 "attention_mask": pad_sequences([[1] * len(s) for s in ids], 0)}
        if "token_type_ids" in rows[0]:
            batch["token_type_ids"] = pad_sequences([row["token_type_ids"] for row in rows], 0)
        if "next_sentence_label" in rows[0]:
            batch["next_sentence_label"] = torch.tensor([int(row["next_sentence_label"]) for row in rows])
        if self.dynamic:
            batch["input_ids"], batch["labels"] = self._mask(batch["input_ids"], self._batch_generator())
            return batch
        masked, labels = [], []
        for s in ids:
            checksum = zlib.crc32(torch.tensor([self.seed or 0, *s], dtype=torch.long).numpy().tobytes())
            generator = torch.Generator().manual_seed(checksum)  # 32 bits: all that torch's CPU generator uses
            m, lab = self._mask(torch.tensor([s]), generator)  # (1, len(s)) each
            masked.append(m[0].tolist())
            labels.append(lab[0].tolist())
        batch["input_ids"], batch["labels"] = pad_sequences(masked, self.pad_token_id), pad_sequences(labels, -100)
        return batch
