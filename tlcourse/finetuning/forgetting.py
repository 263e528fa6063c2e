"""Catastrophic forgetting, measured: the pretraining loss of an encoder before and after fine-tuning.

Fine-tuning updates the pretrained weights for one task; what they encoded for pretraining may be lost on the
way. The measurement puts the fine-tuned encoder back under its **original** masked-LM head and scores it on
held-out pretraining text masked once (static, so both scores see the same positions): the MLM loss before
fine-tuning is the pretrained model's, the loss after is the same head on the fine-tuned encoder. A frozen
encoder forgets nothing (the two are equal); full fine-tuning with a large learning rate forgets the most.

Example:
    >>> import torch
    >>> from tlcourse.models import BertConfig, BertForMaskedLM
    >>> _ = torch.manual_seed(0)
    >>> mlm = BertForMaskedLM(BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
    ...                                  intermediate_size=16, max_position_embeddings=8)).eval()
    >>> batches = [{"input_ids": torch.tensor([[2, 5, 4, 3]]), "labels": torch.tensor([[-100, -100, 7, -100]])}]
    >>> result = measure_forgetting(mlm, mlm.bert, batches)       # the encoder itself: nothing forgotten
    >>> result.before == result.after
    True
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Iterable

import torch
from torch import Tensor, nn

from tlcourse.models.bert import BertModel


@dataclass(frozen=True)
class Forgetting:
    """Masked-LM loss on held-out pretraining text with the pretrained encoder (``before``) and with the
    fine-tuned one under the same head (``after``)."""

    before: float
    after: float

    @property
    def increase(self) -> float:
        return self.after - self.before


@torch.no_grad()
def mlm_loss(model: nn.Module, batches: Iterable[dict[str, Tensor]]) -> float:
    """The mean masked-LM loss of ``model`` (a BERT with an MLM head) over ``batches`` (``input_ids``,
    ``attention_mask``, ``token_type_ids``, ``labels`` with -100 at unmasked positions), each masked position
    weighted equally; eval mode."""
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for batch in batches:
        inputs = {k: batch[k].to(device) for k in ("input_ids", "attention_mask", "token_type_ids") if k in batch}
        labels = batch["labels"].to(device)
        out = model(**inputs, labels=labels)
        loss = getattr(out, "mlm_loss", None)
        loss = out.loss if loss is None else loss
        n = int((labels != -100).sum())
        total, count = total + loss.item() * n, count + n
    if count == 0:
        raise ValueError("batches: expected masked positions (labels != -100), got none")
    return total / count


def with_encoder(pretrained: nn.Module, encoder: BertModel) -> nn.Module:
    """A copy of ``pretrained`` (a BERT with its MLM head under ``.bert``) whose encoder holds ``encoder``'s weights."""
    if not isinstance(getattr(pretrained, "bert", None), BertModel):
        raise TypeError(f"pretrained: expected a BERT with an MLM head (.bert), got {type(pretrained).__name__}")
    model = copy.deepcopy(pretrained)
    state = encoder.state_dict()
    if model.bert.pooler is not None and encoder.pooler is None:
        raise ValueError("encoder: expected one with a pooler, as the pretrained model has, got one without")
    model.bert.load_state_dict({k: v for k, v in state.items() if k in model.bert.state_dict()}, strict=True)
    return model


def measure_forgetting(pretrained: nn.Module, encoder: BertModel, batches: Iterable[dict[str, Tensor]]
                       ) -> Forgetting:
    """The MLM loss of ``pretrained`` and of its head on ``encoder`` (fine-tuned from it), on ``batches``."""
    batches = list(batches)
    return Forgetting(mlm_loss(pretrained, batches), mlm_loss(with_encoder(pretrained, encoder), batches))


def world_mlm_batches(n_batches: int = 4, batch_size: int = 100) -> list[dict[str, Tensor]]:
    """Held-out pairs of the world corpus that the world BERT never trained on, masked once (static), in
    ``n_batches`` batches of ``batch_size``: the text :func:`measure_forgetting` scores the world BERT on."""
    from tlcourse.world_models import world_bert_data

    data = world_bert_data()
    examples = data.eval_examples[: n_batches * batch_size]
    return [data.eval_collator(examples[i:i + batch_size]) for i in range(0, len(examples), batch_size)]
