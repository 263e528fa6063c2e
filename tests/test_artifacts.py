"""The shipped artifacts (tlcourse.artifacts): each matches today's recipe and data, loads in the HF libraries,
a changed recipe, changed data or an edited file is an error that names the rebuild command, and retraining a
model from its recipe gives the shipped one back."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest
import torch

from tlcourse import world_models
from tlcourse.artifacts import SHIPPED, StaleArtifactError, verified
from tlcourse.artifacts.catalog import ARTIFACTS, check
from tlcourse.artifacts.shipped import built_with, read_fingerprint
from tlcourse.finetuning import experiments as finetuning_experiments
from tlcourse.peft import experiments as peft_experiments
from tlcourse.pretraining import evaluate_perplexity


@pytest.mark.parametrize("name", [a.name for a in ARTIFACTS])
def test_every_shipped_artifact_matches_todays_recipe_data_and_files(name):
    folder = check(name)
    record = read_fingerprint(name)
    assert sorted(p.name for p in folder.iterdir()) == sorted([*record["files"], "fingerprint.json"])


def test_the_shipped_artifacts_stay_small():
    total = sum(p.stat().st_size for p in SHIPPED.rglob("*") if p.is_file())
    assert total < 10 * 2**20, f"{total / 2**20:.1f} MiB shipped"


def test_a_changed_recipe_is_an_error_that_names_what_changed_and_the_command():
    key = world_models.world_gpt_key()
    changed = {**key, "seed": 1, "train": {**key["train"], "max_steps": 900}}
    with pytest.raises(StaleArtifactError) as error:
        verified("world-gpt", changed)
    message = str(error.value)
    assert "seed: 0 when built, 1 now" in message and "train.max_steps: 600 when built, 900 now" in message
    assert message.endswith("rebuild it with: python -m tlcourse.artifacts build world-gpt")


def test_changed_training_data_is_an_error_when_the_course_model_loads(monkeypatch):
    real = world_models.world_gpt_data

    def one_token_changed(recipe=None):
        data = real(recipe)
        data.train_blocks[0, 0] += 1
        return data

    monkeypatch.setattr(world_models, "world_gpt_data", one_token_changed)
    with pytest.raises(StaleArtifactError, match=r"data: .* when built, .* now.*build world-gpt"):
        world_models.world_gpt()


def test_an_edited_file_is_an_error(tmp_path):
    shutil.copytree(SHIPPED / "world-gpt", tmp_path / "world-gpt")
    history = tmp_path / "world-gpt" / "history.json"
    history.write_text(history.read_text().replace('"step": 600', '"step": 601'))
    with pytest.raises(StaleArtifactError, match="history.json is missing or differs"):
        verified("world-gpt", world_models.world_gpt_key(), root=tmp_path)


def test_a_missing_artifact_names_the_build_command(tmp_path):
    with pytest.raises(StaleArtifactError, match="build it with: python -m tlcourse.artifacts build world-bert"):
        verified("world-bert", {}, root=tmp_path)


def test_the_shipped_models_are_hugging_face_checkpoints_with_their_tokenizers():
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer

    gpt, bpe, _ = world_models.world_gpt()
    hf_gpt = transformers.GPT2LMHeadModel.from_pretrained(SHIPPED / "world-gpt").eval()
    hf_bpe = Tokenizer.from_file(str(SHIPPED / "world-gpt" / "tokenizer.json"))
    text = "Once upon a time, there was a baker called Mia."
    ids = torch.tensor([bpe.encode(text)])
    assert hf_bpe.encode(text).ids == ids[0].tolist()
    with torch.no_grad():
        torch.testing.assert_close(gpt(ids).logits, hf_gpt(ids).logits, atol=1e-5, rtol=1e-5)

    bert, wordpiece, _ = world_models.world_bert()
    hf_bert = transformers.BertForPreTraining.from_pretrained(SHIPPED / "world-bert").eval()
    hf_wordpiece = Tokenizer.from_file(str(SHIPPED / "world-bert" / "tokenizer.json"))
    encoding = wordpiece.encode("She lived in Oslo.", "She had a green dog.")
    assert hf_wordpiece.encode("She lived in Oslo.", "She had a green dog.").ids == encoding.ids
    ids, types = torch.tensor([encoding.ids]), torch.tensor([encoding.type_ids])
    with torch.no_grad():
        ours, theirs = bert(ids, token_type_ids=types), hf_bert(ids, token_type_ids=types)
    torch.testing.assert_close(ours.prediction_logits, theirs.prediction_logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours.seq_relationship_logits, theirs.seq_relationship_logits, atol=1e-5, rtol=1e-5)


def test_the_notebook_runs_read_the_shipped_tables_without_training(monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("trained instead of reading the shipped table")

    monkeypatch.setattr(finetuning_experiments, "run", no_training)
    monkeypatch.setattr(peft_experiments, "run", no_training)
    monkeypatch.setattr(peft_experiments, "costs", no_training)
    shipped = list(finetuning_experiments.SHIPPED_RUNS)
    rows = finetuning_experiments.cached_runs(shipped)
    assert len(rows) == len(shipped) and all(0 <= r["accuracy"] <= 1 for r in rows if "accuracy" in r)
    assert {r["seed"] for r in rows} == set(finetuning_experiments.SEEDS)
    peft_rows = peft_experiments.cached_runs(list(peft_experiments.NOTEBOOK_RUNS + peft_experiments.MORE_SEEDS))
    assert {r["method"] for r in peft_rows} == set(peft_experiments.METHODS)
    assert {r["seed"] for r in peft_rows} == set(peft_experiments.SEEDS)
    costs = peft_experiments.cached_costs(peft_experiments.COMPARISON)
    assert costs["lora"]["gradient_bytes"] < costs["full"]["gradient_bytes"] / 100
    with pytest.raises(AssertionError, match="trained instead"):  # a run the notebook does not show is computed
        finetuning_experiments.cached_run(replace(finetuning_experiments.DEMO, seed=7))


@pytest.mark.slow
def test_retraining_the_world_gpt_from_its_recipe_gives_the_shipped_model():
    """Bit-equal weights where torch's version, the CPU and its kernels are the build's (trained with the build's
    thread count); otherwise the same held-out perplexity within 2 %. (The same instruction set is not enough: the
    math libraries pick other kernels on another vendor's CPU.)"""
    built = read_fingerprint("world-gpt")["built_with"]
    shipped, _, shipped_history = world_models.world_gpt()
    threads = torch.get_num_threads()
    torch.set_num_threads(built["threads"])
    try:
        retrained, _, history = world_models.world_gpt(retrain=True, progress=False)
    finally:
        torch.set_num_threads(threads)
    data = world_models.world_gpt_data()
    ppl = [evaluate_perplexity(m, data.eval_blocks, batch_size=64) for m in (shipped, retrained)]
    assert abs(ppl[1] - ppl[0]) < 0.02 * ppl[0], ppl
    if {**built_with(), "threads": built["threads"]} != built:  # a build that did not record its CPU never matches
        pytest.skip(f"perplexity {ppl[1]:.3f} retrained vs {ppl[0]:.3f} shipped; bit-equality needs the build's "
                    f"{built}, this machine has {built_with()}")
    for (name, a), (_, b) in zip(shipped.state_dict().items(), retrained.state_dict().items()):
        assert torch.equal(a, b), name
    assert _without_speed(history) == _without_speed(shipped_history)


def _without_speed(history: list[dict]) -> list[dict]:
    """A training history without its tokens/s, which depend on the machine's load."""
    return [{k: v for k, v in record.items() if k != "tokens_per_s"} for record in json.loads(json.dumps(history))]
