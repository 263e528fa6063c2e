"""Model forward passes: tlcourse.models (BERT, GPT-2) side by side with Hugging Face ``transformers``.

Run ``python benchmarks/bench_models.py``. Every row is measured in this run on the same weights: a random
transformers model (seeded) is saved with ``save_pretrained`` and ours is loaded from that directory with
``from_pretrained``. Before any timing, each of our rows asserts that its outputs equal HF's in float32
(BERT ``last_hidden_state``, GPT-2 ``logits``, within 1e-4 on the non-padded positions; for the KV-cache row,
the logits of every decoding step).

- **BERT encoder**, MiniLM shape (6 layers, hidden 384, 12 heads, intermediate 1536, vocab 30522): a batch of
  8 x 128 tokens, right-padded to random lengths 64..128 with an ``attention_mask``. HF is ``BertModel`` with
  ``attn_implementation="sdpa"``; ours runs fused (``use_sdpa=True``, the default) and explicit
  (``use_sdpa=False``, softmax written out).
- **GPT-2 LM**, 6 layers, n_embd 384, 6 heads, vocab 50257, n_positions 1024: the same batch shape, forward to
  the logits (B, T, V) including the tied LM head; HF with sdpa and ``use_cache=False``.
- **GPT-2 KV-cache decoding**: batch 1, a 64-token prompt, then 32 greedy steps of one token each through the
  cache (ours' tuple ``past_key_values``, HF's ``DynamicCache``); the time is per generated token, prefill
  excluded.

Times are the median of ``--repeats`` runs after ``--warmup`` runs, under ``torch.inference_mode()``; the
models' runs are interleaved (one of each per repeat), so drift on a shared machine hits every row alike.
Tokens/s counts the B x T positions a forward computes, padding included (decoding: generated tokens).
The default is the CPU in float32 with 2 threads; ``--device cuda --dtype bf16`` times the same under bf16
autocast (the float32 equality checks still run first). ``ours/HF`` below 1.0 means ours is faster.
``--json PATH`` writes the rows.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from contextlib import nullcontext
from typing import Callable

import torch
import transformers

import tlcourse.models as ours_models

BERT_SHAPE = dict(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                  intermediate_size=1536, max_position_embeddings=512, hidden_dropout_prob=0.0,
                  attention_probs_dropout_prob=0.0)
GPT2_SHAPE = dict(vocab_size=50257, n_positions=1024, n_embd=384, n_layer=6, n_head=6, resid_pdrop=0.0,
                  embd_pdrop=0.0, attn_pdrop=0.0)
ATOL = 1e-4


def padded_batch(batch: int, seq: int, vocab: int, min_len: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ids (B, T), right-padded with id 0 to random lengths in ``min_len..seq``, and their attention mask."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(min_len, seq + 1, (batch,), generator=g)
    lengths[0] = seq  # one full row, so the batch really is seq long
    mask = (torch.arange(seq)[None] < lengths[:, None]).long()  # (B, T)
    ids = torch.randint(1, vocab, (batch, seq), generator=g) * mask  # (B, T), 0 on padding
    return ids, mask


def autocast_for(dtype: str, device: torch.device) -> Callable[[], object]:
    """A context-manager factory: bf16 autocast on ``device`` for ``dtype == "bf16"``, else nothing."""
    if dtype == "bf16":
        return lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return nullcontext


def write_json(path: str, args: argparse.Namespace, rows: list[dict], **extra: object) -> None:
    """Write the rows, the command-line setup and the versions as JSON (the ``--json PATH`` option)."""
    setup = {k: v for k, v in vars(args).items() if k != "json"}
    meta = dict(setup, torch=torch.__version__, transformers=transformers.__version__,
                python=platform.python_version(), machine=platform.machine())
    with open(path, "w") as f:
        json.dump({"setup": meta, "rows": rows, **extra}, f, indent=2)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_interleaved(fns: dict[str, Callable[[], object]], warmup: int, repeats: int,
                     device: torch.device) -> dict[str, float]:
    """Median seconds of each function: ``warmup`` untimed rounds, then ``repeats`` rounds of one call each."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    sync(device)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync(device)
            start = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def hf_attn_implementation(model: torch.nn.Module) -> str:
    return getattr(model.config, "_attn_implementation", None) or "?"


def bench_bert(args, device: torch.device, autocast) -> list[dict]:
    """BERT encoder forward: HF sdpa, ours fused, ours explicit."""
    config = transformers.BertConfig(**BERT_SHAPE, attn_implementation="sdpa")
    torch.manual_seed(0)
    hf = transformers.BertModel(config).eval()
    assert hf_attn_implementation(hf) == "sdpa", hf_attn_implementation(hf)
    with tempfile.TemporaryDirectory() as tmp:
        hf.save_pretrained(tmp)
        fused = ours_models.BertModel.from_pretrained(tmp)
        explicit = ours_models.BertModel.from_pretrained(tmp, use_sdpa=False)
    ids, mask = padded_batch(args.batch, args.seq, BERT_SHAPE["vocab_size"], args.min_len, seed=1)
    hf, fused, explicit = (m.to(device) for m in (hf, fused, explicit))
    ids, mask = ids.to(device), mask.to(device)
    valid = mask.bool()

    with torch.inference_mode():  # float32 equality first, whatever --dtype is
        expected = hf(ids, attention_mask=mask).last_hidden_state
        for name, model in (("fused", fused), ("explicit", explicit)):
            got = model(ids, attention_mask=mask).last_hidden_state
            torch.testing.assert_close(got[valid], expected[valid], atol=ATOL, rtol=0,
                                       msg=lambda m, name=name: f"BERT ours ({name}) differs from HF: {m}")

    def run(model):
        def fn():
            with torch.inference_mode(), autocast():
                return model(ids, attention_mask=mask).last_hidden_state
        return fn

    seconds = time_interleaved({"HF": run(hf), "ours": run(fused), "ours explicit": run(explicit)},
                               args.warmup, args.repeats, device)
    return forward_rows("BERT encoder", seconds, ids.numel())


def gpt2_pair(device: torch.device):
    """HF GPT2LMHeadModel (sdpa) and ours, fused and explicit, on the same weights; None if ours is missing."""
    config = transformers.GPT2Config(**GPT2_SHAPE, attn_implementation="sdpa")
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(config).eval()
    assert hf_attn_implementation(hf) == "sdpa", hf_attn_implementation(hf)
    with tempfile.TemporaryDirectory() as tmp:
        hf.save_pretrained(tmp)
        fused = ours_models.GPT2LMHeadModel.from_pretrained(tmp)
        explicit = ours_models.GPT2LMHeadModel.from_pretrained(tmp, use_sdpa=False)
    return hf.to(device), fused.to(device), explicit.to(device)


def bench_gpt2(args, device: torch.device, autocast, models) -> list[dict]:
    """GPT-2 LM forward to the logits: HF sdpa, ours fused, ours explicit."""
    hf, fused, explicit = models
    ids, mask = padded_batch(args.batch, args.seq, GPT2_SHAPE["vocab_size"], args.min_len, seed=2)
    ids, mask = ids.to(device), mask.to(device)
    valid = mask.bool()

    with torch.inference_mode():
        expected = hf(ids, attention_mask=mask, use_cache=False).logits
        for name, model in (("fused", fused), ("explicit", explicit)):
            got = model(ids, attention_mask=mask).logits
            torch.testing.assert_close(got[valid], expected[valid], atol=ATOL, rtol=0,
                                       msg=lambda m, name=name: f"GPT-2 ours ({name}) differs from HF: {m}")
        del expected, got

    def run(model, **kwargs):
        def fn():
            with torch.inference_mode(), autocast():
                return model(ids, attention_mask=mask, **kwargs).logits
        return fn

    seconds = time_interleaved({"HF": run(hf, use_cache=False), "ours": run(fused), "ours explicit": run(explicit)},
                               args.warmup, args.repeats, device)
    return forward_rows("GPT-2 LM logits", seconds, ids.numel())


def greedy_decode(model, prompt: torch.Tensor, steps: int, forced: torch.Tensor | None = None):
    """Prefill ``prompt`` then ``steps`` one-token steps through the cache; tokens (1, steps) and step logits.

    The first new token comes from the prefill's last logits; each step feeds the previous token. With
    ``forced``, those tokens are fed instead of the argmax (to compare logits step by step).
    """
    out = model(prompt, use_cache=True)
    token = out.logits[:, -1].argmax(-1, keepdim=True) if forced is None else forced[:, :1]  # (1, 1)
    tokens, logits = [token], []
    for i in range(steps - 1):
        out = model(token, past_key_values=out.past_key_values, use_cache=True)
        logits.append(out.logits[:, -1])
        token = out.logits[:, -1].argmax(-1, keepdim=True) if forced is None else forced[:, i + 1: i + 2]
        tokens.append(token)
    return torch.cat(tokens, dim=1), logits


def bench_decode(args, device: torch.device, autocast, models) -> list[dict]:
    """Per-token time of greedy KV-cache decoding, batch 1 (prefill timed apart and excluded)."""
    hf, fused, explicit = models
    g = torch.Generator().manual_seed(3)
    prompt = torch.randint(0, GPT2_SHAPE["vocab_size"], (1, args.prompt), generator=g).to(device)
    steps = args.decode_steps

    with torch.inference_mode():  # ours' tokens, fed to every model: step logits must agree
        tokens, expected = greedy_decode(fused, prompt, steps)
        for name, model in (("HF", hf), ("explicit", explicit)):
            _, got = greedy_decode(model, prompt, steps, forced=tokens)
            for step, (a, b) in enumerate(zip(got, expected)):
                torch.testing.assert_close(a, b, atol=ATOL, rtol=0,
                                           msg=lambda m, name=name, step=step: f"decode step {step}, {name}: {m}")

    def run(model):
        def fn():
            with torch.inference_mode(), autocast():
                out = model(prompt, use_cache=True)
                past, token = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
                sync(device)
                start = time.perf_counter()  # the steps only: the prefill is excluded
                for _ in range(steps):
                    out = model(token, past_key_values=past, use_cache=True)
                    past, token = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
                sync(device)
                return time.perf_counter() - start
        return fn

    fns = {"HF": run(hf), "ours": run(fused), "ours explicit": run(explicit)}
    for _ in range(args.warmup):
        for fn in fns.values():
            fn()
    per_token: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(max(3, args.repeats // 4)):  # each run is already 32 steps
        for name, fn in fns.items():
            per_token[name].append(fn() / steps)
    seconds = {name: statistics.median(ts) for name, ts in per_token.items()}
    rows = forward_rows("GPT-2 KV decode", seconds, 1)
    for row in rows:
        row["unit"] = "ms/token"
    return rows


def forward_rows(task: str, seconds: dict[str, float], positions: int) -> list[dict]:
    hf_seconds = seconds["HF"]
    return [dict(task=task, impl=name, ms=1e3 * s, tokens_per_s=positions / s, ratio=s / hf_seconds,
                 unit="ms/forward") for name, s in seconds.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bf16"],
                        help="bf16 = torch.autocast(dtype=torch.bfloat16) around the timed calls")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads on the CPU")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--min-len", type=int, default=64, help="shortest unpadded length in the batch")
    parser.add_argument("--prompt", type=int, default=64, help="prompt length of the KV-cache decoding row")
    parser.add_argument("--decode-steps", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--skip-gpt2", action="store_true")
    parser.add_argument("--json", metavar="PATH", help="write the rows (and the setup) as JSON")
    args = parser.parse_args()

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch.cuda.is_available() is False")
    torch.set_num_threads(args.threads)
    transformers.utils.logging.disable_progress_bar()  # save_pretrained's "Writing model shards" bar
    autocast = autocast_for(args.dtype, device)
    rows = bench_bert(args, device, autocast)
    skipped = []
    if args.skip_gpt2:
        skipped.append("GPT-2: --skip-gpt2")
    elif not hasattr(ours_models, "GPT2LMHeadModel"):
        skipped.append("GPT-2: tlcourse.models has no GPT2LMHeadModel yet")
    else:
        models = gpt2_pair(device)
        rows += bench_gpt2(args, device, autocast, models)
        if "past_key_values" in ours_models.GPT2LMHeadModel.forward.__code__.co_varnames:
            rows += bench_decode(args, device, autocast, models)
        else:
            skipped.append("GPT-2 KV decode: our GPT2LMHeadModel.forward takes no past_key_values")

    where = f"{device.type}" + (f", {args.threads} threads" if device.type == "cpu" else "")
    print(f"{args.dtype}, {where}, batch {args.batch} x {args.seq} (lengths {args.min_len}..{args.seq}); "
          f"decode: batch 1, prompt {args.prompt}, {args.decode_steps} steps; median of {args.repeats}")
    print(f"torch {torch.__version__}, transformers {transformers.__version__}")
    print(f"{'model':<18}{'impl':<15}{'time':>10}{'':<11}{'tokens/s':>11}{'ours/HF':>9}")
    for row in rows:
        print(f"{row['task']:<18}{row['impl']:<15}{row['ms']:>10.2f} {row['unit']:<10}{row['tokens_per_s']:>11,.0f}"
              f"{row['ratio']:>8.2f}x")
    for reason in skipped:
        print(f"skipped: {reason}")
    print(f"outputs equal to HF's within {ATOL} (float32, non-padded positions) in every row, checked before timing")
    if args.json:
        write_json(args.json, args, rows, skipped=skipped)


if __name__ == "__main__":
    main()
