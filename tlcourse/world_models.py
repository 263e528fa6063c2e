"""The course's own pretrained models: a small BERT and a small GPT, pretrained on the world corpus.

Notebook 03 pretrains :func:`world_bert` (masked LM + next-sentence prediction) and notebook 04 :func:`world_gpt`
(causal LM); 05 decodes with the GPT, 06 and 07 fine-tune the BERT. The course's recipes (the defaults) were
trained once and ship with the package (:mod:`tlcourse.artifacts`: ``world-bert`` and ``world-gpt``, Hugging
Face checkpoint folders with their ``tokenizer.json``), so asking for them loads the shipped weights, after checking
that they were built from today's recipe and data; a changed recipe without a rebuild is an error that names the
rebuild command. Any other recipe trains (a few minutes on a 2-core CPU for the default sizes) and is cached
(:func:`~tlcourse.training.load_or_train`), and ``retrain=True`` trains now, whatever the recipe.

A recipe is a dataclass of the model config, the :class:`~tlcourse.training.TrainConfig` and the data choices;
the defaults are the course's models, and a smaller recipe trains a smaller model in seconds (as the tests do):

    >>> from dataclasses import replace
    >>> recipe = WorldGPTRecipe()
    >>> recipe.model.n_layer, recipe.model.n_embd, recipe.block_size, recipe.train.max_steps
    (2, 128, 128, 600)
    >>> replace(recipe, block_size=256)
    Traceback (most recent call last):
    ...
    ValueError: block_size: expected at most model.n_positions = 128, got 256
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from tokenizers import Tokenizer
from torch import Tensor, nn
from torch.utils.data import DataLoader

from tlcourse.artifacts import verified
from tlcourse.data import world_bpe, world_corpus, world_wordpiece
from tlcourse.models import BertConfig, BertForPreTraining, GPT2Config, GPT2LMHeadModel
from tlcourse.models.validation import check_positive_ints
from tlcourse.pretraining import MaskingCollator, nsp_examples, pack_blocks
from tlcourse.tokenization import BPETokenizer
from tlcourse.training import TrainConfig, Trainer, fingerprint, load_or_train, make_loader, trained_path
from tlcourse.training.checkpoint import load_weights

#: The special tokens of the world WordPiece tokenizer, which numbers them first: [PAD]=0 ... [MASK]=4.
BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
#: GPT's document separator, id 0 in the world BPE tokenizer.
END_OF_TEXT = "<|endoftext|>"
#: The training history beside a shipped model's weights.
HISTORY_NAME = "history.json"


def _check_documents(recipe: WorldBertRecipe | WorldGPTRecipe) -> None:
    check_positive_ints(recipe, ("n_documents", "eval_documents", "batch_size"))
    if recipe.eval_documents >= recipe.n_documents:
        raise ValueError(f"eval_documents: expected fewer than n_documents = {recipe.n_documents}, "
                         f"got {recipe.eval_documents}")


def _recipe_key(recipe: WorldBertRecipe | WorldGPTRecipe) -> dict[str, Any]:
    """The recipe's fields as JSON, without the progress bar (which does not change the weights)."""
    key = asdict(recipe)
    del key["train"]["progress"]
    return key


def _cache_key(recipe: WorldBertRecipe | WorldGPTRecipe, *tensors: Tensor) -> dict[str, Any]:
    """Everything that decides the trained weights: the recipe and a fingerprint of the data."""
    return {**_recipe_key(recipe), "data": fingerprint(*tensors)}


#: A pretraining job: its key (:func:`_cache_key`), a function building the seeded untrained model, and a function
#: training it in place and returning the history.
Job = tuple[dict[str, Any], Callable[[], nn.Module], Callable[[nn.Module], list[dict[str, Any]]]]


def _pretrained(name: str, recipe: Any, job: Job, *, retrain: bool, progress: bool,
                ) -> tuple[nn.Module, list[dict[str, Any]]]:
    """The trained model of ``job`` and its history: trained now (``retrain``), the shipped artifact ``name`` when
    ``recipe`` is the course's (the default), else trained once and cached (with ``progress``, a line says when it
    comes from the cache, where no progress bar shows)."""
    key, build, train = job
    if retrain:
        model = build()
        return model.eval(), train(model)
    if _recipe_key(recipe) == _recipe_key(type(recipe)()):
        folder = verified(name, key)
        model = build()
        load_weights(model, folder)
        return model.eval(), json.loads((folder / HISTORY_NAME).read_text(encoding="utf-8"))
    cached = trained_path(name, key)
    if progress and (cached / HISTORY_NAME).is_file():
        print(f"{name}: this recipe was trained before, loaded from the cache ({cached}); retrain=True trains it "
              "again")
    return load_or_train(name, key, build, train)


def _course_key(recipe: Any, make_data: Callable[[Any], Any], make_job: Callable[..., Job]) -> dict[str, Any]:
    """The key of ``recipe``'s job on today's data."""
    return make_job(recipe, make_data(recipe), False)[0]


def _build_course_model(folder: Path, recipe: Any, make_data: Callable[[Any], Any], make_job: Callable[..., Job],
                        progress: bool) -> dict[str, Any]:
    """Train ``recipe``'s model and write a shipped model's files into ``folder``: ``config.json`` +
    ``model.safetensors`` (transformers' layout), ``tokenizer.json`` and the training history; returns the key."""
    data = make_data(recipe)
    key, build, train = make_job(recipe, data, progress)
    model = build()
    history = train(model)
    model.save_pretrained(folder)
    data.tokenizer.save(str(folder / "tokenizer.json"))
    (folder / HISTORY_NAME).write_text(json.dumps(history, indent=1), encoding="utf-8")
    return key


# --- BERT: masked LM + next-sentence prediction ----------------------------------------------------------------

@dataclass
class WorldBertRecipe:
    """How :func:`world_bert` pretrains: a 2-layer, 128-wide BERT, MLM (15 %, 80/10/10, dynamic) + NSP on sentence
    pairs of the world corpus, batches of 128 pairs, 700 AdamW steps at 3e-3 with warmup and a cosine. Without
    dropout: about 4 epochs of a small corpus are too few to overfit, and dropout slows them down (held-out NSP
    accuracy 80 % with BERT's 0.1, 91 % without, at the same cost).

    The last ``eval_documents`` documents are held out; their pairs are masked once (static) so that every
    evaluation scores the same positions.
    """

    model: BertConfig = field(default_factory=lambda: BertConfig(
        vocab_size=1024, hidden_size=128, num_hidden_layers=2, num_attention_heads=4, intermediate_size=512,
        max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        max_steps=700, lr=3e-3, warmup_steps=70, log_every=35, eval_every=175, eval_batches=4))
    batch_size: int = 128
    max_length: int = 64
    mlm_probability: float = 0.15
    n_documents: int = 8000
    eval_documents: int = 400
    seed: int = 0

    def __post_init__(self) -> None:
        _check_documents(self)
        check_positive_ints(self, ("max_length",))
        if self.max_length > self.model.max_position_embeddings:
            raise ValueError(f"max_length: expected at most model.max_position_embeddings = "
                             f"{self.model.max_position_embeddings}, got {self.max_length}")


@dataclass
class BertData:
    """The tokenizer and the NSP examples of :func:`world_bert_data`, with the collators that mask them."""

    tokenizer: Tokenizer
    train_examples: list[dict[str, Any]]
    eval_examples: list[dict[str, Any]]
    train_collator: MaskingCollator
    eval_collator: MaskingCollator


def world_bert_data(recipe: WorldBertRecipe | None = None) -> BertData:
    """The world WordPiece tokenizer and NSP pair examples (:func:`~tlcourse.pretraining.nsp_examples`) of the
    training and held-out documents, with a dynamic-masking collator for training and a static one for evaluation.

    Example:
        >>> data = world_bert_data(WorldBertRecipe(n_documents=40, eval_documents=4))
        >>> example = data.train_examples[0]
        >>> sorted(example), [data.tokenizer.id_to_token(i) for i in example["input_ids"][:5]]
        (['input_ids', 'next_sentence_label', 'token_type_ids'], ['[CLS]', 'i', 'visited', 'laura', "'"])
    """
    recipe = recipe or WorldBertRecipe()
    tokenizer = world_wordpiece(recipe.model.vocab_size)
    if tokenizer.get_vocab_size() != recipe.model.vocab_size:
        raise ValueError(f"model.vocab_size: expected the tokenizer's {tokenizer.get_vocab_size()}, "
                         f"got {recipe.model.vocab_size}")
    specials = [tokenizer.token_to_id(token) for token in BERT_SPECIALS]
    pad_id, _, cls_id, sep_id, mask_id = specials
    documents = [  # each document a list of sentences, each sentence a list of ids
        [encoding.ids for encoding in tokenizer.encode_batch([s.text for s in doc.sentences], add_special_tokens=False)]
        for doc in world_corpus(recipe.n_documents, recipe.seed)
    ]
    split = recipe.n_documents - recipe.eval_documents
    options = dict(cls_id=cls_id, sep_id=sep_id, max_length=recipe.max_length)
    masking = dict(pad_token_id=pad_id, mask_token_id=mask_id, vocab_size=recipe.model.vocab_size,
                   special_token_ids=specials, mlm_probability=recipe.mlm_probability, seed=recipe.seed)
    return BertData(
        tokenizer=tokenizer,
        train_examples=nsp_examples(documents[:split], seed=recipe.seed, **options),
        eval_examples=nsp_examples(documents[split:], seed=recipe.seed + 1, **options),
        train_collator=MaskingCollator(**masking, dynamic=True),
        eval_collator=MaskingCollator(**masking, dynamic=False),
    )


def _bert_job(recipe: WorldBertRecipe, data: BertData, progress: bool) -> Job:
    ids = torch.tensor([i for example in data.train_examples for i in example["input_ids"]])
    labels = torch.tensor([example["next_sentence_label"] for example in data.train_examples])

    def build() -> BertForPreTraining:
        torch.manual_seed(recipe.seed)
        return BertForPreTraining(recipe.model)

    def train(model: BertForPreTraining) -> list[dict[str, Any]]:
        loader = make_loader(data.train_examples, recipe.batch_size, seed=recipe.seed, collate_fn=data.train_collator)
        eval_loader = DataLoader(data.eval_examples, batch_size=256, collate_fn=data.eval_collator)
        config = TrainConfig(**{**asdict(recipe.train), "progress": progress})
        return Trainer(model, config, loader, eval_loader).train()

    return _cache_key(recipe, ids, labels), build, train


def world_bert(recipe: WorldBertRecipe | None = None, *, progress: bool = True, retrain: bool = False,
               ) -> tuple[BertForPreTraining, Tokenizer, list[dict[str, Any]]]:
    """The BERT of ``recipe`` pretrained with MLM + NSP, in eval mode, with its tokenizer and its training history
    (losses, learning rate, tokens/s; eval loss every ``eval_every``): the shipped ``world-bert`` for the course's
    recipe, trained now with ``retrain=True``, else trained once and cached (module docstring)."""
    recipe = recipe or WorldBertRecipe()
    data = world_bert_data(recipe)
    model, history = _pretrained("world-bert", recipe, _bert_job(recipe, data, progress), retrain=retrain,
                                 progress=progress)
    return model.cpu(), data.tokenizer, history


def world_bert_key() -> dict[str, Any]:
    """The key of the course's BERT from today's recipe and data (what the shipped ``world-bert`` must match)."""
    return _course_key(WorldBertRecipe(), world_bert_data, _bert_job)


def build_world_bert(folder: Path, *, progress: bool = True) -> dict[str, Any]:
    """Pretrain the course's BERT from its recipe into ``folder`` (the ``world-bert`` artifact); returns its key."""
    return _build_course_model(folder, WorldBertRecipe(), world_bert_data, _bert_job, progress)


# --- GPT: causal LM ----------------------------------------------------------------------------------------------

@dataclass
class WorldGPTRecipe:
    """How :func:`world_gpt` pretrains: a 2-layer, 128-wide GPT-2 on the world corpus packed into blocks of 128
    byte-level BPE tokens (documents joined by ``<|endoftext|>``), batches of 32 blocks, 600 AdamW steps at 2e-3
    with warmup and a cosine. The last ``eval_documents`` documents are held out.
    """

    model: GPT2Config = field(default_factory=lambda: GPT2Config(
        vocab_size=1024, n_positions=128, n_embd=128, n_layer=2, n_head=4, bos_token_id=0, eos_token_id=0))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        max_steps=600, lr=2e-3, warmup_steps=60, log_every=30, eval_every=150))
    batch_size: int = 32
    block_size: int = 128
    n_documents: int = 8000
    eval_documents: int = 400
    seed: int = 0

    def __post_init__(self) -> None:
        _check_documents(self)
        check_positive_ints(self, ("block_size",))
        if self.block_size > self.model.n_positions:
            raise ValueError(f"block_size: expected at most model.n_positions = {self.model.n_positions}, "
                             f"got {self.block_size}")


@dataclass
class GPTData:
    """The tokenizer and the packed blocks of :func:`world_gpt_data`."""

    tokenizer: BPETokenizer
    train_blocks: Tensor  # (N, block_size)
    eval_blocks: Tensor  # (M, block_size)


def world_gpt_data(recipe: WorldGPTRecipe | None = None) -> GPTData:
    """The world byte-level BPE tokenizer and the training and held-out documents packed into blocks
    (:func:`~tlcourse.pretraining.pack_blocks`, ``<|endoftext|>`` between documents).

    Example:
        >>> data = world_gpt_data(WorldGPTRecipe(n_documents=40, eval_documents=4))
        >>> data.train_blocks.shape[1], data.tokenizer.decode(data.train_blocks[0, :12].tolist())
        (128, "I visited Laura's bakery in Bogota last Monday.")
    """
    recipe = recipe or WorldGPTRecipe()
    tokenizer = world_bpe(recipe.model.vocab_size)
    if len(tokenizer.vocab) != recipe.model.vocab_size:
        raise ValueError(f"model.vocab_size: expected the tokenizer's {len(tokenizer.vocab)}, "
                         f"got {recipe.model.vocab_size}")
    documents = [tokenizer.encode(doc.text) for doc in world_corpus(recipe.n_documents, recipe.seed)]
    split, eos = recipe.n_documents - recipe.eval_documents, tokenizer.vocab[END_OF_TEXT]
    return GPTData(
        tokenizer=tokenizer,
        train_blocks=pack_blocks(documents[:split], recipe.block_size, eos_token_id=eos),
        eval_blocks=pack_blocks(documents[split:], recipe.block_size, eos_token_id=eos),
    )


def _gpt_job(recipe: WorldGPTRecipe, data: GPTData, progress: bool) -> Job:
    def build() -> GPT2LMHeadModel:
        torch.manual_seed(recipe.seed)
        return GPT2LMHeadModel(recipe.model)

    def train(model: GPT2LMHeadModel) -> list[dict[str, Any]]:
        examples = [{"input_ids": block, "labels": block} for block in data.train_blocks]
        eval_examples = [{"input_ids": block, "labels": block} for block in data.eval_blocks]
        loader = make_loader(examples, recipe.batch_size, seed=recipe.seed)
        config = TrainConfig(**{**asdict(recipe.train), "progress": progress})
        return Trainer(model, config, loader, DataLoader(eval_examples, batch_size=64)).train()

    return _cache_key(recipe, data.train_blocks), build, train


def world_gpt(recipe: WorldGPTRecipe | None = None, *, progress: bool = True, retrain: bool = False,
              ) -> tuple[GPT2LMHeadModel, BPETokenizer, list[dict[str, Any]]]:
    """The GPT of ``recipe`` pretrained as a causal LM, in eval mode, with its tokenizer and its training history
    (eval loss and perplexity every ``eval_every`` steps): the shipped ``world-gpt`` for the course's recipe,
    trained now with ``retrain=True``, else trained once and cached (module docstring)."""
    recipe = recipe or WorldGPTRecipe()
    data = world_gpt_data(recipe)
    model, history = _pretrained("world-gpt", recipe, _gpt_job(recipe, data, progress), retrain=retrain,
                                 progress=progress)
    return model.cpu(), data.tokenizer, history


def world_gpt_key() -> dict[str, Any]:
    """The key of the course's GPT from today's recipe and data (what the shipped ``world-gpt`` must match)."""
    return _course_key(WorldGPTRecipe(), world_gpt_data, _gpt_job)


def build_world_gpt(folder: Path, *, progress: bool = True) -> dict[str, Any]:
    """Pretrain the course's GPT from its recipe into ``folder`` (the ``world-gpt`` artifact); returns its key."""
    return _build_course_model(folder, WorldGPTRecipe(), world_gpt_data, _gpt_job, progress)
