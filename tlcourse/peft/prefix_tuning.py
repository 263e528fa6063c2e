"""Prefix tuning (Li & Liang, 2021): learn P key and value vectors per layer that every query also attends to.

Where prompt tuning adds P vectors at the input only, prefix tuning adds them *inside every attention layer*:
layer l attends over ``[K_prefix_l; K]`` and ``[V_prefix_l; V]``, as if P earlier tokens were already in a KV
cache. The pretrained model stays frozen. This is ``peft``'s ``PrefixTuningConfig`` with ``get_peft_model``
(``PrefixEncoder``; ``PeftModel.get_prompt``; ``PeftModelFor{SequenceClassification,CausalLM}.forward``):

- the prefix encoder is ``nn.Embedding(P, L * 2 * H)``: one row per virtual token holding all layers' keys and
  values; with ``prefix_projection`` it is ``Embedding(P, H) -> Linear(H, E) -> tanh -> Linear(E, L * 2 * H)``
  (the reparametrisation of the paper, which trains more stably);
- the row of token p is viewed as ``(2L, heads, head_size)``; layer l takes **key = slice 2l, value = slice
  2l + 1** (:func:`prefix_key_values`), passed as the model's ``past_key_values``;
- the attention mask gets P ones in front, and the real tokens' **positions start at P**, because the model
  numbers positions after its cache: GPT-2 does, and so does transformers 5's BERT (its embeddings offset the
  positions by the cache length), so our BERT does too;
- no logits for the virtual tokens: the output covers the T real positions and ``labels`` stay as they are.

Example:
    >>> from tlcourse.models import GPT2Config, GPT2LMHeadModel
    >>> _ = torch.manual_seed(0)
    >>> lm = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_positions=16, n_embd=8, n_layer=2, n_head=2))
    >>> model = PrefixTuningModel(lm, PrefixTuningConfig(num_virtual_tokens=3))
    >>> [(name, tuple(p.shape)) for name, p in model.named_parameters() if p.requires_grad]  # P x (L * 2 * H)
    [('prefix.embedding.weight', (3, 32))]
    >>> model(torch.tensor([[5, 7, 9, 11]])).logits.shape                  # T positions only
    torch.Size([1, 4, 50])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from tlcourse.checks import reference
from tlcourse.models import GPT2LMHeadModel
from tlcourse.models.validation import check_ids, check_positive_ints
from tlcourse.peft.prompt_tuning import PromptTunable, VirtualTokenModel, body_of

PastKeyValues = tuple[tuple[Tensor, Tensor], ...]


@dataclass
class PrefixTuningConfig:
    """Prefix tuning's options, as ``peft.PrefixTuningConfig``: ``num_virtual_tokens`` (P), ``prefix_projection``
    and the projection's hidden size ``encoder_hidden_size`` (E; ``None`` means the model's hidden size, where
    peft has no default and needs it set).

    Example:
        >>> PrefixTuningConfig(num_virtual_tokens=10).prefix_projection
        False
        >>> PrefixTuningConfig(num_virtual_tokens=0)
        Traceback (most recent call last):
        ...
        ValueError: num_virtual_tokens: expected a positive int, got 0
    """

    num_virtual_tokens: int = 20
    prefix_projection: bool = False
    encoder_hidden_size: int | None = None

    def __post_init__(self) -> None:
        check_positive_ints(self, ("num_virtual_tokens",))
        if not isinstance(self.prefix_projection, bool):
            raise ValueError(f"prefix_projection: expected a bool, got {self.prefix_projection!r}")
        if self.encoder_hidden_size is not None:
            if not self.prefix_projection:
                raise ValueError(f"encoder_hidden_size: expected None without prefix_projection (it sizes the "
                                 f"projection), got {self.encoder_hidden_size!r}")
            check_positive_ints(self, ("encoder_hidden_size",))


class PrefixEncoder(nn.Module):
    """Every layer's prefix keys and values, one row (L * 2 * H) per virtual token; names as peft's.

    Without projection the rows are the parameters, ``embedding = nn.Embedding(P, L * 2 * H)``; with it they are
    ``transform(embedding.weight)``, ``embedding = nn.Embedding(P, H)`` and ``transform = Sequential(Linear(H, E),
    Tanh(), Linear(E, L * 2 * H))``.

    Shapes:
        returns (P, L * 2 * H).

    Example:
        >>> encoder = PrefixEncoder(PrefixTuningConfig(num_virtual_tokens=4), num_layers=2, hidden_size=8)
        >>> encoder().shape, encoder.embedding.weight.shape
        (torch.Size([4, 32]), torch.Size([4, 32]))
        >>> config = PrefixTuningConfig(num_virtual_tokens=4, prefix_projection=True, encoder_hidden_size=16)
        >>> encoder = PrefixEncoder(config, num_layers=2, hidden_size=8)
        >>> encoder().shape, encoder.embedding.weight.shape, encoder.transform[0].out_features
        (torch.Size([4, 32]), torch.Size([4, 8]), 16)
    """

    def __init__(self, config: PrefixTuningConfig, num_layers: int, hidden_size: int):
        super().__init__()
        if not isinstance(config, PrefixTuningConfig):
            raise TypeError(f"config: expected a PrefixTuningConfig, got {type(config).__name__}")
        for name, value in (("num_layers", num_layers), ("hidden_size", hidden_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive int, got {value!r}")
        P, out = config.num_virtual_tokens, num_layers * 2 * hidden_size
        if config.prefix_projection:
            E = config.encoder_hidden_size or hidden_size
            self.embedding = nn.Embedding(P, hidden_size)
            self.transform = nn.Sequential(nn.Linear(hidden_size, E), nn.Tanh(), nn.Linear(E, out))
        else:
            self.embedding = nn.Embedding(P, out)
            self.transform = None

    def forward(self) -> Tensor:
        """The prefix rows, (P, L * 2 * H)."""
        rows = self.embedding.weight  # (P, H) with projection, else (P, L * 2 * H)
        return rows if self.transform is None else self.transform(rows)  # (P, L * 2 * H)


@reference
def prefix_key_values(prefix: Tensor, num_layers: int, n_heads: int, batch_size: int) -> PastKeyValues:
    """Split the prefix rows into one (key, value) pair per layer, in peft's layout, repeated over the batch.

    Row p holds, for l = 0 .. L-1, layer l's key (slice 2l) and value (slice 2l + 1), each H = heads * head_size
    numbers: ``view(P, 2L, heads, head_size)``, then ``permute`` to ``(2L, heads, P, head_size)``.

    Shapes:
        prefix: (P, L * 2 * H); returns L pairs (k, v), each (B, heads, P, head_size).

    Example:
        >>> prefix = torch.arange(2 * 8.0).reshape(2, 8)          # P=2 tokens, L=2 layers, H=2 (1 head of 2)
        >>> kv = prefix_key_values(prefix, num_layers=2, n_heads=1, batch_size=3)
        >>> len(kv), kv[0][0].shape
        (2, torch.Size([3, 1, 2, 2]))
        >>> kv[1][0][0, 0]                                        # layer 1's key: slice 2 of each row
        tensor([[ 4.,  5.],
                [12., 13.]])
    """
    for name, value in (("num_layers", num_layers), ("n_heads", n_heads), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected a positive int, got {value!r}")
    ok = isinstance(prefix, Tensor) and prefix.dim() == 2 and prefix.is_floating_point()
    if not ok or prefix.shape[1] % (2 * num_layers * n_heads) != 0:
        got = f"shape {tuple(prefix.shape)}" if isinstance(prefix, Tensor) else type(prefix).__name__
        raise ValueError(f"prefix: expected a float tensor (P, L * 2 * H) with L={num_layers} and H a multiple of "
                         f"n_heads={n_heads}, got {got}")
    P = prefix.shape[0]
    head_size = prefix.shape[1] // (2 * num_layers * n_heads)
    kv = prefix.view(P, 2 * num_layers, n_heads, head_size).permute(1, 2, 0, 3)  # (2L, heads, P, hs)
    kv = kv.unsqueeze(1).expand(-1, batch_size, -1, -1, -1)  # (2L, B, heads, P, hs)
    return tuple((kv[2 * i], kv[2 * i + 1]) for i in range(num_layers))  # L x 2 x (B, heads, P, hs)


def _sizes(model: PromptTunable) -> tuple[int, int, int]:
    """(layers, hidden size, heads) of a BERT classifier or a GPT-2 LM."""
    c = body_of(model).config
    if isinstance(model, GPT2LMHeadModel):
        return c.n_layer, c.n_embd, c.n_head
    return c.num_hidden_layers, c.hidden_size, c.num_attention_heads


class PrefixTuningModel(VirtualTokenModel):
    """A frozen BERT classifier or GPT-2 LM whose every attention layer also attends to P trainable prefix keys
    and values (module doc).

    ``model`` is frozen in place, except a classifier's task head (``classifier`` or ``head``); ``prefix``
    is the new :class:`PrefixEncoder`, on the model's device.

    Shapes:
        input_ids: (B, T); attention_mask: (B, T) (the prefix's P ones are added here); token_type_ids (BERT),
        labels: as the model's; returns the model's output: logits (B, num_labels) for BERT, (B, T, V) for GPT-2,
        and the loss.
    """

    config_class = PrefixTuningConfig

    def __init__(self, model: PromptTunable, config: PrefixTuningConfig):
        super().__init__(model, config)
        L, H, _ = _sizes(model)
        self.prefix = PrefixEncoder(config, L, H).to(next(model.parameters()).device)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None, token_type_ids: Tensor | None = None,
                labels: Tensor | None = None) -> Any:
        """Run the model after the prefix keys and values; see the class docstring."""
        B, T = self.batch_shape(input_ids, token_type_ids, labels)
        L, _, n_heads = _sizes(self.model)
        past = prefix_key_values(self.prefix(), L, n_heads, B)  # L x 2 x (B, heads, P, hs)
        if attention_mask is not None:
            check_ids("attention_mask", attention_mask, (B, T))
            ones = attention_mask.new_ones(B, self.config.num_virtual_tokens)  # (B, P)
            attention_mask = torch.cat([ones, attention_mask], dim=1)  # (B, P + T)
        if isinstance(self.model, GPT2LMHeadModel):
            return self.model(input_ids, attention_mask, labels=labels, past_key_values=past)
        return self.model(input_ids, attention_mask, token_type_ids, labels, past_key_values=past)
