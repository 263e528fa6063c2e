"""The course's pretrained models (tlcourse.world_models): their data, that they learn, and that the cache hands
back the same weights without training again. Small recipes keep this fast; the cache is a temporary folder."""

from dataclasses import replace

import pytest
import torch

from tlcourse.data import world_corpus
from tlcourse.training import Trainer, TrainConfig
from tlcourse.world_models import (
    WorldBertRecipe,
    WorldGPTRecipe,
    world_bert,
    world_bert_data,
    world_gpt,
    world_gpt_data,
)

FEW_STEPS = TrainConfig(max_steps=30, lr=2e-3, warmup_steps=3, log_every=10, eval_every=15, device="cpu",
                        progress=False)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TLCOURSE_CACHE", str(tmp_path))
    return tmp_path


def small_bert() -> WorldBertRecipe:
    return WorldBertRecipe(train=FEW_STEPS, n_documents=300, eval_documents=30, batch_size=32)


def small_gpt() -> WorldGPTRecipe:
    return WorldGPTRecipe(train=FEW_STEPS, n_documents=300, eval_documents=30, batch_size=16)


def test_bert_data_holds_out_the_last_documents_and_masks_eval_statically():
    recipe = small_bert()
    data = world_bert_data(recipe)
    docs = world_corpus(recipe.n_documents, recipe.seed)
    held_out_sentences = sum(len(doc.sentences) for doc in docs[-recipe.eval_documents:])
    # one NSP pair per sentence that has a successor in its document
    assert len(data.eval_examples) == held_out_sentences - recipe.eval_documents
    assert all(len(e["input_ids"]) <= recipe.max_length for e in data.train_examples + data.eval_examples)
    batch = data.eval_examples[:8]
    assert torch.equal(data.eval_collator(batch)["input_ids"], data.eval_collator(batch)["input_ids"])
    assert not torch.equal(data.train_collator(batch)["input_ids"], data.train_collator(batch)["input_ids"])


def test_gpt_data_packs_documents_with_end_of_text_between_them():
    recipe = small_gpt()
    data = world_gpt_data(recipe)
    docs = world_corpus(recipe.n_documents, recipe.seed)
    train_docs = docs[:-recipe.eval_documents]
    train_tokens = sum(len(data.tokenizer.encode(doc.text)) for doc in train_docs) + len(train_docs) - 1  # + EOSs
    assert data.train_blocks.shape == (train_tokens // recipe.block_size, recipe.block_size)
    assert data.tokenizer.decode(data.train_blocks[0].tolist()).startswith(docs[0].text + docs[1].text[:5])
    assert (data.train_blocks == data.tokenizer.vocab["<|endoftext|>"]).any()


@pytest.mark.parametrize("pretrain", [world_bert, world_gpt])
def test_pretraining_lowers_the_loss_and_the_cache_gives_the_same_model_without_training(pretrain, cache,
                                                                                          monkeypatch):
    recipe = small_bert() if pretrain is world_bert else small_gpt()
    model, tokenizer, history = pretrain(recipe, progress=False)
    assert history[-1]["train_loss"] < history[0]["train_loss"] - 0.5
    assert "eval_loss" in history[-1] and not model.training

    def no_training(self):
        raise AssertionError("trained again instead of loading the cached model")

    monkeypatch.setattr(Trainer, "train", no_training)
    again, _, history_again = pretrain(recipe, progress=False)
    assert history_again == history
    for (name, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), name
    with pytest.raises(AssertionError, match="trained again"):  # a different recipe is a different model
        pretrain(replace(recipe, seed=1), progress=False)


def test_recipes_reject_inconsistent_sizes():
    with pytest.raises(ValueError, match="max_length: expected at most model.max_position_embeddings = 64, got 65"):
        WorldBertRecipe(max_length=65)
    with pytest.raises(ValueError, match="eval_documents: expected fewer than n_documents = 10, got 10"):
        WorldGPTRecipe(n_documents=10, eval_documents=10)
    with pytest.raises(ValueError, match="batch_size: expected a positive int, got 0"):
        WorldGPTRecipe(batch_size=0)
