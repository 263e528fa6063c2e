"""``generate``: tlcourse.decoding side by side with transformers' ``generate``, on the same GPT-2 weights.

Run ``python benchmarks/bench_decoding.py``. A random transformers GPT-2 (6 layers, n_embd 384, 6 heads, vocab
50257; ``bench_models.gpt2_pair``) is saved and loaded into ours. Each row first asserts that both return the same
sequences (beam search: and scores within 1e-4), then times them, interleaved, median of ``--repeats``:

- **greedy**, batch 1, a 16-token prompt, 128 new tokens, KV cache (no EOS, so every step runs);
- **4-beam search**, batch 1, 64 new tokens, ``length_penalty=1``, ``early_stopping=False``;
- **KV cache vs none**: ours greedy for 256 new tokens with ``use_cache=True`` and ``use_cache=False`` (the whole
  prefix recomputed at every step), and the same two for transformers.

``ours/HF`` below 1.0 means ours is faster. CPU float32, 2 threads by default; ``--json PATH`` writes the rows.
"""

from __future__ import annotations

import argparse

import torch
import transformers
from bench_models import GPT2_SHAPE, gpt2_pair, time_interleaved, write_json

from tlcourse.decoding import generate


def hf_generate(model, prompt: torch.Tensor, **kwargs) -> torch.Tensor:
    return model.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False, pad_token_id=0,
                          eos_token_id=None, **kwargs)


def bench(args, hf, ours) -> list[dict]:
    prompt = torch.randint(1, GPT2_SHAPE["vocab_size"], (1, 16), generator=torch.Generator().manual_seed(2))
    cases = {
        "greedy, 128 tokens": (dict(max_new_tokens=args.greedy_tokens), dict(max_new_tokens=args.greedy_tokens)),
        "4-beam, 64 tokens": (dict(max_new_tokens=args.beam_tokens, num_beams=4, length_penalty=1.0,
                                   early_stopping=False),
                              dict(max_new_tokens=args.beam_tokens, num_beams=4, length_penalty=1.0,
                                   early_stopping=False)),
        "greedy 256, no cache": (dict(max_new_tokens=args.cache_tokens, use_cache=False),
                                 dict(max_new_tokens=args.cache_tokens, use_cache=False)),
        "greedy 256, cache": (dict(max_new_tokens=args.cache_tokens), dict(max_new_tokens=args.cache_tokens)),
    }
    rows = []
    for task, (ours_kwargs, hf_kwargs) in cases.items():
        with torch.inference_mode():
            expected = hf_generate(hf, prompt, **hf_kwargs)
            got = generate(ours, prompt, pad_token_id=0, **ours_kwargs)
        assert torch.equal(got, expected), f"{task}: our sequences differ from transformers'"
        seconds = time_interleaved({"HF": lambda: hf_generate(hf, prompt, **hf_kwargs),
                                    "ours": lambda: generate(ours, prompt, pad_token_id=0, **ours_kwargs)},
                                   args.warmup, args.repeats, torch.device("cpu"))
        new_tokens = expected.shape[1] - prompt.shape[1]
        rows += [dict(task=task, impl=name, seconds=s, ms_per_token=1e3 * s / new_tokens, ratio=s / seconds["HF"])
                 for name, s in seconds.items()]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--greedy-tokens", type=int, default=128)
    parser.add_argument("--beam-tokens", type=int, default=64)
    parser.add_argument("--cache-tokens", type=int, default=256)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()  # generate's notes about generation_config defaults
    hf, ours, _ = gpt2_pair(torch.device("cpu"))
    rows = bench(args, hf, ours)
    print(f"CPU float32, {args.threads} threads, batch 1, prompt 16; median of {args.repeats}")
    print(f"torch {torch.__version__}, transformers {transformers.__version__}")
    print(f"{'task':<24}{'impl':<6}{'seconds':>9}{'ms/token':>10}{'ours/HF':>9}")
    for row in rows:
        print(f"{row['task']:<24}{row['impl']:<6}{row['seconds']:>9.3f}{row['ms_per_token']:>10.2f}{row['ratio']:>8.2f}x")
    by = {(r["task"], r["impl"]): r["seconds"] for r in rows}
    for impl in ("ours", "HF"):
        speedup = by[("greedy 256, no cache", impl)] / by[("greedy 256, cache", impl)]
        print(f"KV-cache speed-up at {args.cache_tokens} new tokens, {impl}: {speedup:.1f}x")
    print("sequences equal to transformers' in every row, checked before timing")
    if args.json:
        write_json(args.json, args, rows)


if __name__ == "__main__":
    main()
