"""Prompt tuning (Lester et al., 2021): learn P "virtual token" vectors put before the input's word vectors.

The pretrained model stays frozen; the only new parameters are a (P, H) matrix, the *soft prompt*, whose rows
the model reads as if they were the embeddings of P extra tokens in front of every input (plus, for a
classifier, the task head, which is new anyway). This is ``peft``'s ``PromptTuningConfig`` with
``get_peft_model``, step for step (``PromptEmbedding``; ``PeftModelFor{SequenceClassification,CausalLM}.forward``):

- ``inputs_embeds = [prompt; word_embeddings(input_ids)]``, so the prompt goes **before** ``[CLS]`` and BERT's
  pooler reads the first virtual token;
- the attention mask gets P ones in front, BERT's ``token_type_ids`` P zeros, and a causal LM's ``labels`` P
  times -100 (no loss on the prompt); the logits cover all P + T positions;
- the prompt starts as N(0, 1) (``"random"``), as the embeddings of P tokens drawn from the vocabulary
  (``"sample_vocab"``), or as the embeddings of a text's tokens (``"text"``): the tokenizer's ids *with* its
  special tokens (``[CLS] ... [SEP]`` for BERT), cut to P or repeated until P.

Example:
    >>> from tlcourse.models import GPT2Config, GPT2LMHeadModel
    >>> _ = torch.manual_seed(0)
    >>> lm = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_positions=16, n_embd=8, n_layer=2, n_head=2))
    >>> model = PromptTuningModel(lm, PromptTuningConfig(num_virtual_tokens=3))
    >>> [name for name, p in model.named_parameters() if p.requires_grad]
    ['prompt.embedding.weight']
    >>> out = model(torch.tensor([[5, 7, 9, 11]]), labels=torch.tensor([[5, 7, 9, 11]]))
    >>> out.logits.shape                                                    # P + T positions
    torch.Size([1, 7, 50])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from tokenizers import Tokenizer
from torch import Tensor, nn

from tlcourse.checks import reference
from tlcourse.finetuning.heads import SequenceClassifier
from tlcourse.models import BertForSequenceClassification, BertModel, GPT2LMHeadModel, GPT2Model
from tlcourse.models.validation import check_ids, check_input_ids, check_positive_ints

INITS = ("random", "sample_vocab", "text")
PromptTunable = BertForSequenceClassification | SequenceClassifier | GPT2LMHeadModel


@dataclass
class PromptTuningConfig:
    """Prompt tuning's options: ``peft.PromptTuningConfig``'s ``num_virtual_tokens``, ``prompt_tuning_init``
    (here ``init``, lower case) and ``prompt_tuning_init_text`` (``init_text``, only with ``init="text"``).

    Example:
        >>> PromptTuningConfig(num_virtual_tokens=8, init="text", init_text="Classify the review:").init
        'text'
        >>> PromptTuningConfig(init="vocab")
        Traceback (most recent call last):
        ...
        ValueError: init: expected one of ('random', 'sample_vocab', 'text'), got 'vocab'
    """

    num_virtual_tokens: int = 20
    init: str = "random"
    init_text: str | None = None

    def __post_init__(self) -> None:
        check_positive_ints(self, ("num_virtual_tokens",))
        if self.init not in INITS:
            raise ValueError(f"init: expected one of {INITS}, got {self.init!r}")
        if self.init == "text" and (not isinstance(self.init_text, str) or not self.init_text):
            raise ValueError(f"init_text: expected a non-empty str with init='text', got {self.init_text!r}")
        if self.init != "text" and self.init_text is not None:
            raise ValueError(f"init_text: expected None with init={self.init!r} (it is read only with init='text'), "
                             f"got {self.init_text!r}")


@reference
def prompt_inputs(input_embeds: Tensor, prompt: Tensor, attention_mask: Tensor | None) -> tuple[Tensor, Tensor]:
    """Put the soft prompt before every sequence's word vectors, and P ones before its attention mask.

    The prompt is cast to the word vectors' dtype; the new mask keeps the given mask's dtype (``None`` means no
    padding: all ones, int64).

    Shapes:
        input_embeds: (B, T, H) float; prompt: (P, H); attention_mask: (B, T) or None;
        returns embeds (B, P + T, H) and mask (B, P + T).

    Example:
        >>> words = torch.ones(2, 3, 4)                                    # B=2 sequences of T=3 word vectors
        >>> prompt = torch.zeros(2, 4)                                     # P=2 virtual tokens
        >>> embeds, mask = prompt_inputs(words, prompt, torch.tensor([[1, 1, 1], [1, 1, 0]]))
        >>> embeds.shape, embeds[0, :, 0]
        (torch.Size([2, 5, 4]), tensor([0., 0., 1., 1., 1.]))
        >>> mask
        tensor([[1, 1, 1, 1, 1],
                [1, 1, 1, 1, 0]])
    """
    if not isinstance(input_embeds, Tensor) or input_embeds.dim() != 3 or not input_embeds.is_floating_point():
        raise ValueError(f"input_embeds: expected a float tensor (B, T, H), got {_describe(input_embeds)}")
    B, T, H = input_embeds.shape
    if not isinstance(prompt, Tensor) or prompt.dim() != 2 or prompt.shape[1] != H:
        raise ValueError(f"prompt: expected a tensor (P, {H}), got {_describe(prompt)}")
    if attention_mask is None:
        attention_mask = torch.ones(B, T, dtype=torch.long, device=input_embeds.device)
    check_ids("attention_mask", attention_mask, (B, T))
    P = prompt.shape[0]
    prompts = prompt.to(input_embeds.dtype).unsqueeze(0).expand(B, P, H)  # (B, P, H)
    ones = attention_mask.new_ones(B, P)  # (B, P)
    return torch.cat([prompts, input_embeds], dim=1), torch.cat([ones, attention_mask], dim=1)  # (B, P + T, ...)


def text_init_ids(token_ids: list[int], num_virtual_tokens: int) -> list[int]:
    """The text init's token ids, as peft: cut to ``num_virtual_tokens``, or repeated ``ceil(P / n)`` times and cut.

    Example:
        >>> text_init_ids([101, 7, 8, 102], 6), text_init_ids([101, 7, 8, 102], 3)
        ([101, 7, 8, 102, 101, 7], [101, 7, 8])
    """
    if not isinstance(token_ids, list) or not token_ids or not all(isinstance(i, int) for i in token_ids):
        raise ValueError(f"token_ids: expected a non-empty list of ints, got {token_ids!r}")
    repeats = math.ceil(num_virtual_tokens / len(token_ids))
    return (token_ids * repeats)[:num_virtual_tokens]


def tokenize_with_special_tokens(tokenizer: Any, text: str) -> list[int]:
    """``text``'s token ids *with* the tokenizer's special tokens, as ``tokenizer(text)["input_ids"]`` gives them:
    a ``tokenizers.Tokenizer`` (``encode(text).ids``) or a transformers tokenizer (any callable returning a
    mapping with ``"input_ids"``)."""
    if isinstance(tokenizer, Tokenizer):
        return tokenizer.encode(text).ids
    if callable(tokenizer):
        return list(tokenizer(text)["input_ids"])
    raise TypeError(f"tokenizer: expected a tokenizers.Tokenizer or a transformers tokenizer, "
                    f"got {type(tokenizer).__name__}")


class PromptEmbedding(nn.Module):
    """The soft prompt: ``embedding``, an ``nn.Embedding(P, H)`` (peft's ``prompt_encoder.<name>.embedding``) whose
    weight is the prompt, N(0, 1) at first; :meth:`init_from_words` sets it to word vectors.

    Shapes:
        returns the prompt (P, H).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> prompt = PromptEmbedding(num_virtual_tokens=4, hidden_size=8)
        >>> prompt().shape
        torch.Size([4, 8])
        >>> words = nn.Embedding(10, 8)
        >>> prompt.init_from_words(words, [3, 3, 5, 0])
        >>> torch.equal(prompt()[2], words.weight[5])
        True
    """

    def __init__(self, num_virtual_tokens: int, hidden_size: int):
        super().__init__()
        for name, value in (("num_virtual_tokens", num_virtual_tokens), ("hidden_size", hidden_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive int, got {value!r}")
        self.embedding = nn.Embedding(num_virtual_tokens, hidden_size)

    def forward(self) -> Tensor:
        """The prompt, (P, H): every virtual token's vector."""
        return self.embedding.weight  # (P, H)

    @torch.no_grad()
    def init_from_words(self, word_embeddings: nn.Embedding, token_ids: list[int]) -> None:
        """Set the prompt to the (float32) word vectors of ``token_ids``, one id per virtual token."""
        P, V = self.embedding.num_embeddings, word_embeddings.num_embeddings
        if len(token_ids) != P or not all(isinstance(i, int) and 0 <= i < V for i in token_ids):
            raise ValueError(f"token_ids: expected {P} ids in [0, {V}) (the word embeddings' vocabulary), "
                             f"got {token_ids!r}")
        ids = torch.tensor(token_ids, device=word_embeddings.weight.device)  # (P,)
        self.embedding.weight.copy_(word_embeddings(ids).float())  # (P, H)


def init_prompt(config: PromptTuningConfig, word_embeddings: nn.Embedding, tokenizer: Any = None) -> PromptEmbedding:
    """A :class:`PromptEmbedding` initialised as ``config.init`` says, on the word embeddings' device.

    As peft, ``"sample_vocab"`` first builds the N(0, 1) embedding, then draws the P ids with
    ``torch.randint`` from the global generator (so the same seed gives peft's prompt). ``"text"`` needs the
    ``tokenizer`` of the model.
    """
    if not isinstance(word_embeddings, nn.Embedding):
        raise TypeError(f"word_embeddings: expected an nn.Embedding, got {type(word_embeddings).__name__}")
    if config.init == "text" and tokenizer is None:
        raise ValueError("tokenizer: expected the model's tokenizer with init='text', got None")
    P, (V, H) = config.num_virtual_tokens, word_embeddings.weight.shape
    prompt = PromptEmbedding(P, H).to(word_embeddings.weight.device)
    if config.init == "sample_vocab":
        prompt.init_from_words(word_embeddings, torch.randint(0, V, (P,)).tolist())
    elif config.init == "text":
        ids = tokenize_with_special_tokens(tokenizer, config.init_text)
        prompt.init_from_words(word_embeddings, text_init_ids(ids, P))
    return prompt


#: The task head of each BERT classifier type: new, so trained with the prompt (peft's ``modules_to_save``).
_HEADS = {BertForSequenceClassification: "classifier.", SequenceClassifier: "head."}


def body_of(model: PromptTunable) -> BertModel | GPT2Model:
    """The transformer inside a BERT classifier (ours or tlcourse.finetuning's) or a GPT-2 LM; raise
    ``TypeError`` for other models."""
    if isinstance(model, BertForSequenceClassification):
        return model.bert
    if isinstance(model, SequenceClassifier):
        return model.encoder
    if isinstance(model, GPT2LMHeadModel):
        return model.transformer
    raise TypeError(f"model: expected a tlcourse BertForSequenceClassification, SequenceClassifier or "
                    f"GPT2LMHeadModel, got {type(model).__name__}")


def word_embeddings_of(model: PromptTunable) -> nn.Embedding:
    """The token-embedding table of a BERT classifier or a GPT-2 LM (raise ``TypeError`` for other models)."""
    body = body_of(model)
    return body.wte if isinstance(body, GPT2Model) else body.embeddings.word_embeddings


def freeze_base(model: PromptTunable) -> None:
    """Freeze every parameter of ``model`` except a classifier's new task head (``classifier`` or ``head``: peft's
    ``modules_to_save`` for sequence classification); GPT-2's LM head is the frozen token embedding."""
    body_of(model)  # checks the model's type
    head = _HEADS.get(type(model))
    for name, p in model.named_parameters():
        p.requires_grad_(head is not None and name.startswith(head))


def check_extra_inputs(model: PromptTunable, token_type_ids: Tensor | None, labels: Tensor | None,
                       shape: tuple[int, int]) -> None:
    """Raise unless ``token_type_ids`` (BERT only) and a causal LM's ``labels`` are None or of ``shape`` (B, T)."""
    if isinstance(model, GPT2LMHeadModel):
        if token_type_ids is not None:
            raise ValueError("token_type_ids: expected None, GPT-2 has no token types (peft drops them with a "
                             "warning), got a tensor")
        check_ids("labels", labels, shape)
    else:
        check_ids("token_type_ids", token_type_ids, shape)


class VirtualTokenModel(nn.Module):
    """What prompt and prefix tuning share: the frozen ``model`` (all but a classifier's head, :func:`freeze_base`),
    a ``config`` of the subclass's ``config_class``, and :meth:`batch_shape`, which checks the inputs."""

    config_class: type = object

    def __init__(self, model: PromptTunable, config: Any):
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(f"config: expected a {self.config_class.__name__}, got {type(config).__name__}")
        freeze_base(model)
        self.model, self.config = model, config

    def batch_shape(self, input_ids: Tensor, token_type_ids: Tensor | None, labels: Tensor | None) -> tuple[int, int]:
        """(B, T) of ``input_ids``, after checking them and that the other inputs fit them and the model."""
        check_input_ids(input_ids)
        B, T = input_ids.shape
        check_extra_inputs(self.model, token_type_ids, labels, (B, T))
        return B, T


class PromptTuningModel(VirtualTokenModel):
    """A frozen BERT classifier or GPT-2 LM run with a trainable soft prompt before every input (module doc).

    ``model`` is frozen in place, except a classifier's task head (``classifier`` or ``head``); ``prompt``
    is the new :class:`PromptEmbedding`. ``tokenizer`` is needed only for ``config.init == "text"``.

    Shapes:
        input_ids: (B, T); attention_mask, token_type_ids (BERT), labels: as the model's; returns the model's
        output for the P + T positions: logits (B, num_labels) for BERT, (B, P + T, V) for GPT-2, and the loss.
    """

    config_class = PromptTuningConfig

    def __init__(self, model: PromptTunable, config: PromptTuningConfig, *, tokenizer: Any = None):
        super().__init__(model, config)
        self.prompt = init_prompt(config, word_embeddings_of(model), tokenizer)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None, token_type_ids: Tensor | None = None,
                labels: Tensor | None = None) -> Any:
        """Run the model on ``[prompt; words]``; see the class docstring."""
        B, _ = self.batch_shape(input_ids, token_type_ids, labels)
        P = self.config.num_virtual_tokens
        embeds, mask = prompt_inputs(word_embeddings_of(self.model)(input_ids), self.prompt(), attention_mask)
        if isinstance(self.model, GPT2LMHeadModel):
            if labels is not None:
                labels = torch.cat([labels.new_full((B, P), -100), labels], dim=1)  # (B, P + T): no loss on P
            return self.model(attention_mask=mask, labels=labels, inputs_embeds=embeds)
        if token_type_ids is not None:
            token_type_ids = torch.cat([token_type_ids.new_zeros(B, P), token_type_ids], dim=1)  # (B, P + T)
        return self.model(attention_mask=mask, token_type_ids=token_type_ids, labels=labels, inputs_embeds=embeds)


def _describe(value: object) -> str:
    return f"{value.dtype} tensor of shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__
