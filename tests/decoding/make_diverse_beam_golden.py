"""Golden outputs of transformers' diverse (group) beam search, made once with transformers 4.51.3.

transformers 5.x no longer ships diverse beam search (``num_beam_groups`` > 1, ``diversity_penalty``) offline:
it moved to a Hub repository that needs ``trust_remote_code``. transformers 4.51.3 still has the local
``GenerationMixin._group_beam_search``, ``BeamSearchScorer`` and ``HammingDiversityLogitsProcessor``. This script
runs them once and writes what they return, so that the course's own implementation can be tested against them
with any transformers version (or none).

What it does:

(a) Builds the tiny checkpoint ``tests/decoding/data/tiny-gpt2/`` (``config.json`` + ``model.safetensors``, as
    ``GPT2LMHeadModel.save_pretrained(dir, safe_serialization=True)`` writes them; ``generation_config.json`` is
    removed) if it is missing: GPT-2 with vocab_size=24, n_positions=64, n_embd=32, n_layer=2, n_head=4, all
    dropout 0, ``torch.manual_seed(0)`` before the model is constructed, and initializer_range=0.5, so the token
    embedding (``wte``, tied to ``lm_head``) has std 0.5 and the next-token distributions are peaky but not
    degenerate: over random contexts mean entropy 1.42 nats (of log 24 = 3.18), mean top-1 probability 0.55.
    The first plan, GPT-2's default initializer_range 0.02 with wte then scaled by ~2.5, gives nearly uniform
    distributions (entropy 3.05); scaling only wte enough to make them peaky (0.2 with wte x2.5, same wte std
    0.5) makes the tied model copy its last token: greedy and beam continuations repeat the previous token 77-87%
    of the time, beams look alike, and a golden test would not notice beams being reordered wrongly. Scaling the
    blocks' weights alike (initializer_range=0.5, i.e. 0.2 with every weight x2.5) brings that to ~22-27%.
    The EOS token is the token (other than the pad token 0) that is most often among the top 4 of the next-token
    distribution over the 2048 positions of 256 random contexts of 8 tokens: token 9, 1st 378 times and 2nd-4th
    671 times, so that beams really finish before the maximum length, though not always at once. It is written
    to config.json as bos/eos_token_id (with pad_token_id=0) and to the golden file. If the checkpoint exists, it
    is rebuilt in memory and must be identical, tensor for tensor, to the stored one (and choose the same EOS).

(b) Runs ``model.generate(..., num_beam_groups=G, diversity_penalty=lambda, ..., do_sample=False,
    output_scores=True, return_dict_in_generate=True)`` for each configuration of ``configurations()`` and writes
    ``tests/decoding/data/diverse_beam_golden.json``: for each configuration every generate argument (input_ids,
    attention_mask, max_new_tokens, num_beams, num_beam_groups, diversity_penalty, length_penalty,
    early_stopping, num_return_sequences, eos_token_id, pad_token_id, do_sample, output_scores,
    return_dict_in_generate) and the outputs ``sequences`` (prompt + generated, padded with pad_token_id after
    EOS, as returned) and ``sequences_scores``; plus, from a second run that only observes
    ``BeamSearchScorer.process`` (its outputs are checked equal to the first run's), the tokens that each group's
    beams chose at the first generation step. ``beam_indices`` are not recorded: 4.51.3's group beam search
    concatenates them group-major with indices local to the group, so they are not meaningful.

It must run under ``transformers==4.51.3``, in a virtual environment of its own (the course's environment has
transformers 5.x), and refuses to run under any other version:

    python3 -m venv /tmp/hf451
    /tmp/hf451/bin/pip install torch==2.13.0 transformers==4.51.3 safetensors
    /tmp/hf451/bin/python tests/decoding/make_diverse_beam_golden.py

(from the repository root; torch 2.13.0 (+cpu) works with transformers 4.51.3). Its outputs, the checkpoint and
the JSON, are committed: the tests read them and never run this script. Rerunning it with the same versions
reproduces them exactly.

Notes on 4.51.3 for whoever reimplements it: ``diversity_penalty`` must be a float > 0 (0.0 is rejected by
``GenerationConfig.validate`` and by ``HammingDiversityLogitsProcessor``; an int such as 1 too), ``num_beams``
must be divisible by ``num_beam_groups``, ``do_sample`` must be False. With left padding, GPT-2's position_ids
are ``attention_mask.cumsum(-1) - 1`` with the padded positions set to 1.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

REQUIRED_TRANSFORMERS = "4.51.3"
RECOMMENDED_TORCH = "2.13.0"

HERE = Path(__file__).resolve().parent
CHECKPOINT = HERE / "data" / "tiny-gpt2"
GOLDEN = HERE / "data" / "diverse_beam_golden.json"

PAD_TOKEN_ID = 0
MODEL_SEED = 0
CONFIG_KWARGS = dict(
    vocab_size=24,
    n_positions=64,
    n_embd=32,
    n_layer=2,
    n_head=4,
    resid_pdrop=0.0,
    embd_pdrop=0.0,
    attn_pdrop=0.0,
    summary_first_dropout=0.0,
    initializer_range=0.5,
)


def require_transformers_451() -> None:
    import transformers

    if transformers.__version__ != REQUIRED_TRANSFORMERS:
        raise SystemExit(
            f"make_diverse_beam_golden.py must run under transformers=={REQUIRED_TRANSFORMERS} (it has the local "
            f"_group_beam_search that transformers 5.x removed); this is transformers {transformers.__version__} "
            f"from {transformers.__file__}. Create the environment with\n"
            "    python3 -m venv /tmp/hf451 && "
            f"/tmp/hf451/bin/pip install torch=={RECOMMENDED_TORCH} transformers=={REQUIRED_TRANSFORMERS} safetensors\n"
            "and run /tmp/hf451/bin/python tests/decoding/make_diverse_beam_golden.py"
        )


def build_model():
    """The tiny GPT-2, deterministically: GPT-2's own init with initializer_range=0.5 after torch.manual_seed(0)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(**CONFIG_KWARGS)
    torch.manual_seed(MODEL_SEED)
    model = GPT2LMHeadModel(config).eval()
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr(), "lm_head not tied to wte"
    return model


def choose_eos(model) -> tuple[int, dict]:
    """The token other than PAD_TOKEN_ID most often in the top 4 over random contexts (lowest id on ties)."""
    import torch

    vocab = model.config.vocab_size
    g = torch.Generator().manual_seed(1)
    contexts = torch.randint(1, vocab, (256, 8), generator=g)
    with torch.no_grad():
        logits = model(contexts).logits.reshape(-1, vocab)
    top4 = logits.topk(4, dim=-1).indices
    rank_counts = torch.stack([torch.bincount(top4[:, r], minlength=vocab) for r in range(4)], dim=1)
    in_top4 = rank_counts.sum(dim=1)
    in_top4[PAD_TOKEN_ID] = -1
    eos = int(in_top4.argmax())  # argmax returns the first maximum: lowest id on ties
    stats = {
        "contexts": "256 random contexts of 8 tokens from 1..vocab_size-1 (torch.Generator seed 1), all positions",
        "rule": "the token other than pad_token_id most often among the top 4 next-token log-probabilities",
        "top4_rank_counts_of_eos": rank_counts[eos].tolist(),
        "positions": int(top4.shape[0]),
    }
    return eos, stats


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ensure_checkpoint():
    """Build and save the checkpoint if missing; otherwise check that it is what build_model() makes. Returns (model, eos, stats)."""
    import torch
    from safetensors.torch import load_file

    model = build_model()
    eos, stats = choose_eos(model)
    model.config.bos_token_id = eos
    model.config.eos_token_id = eos
    model.config.pad_token_id = PAD_TOKEN_ID
    weights = CHECKPOINT / "model.safetensors"
    config_file = CHECKPOINT / "config.json"
    if not (weights.exists() and config_file.exists()):
        CHECKPOINT.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(CHECKPOINT, safe_serialization=True)
        gen_config = CHECKPOINT / "generation_config.json"
        if gen_config.exists():
            gen_config.unlink()  # only token ids in it (from config.json); no generation overrides wanted
        print(f"wrote {CHECKPOINT} ({weights.stat().st_size} bytes of weights), eos_token_id={eos}")
    else:
        stored = load_file(weights)
        built = {k: v for k, v in model.state_dict().items() if k != "lm_head.weight"}
        if set(stored) != set(built) or any(not torch.equal(stored[k], built[k]) for k in built):
            raise SystemExit(f"{weights} differs from what build_model() makes now: delete the folder to rebuild it")
        if json.loads(config_file.read_text())["eos_token_id"] != eos:
            raise SystemExit(f"{config_file} has another eos_token_id than choose_eos() picks ({eos})")
        print(f"{CHECKPOINT} matches build_model(); eos_token_id={eos}")
    return model, eos, stats


def configurations(eos: int) -> list[dict]:
    """Generate arguments per configuration (prompts drawn per configuration, never containing EOS or PAD)."""
    import torch

    #  name, G, num_beams, diversity_penalty, length_penalty, early_stopping, num_return_sequences, max_new_tokens,
    #  left_padded
    table = [
        ("g2_b2", 2, 2, 0.3, 1.0, False, 1, 8, False),
        ("g2_b2_all", 2, 2, 1.0, 1.0, True, 2, 8, False),
        ("g2_b4_lp0", 2, 4, 0.3, 0.0, False, 4, 8, False),
        ("g2_b4_lp2_es", 2, 4, 2.0, 2.0, True, 1, 10, False),
        ("g2_b4_lpneg_never", 2, 4, 5.0, -1.0, "never", 4, 6, False),
        ("g2_b6_never", 2, 6, 1.0, 1.0, "never", 6, 10, False),
        ("g3_b3", 3, 3, 2.0, 1.0, False, 3, 8, False),
        ("g3_b3_lp0_es", 3, 3, 5.0, 0.0, True, 1, 6, False),
        ("g3_b6_lp2_never", 3, 6, 0.3, 2.0, "never", 6, 8, False),
        ("g3_b6_lpneg", 3, 6, 1.0, -1.0, False, 1, 10, False),
        ("g3_b9_es", 3, 9, 5.0, 1.0, True, 9, 8, False),
        ("g3_b9_lp0_never", 3, 9, 2.0, 0.0, "never", 1, 10, False),
        ("g4_b4_lp2_es", 4, 4, 1.0, 2.0, True, 4, 8, False),
        ("g4_b4_lpneg_never", 4, 4, 0.3, -1.0, "never", 1, 6, False),
        ("g4_b8", 4, 8, 5.0, 1.0, False, 8, 10, False),
        ("g4_b8_lp2_es", 4, 8, 2.0, 2.0, True, 1, 8, False),
        ("leftpad_g2_b4", 2, 4, 1.0, 1.0, False, 4, 8, True),
        ("leftpad_g3_b6_lpneg_es", 3, 6, 2.0, -1.0, True, 6, 8, True),
        ("leftpad_g4_b8_lp0_never", 4, 8, 0.3, 0.0, "never", 8, 9, True),
    ]
    allowed = torch.tensor([t for t in range(CONFIG_KWARGS["vocab_size"]) if t not in (eos, PAD_TOKEN_ID)])
    prompt_len, padded_len = 5, 3
    configs = []
    for i, (name, groups, beams, penalty, lp, es, nrs, max_new, left_padded) in enumerate(table):
        g = torch.Generator().manual_seed(100 + i)
        input_ids = allowed[torch.randint(len(allowed), (2, prompt_len), generator=g)]
        attention_mask = torch.ones_like(input_ids)
        if left_padded:
            input_ids[1, : prompt_len - padded_len] = PAD_TOKEN_ID
            attention_mask[1, : prompt_len - padded_len] = 0
        configs.append(
            {
                "name": name,
                "generate_kwargs": {
                    "input_ids": input_ids.tolist(),
                    "attention_mask": attention_mask.tolist(),
                    "max_new_tokens": max_new,
                    "num_beams": beams,
                    "num_beam_groups": groups,
                    "diversity_penalty": float(penalty),
                    "length_penalty": float(lp),
                    "early_stopping": es,
                    "num_return_sequences": nrs,
                    "eos_token_id": eos,
                    "pad_token_id": PAD_TOKEN_ID,
                    "do_sample": False,
                    "output_scores": True,
                    "return_dict_in_generate": True,
                },
            }
        )
    return configs


def run_generate(model, kwargs: dict):
    import torch

    args = dict(kwargs)
    args["input_ids"] = torch.tensor(args["input_ids"])
    args["attention_mask"] = torch.tensor(args["attention_mask"])
    with torch.no_grad():
        return model.generate(**args)


def first_step_group_tokens(model, kwargs: dict, expected) -> list:
    """Rerun generate observing BeamSearchScorer.process: per batch item, per group, the beams' first tokens."""
    import torch
    from transformers.generation.beam_search import BeamSearchScorer

    calls = []
    original = BeamSearchScorer.process

    def observed(self, *args, **kw):
        out = original(self, *args, **kw)
        calls.append((kw["group_index"], out["next_beam_tokens"].clone()))
        return out

    BeamSearchScorer.process = observed
    try:
        out = run_generate(model, kwargs)
    finally:
        BeamSearchScorer.process = original
    assert torch.equal(out.sequences, expected.sequences) and torch.equal(out.sequences_scores, expected.sequences_scores)
    groups = kwargs["num_beam_groups"]
    batch = len(kwargs["input_ids"])
    first = calls[:groups]
    assert [g for g, _ in first] == list(range(groups))
    return [[first[g][1].view(batch, -1)[b].tolist() for g in range(groups)] for b in range(batch)]


def main() -> None:
    require_transformers_451()
    import torch
    import transformers

    if not torch.__version__.startswith(RECOMMENDED_TORCH):
        print(f"warning: torch {torch.__version__}, the committed golden file was made with {RECOMMENDED_TORCH}")
    model, eos, eos_stats = ensure_checkpoint()

    # What the committed checkpoint loads as, not the in-memory model, is what is recorded.
    from transformers import GPT2LMHeadModel

    model = GPT2LMHeadModel.from_pretrained(CHECKPOINT).eval()
    gen_defaults = transformers.GenerationConfig()
    for key in ("top_k", "top_p", "temperature", "repetition_penalty", "no_repeat_ngram_size", "min_length"):
        assert getattr(model.generation_config, key) == getattr(gen_defaults, key), key

    entries = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for config in configurations(eos):
            kwargs = config["generate_kwargs"]
            out = run_generate(model, kwargs)
            max_new = kwargs["max_new_tokens"]
            prompt_len = len(kwargs["input_ids"][0])
            sequences = out.sequences.tolist()
            generated = [s[prompt_len:] for s in sequences]
            with_eos = sum(eos in g for g in generated)
            early = sum(eos in g and g.index(eos) < max_new - 1 for g in generated)
            group_tokens = first_step_group_tokens(model, kwargs, out)
            differing = [len({tokens[0] for tokens in per_group}) > 1 for per_group in group_tokens]
            config.update(
                {
                    "sequences": sequences,
                    "sequences_scores": out.sequences_scores.tolist(),
                    "first_step_group_tokens": group_tokens,
                    "stats": {
                        "returned_with_eos": with_eos,
                        "returned_finished_before_max_new_tokens": early,
                        "groups_first_beam_tokens_differ_per_batch_item": differing,
                    },
                }
            )
            entries.append(config)
            print(
                f"{config['name']:26s} returned={len(sequences)} with_eos={with_eos} early={early} "
                f"first-step tokens by group={group_tokens} scores={[round(s, 3) for s in config['sequences_scores']]}"
            )
    messages = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    for m in messages:
        print("warning during generate:", m)

    golden = {
        "description": (
            "Outputs of transformers' diverse (group) beam search, generate(num_beam_groups=G, diversity_penalty=..., "
            "do_sample=False, output_scores=True, return_dict_in_generate=True), on the checkpoint below; made by "
            "tests/decoding/make_diverse_beam_golden.py. sequences: prompt + generated tokens, num_return_sequences "
            "rows per prompt (prompt-major, best first), padded with pad_token_id after EOS. sequences_scores: "
            "sum of the hypothesis' processed log-probabilities (Hamming penalties included) divided by "
            "(generated length incl. EOS) ** length_penalty, as 4.51.3's BeamHypotheses computes it. "
            "first_step_group_tokens[b][g]: the tokens of group g's beams after the first step for prompt b "
            "(observed on BeamSearchScorer.process). Left-padded prompts: GPT-2's position_ids are "
            "attention_mask.cumsum(-1) - 1, padded positions set to 1."
        ),
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "checkpoint": "tests/decoding/data/tiny-gpt2",
        "checkpoint_sha256": {
            name: sha256(CHECKPOINT / name) for name in ("config.json", "model.safetensors")
        },
        "eos_token_id": eos,
        "pad_token_id": PAD_TOKEN_ID,
        "eos_choice": eos_stats,
        "warnings_during_generate": messages,
        "configurations": entries,
    }
    GOLDEN.write_text(json.dumps(golden, indent=1) + "\n")
    n = len(entries)
    n_eos = sum(e["stats"]["returned_finished_before_max_new_tokens"] > 0 for e in entries)
    n_diff = sum(any(e["stats"]["groups_first_beam_tokens_differ_per_batch_item"]) for e in entries)
    print(f"wrote {GOLDEN}: {n} configurations, {n_eos} with a returned hypothesis finished by EOS before "
          f"max_new_tokens, {n_diff} where the groups' first beams start with different tokens")


if __name__ == "__main__":
    main()
