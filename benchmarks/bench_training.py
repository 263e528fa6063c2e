"""Training throughput: tlcourse.models vs Hugging Face ``transformers`` models, both trained by tlcourse.training.

Run ``python benchmarks/bench_training.py``. Every row is measured in this run, on the same weights and batches:
a random transformers model (seeded) is saved with ``save_pretrained`` and ours is loaded from that directory with
``from_pretrained``; before any timing, the two losses on the first batch must agree within 1e-4 (float32, eval
mode). Then each model gets a :class:`tlcourse.training.Trainer` with the same ``TrainConfig`` (AdamW with decay
on the >= 2-D weights, warmup + cosine, clipping at 1.0) and the same ``make_loader`` batches, and the two take
optimisation steps in turn (one of each per repeat, the first alternating, so drift on a shared machine hits
both alike).

- **BERT MLM**: ``BertForMaskedLM``, 4 layers, hidden 256, 4 heads, intermediate 1024, vocab 8192; 15% of the
  positions carry labels.
- **GPT-2 LM**: ``GPT2LMHeadModel`` of the same size (n_embd 256, 4 layers, 4 heads), ``labels = input_ids``.

Both at batch 16 x 128 tokens, no padding, dropout 0.1 as in the models' default configs; transformers' models use
``attn_implementation="sdpa"``, ours their fused SDPA path. A step is forward, backward, clipping, AdamW and the
schedule; tokens/s is the batch's tokens over the median step time of ``--repeats`` steps after ``--warmup``.
``ours/HF`` is ours' tokens/s over HF's: **above 1.0 means ours trains faster** (the target is >= 1.0).
The default is the CPU in float32 with 2 threads; ``--device cuda --dtype bf16`` times bf16 autocast on a GPU and
adds MFU (``6 * parameters * tokens/s`` over the GPU's peak bf16 FLOP/s). ``--json PATH`` writes the rows.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
import transformers

import tlcourse.models as ours_models
from bench_models import sync, write_json  # the benchmarks folder is the script's: sys.path[0]
from tlcourse.training import TrainConfig, Trainer, count_parameters, make_loader, mfu, resolve_device

ATOL = 1e-4
SIZES = dict(batch=16, seq=128, vocab=8192, hidden=256, layers=4, heads=4, warmup=2, repeats=20)  # the int options


def shapes(args) -> dict[str, dict]:
    """Per model, the transformers config kwargs (ours reads them from the saved config.json)."""
    bert = dict(vocab_size=args.vocab, hidden_size=args.hidden, num_hidden_layers=args.layers,
                num_attention_heads=args.heads, intermediate_size=4 * args.hidden, max_position_embeddings=512)
    gpt2 = dict(vocab_size=args.vocab, n_positions=512, n_embd=args.hidden, n_layer=args.layers, n_head=args.heads,
                bos_token_id=0, eos_token_id=0)
    return {"BERT MLM": bert, "GPT-2 LM": gpt2}


def examples(task: str, n: int, seq: int, vocab: int, seed: int) -> list[dict[str, torch.Tensor]]:
    """``n`` training examples: random ids; MLM labels on 15% of the positions (-100 elsewhere), CLM labels = ids."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (n, seq), generator=g)
    if task == "GPT-2 LM":
        return [{"input_ids": row, "labels": row.clone()} for row in ids]
    labels = torch.where(torch.rand(n, seq, generator=g) < 0.15, ids, -100)
    return [{"input_ids": i, "attention_mask": torch.ones_like(i), "labels": y} for i, y in zip(ids, labels)]


def model_pair(task: str, args) -> tuple[torch.nn.Module, torch.nn.Module]:
    """transformers' model (sdpa) and ours from its checkpoint: the same weights."""
    hf_kwargs = shapes(args)[task]
    hf_config, hf_class, ours_class = {
        "BERT MLM": (transformers.BertConfig, transformers.BertForMaskedLM, ours_models.BertForMaskedLM),
        "GPT-2 LM": (transformers.GPT2Config, transformers.GPT2LMHeadModel, ours_models.GPT2LMHeadModel),
    }[task]
    torch.manual_seed(0)
    hf = hf_class(hf_config(**hf_kwargs, attn_implementation="sdpa"))
    with tempfile.TemporaryDirectory() as tmp:
        hf.save_pretrained(tmp)
        ours = ours_class.from_pretrained(tmp)
    return hf, ours


def bench(task: str, args, device: torch.device) -> list[dict]:
    hf, ours = model_pair(task, args)
    data = examples(task, 4 * args.batch, args.seq, args.vocab, seed=1)
    first = {k: v.to(device) for k, v in torch.utils.data.default_collate(data[: args.batch]).items()}
    hf, ours = hf.to(device).eval(), ours.to(device).eval()
    with torch.no_grad():  # float32 equality first, whatever --dtype is
        expected, got = float(hf(**first).loss), float(ours(**first).loss)
    if abs(got - expected) > ATOL:
        raise AssertionError(f"{task}: our loss {got} differs from HF's {expected} by more than {ATOL}")

    config = TrainConfig(max_steps=args.warmup + args.repeats, lr=1e-4, warmup_steps=1, device=str(device),
                         dtype=args.dtype, progress=False)
    trainers = {name: Trainer(model, config, make_loader(data, batch_size=args.batch, seed=2))
                for name, model in (("HF", hf), ("ours", ours))}
    seconds: dict[str, list[float]] = {name: [] for name in trainers}
    tokens = args.batch * args.seq
    for repeat in range(args.warmup + args.repeats):
        order = list(trainers.items())
        for name, trainer in order[::-1] if repeat % 2 else order:  # who goes first alternates
            sync(device)
            start = time.perf_counter()
            result = trainer.step()
            float(result.loss)  # waits for the GPU
            elapsed = time.perf_counter() - start
            if repeat >= args.warmup:
                seconds[name].append(elapsed)
    rows = []
    for name, trainer in trainers.items():
        median = statistics.median(seconds[name])
        rows.append(dict(task=task, impl=name, ms=1e3 * median, tokens_per_s=tokens / median,
                         mfu=mfu(count_parameters(trainer.model), tokens / median, device)))
    for row in rows:
        row["ratio"] = row["tokens_per_s"] / rows[0]["tokens_per_s"]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bf16"], help="TrainConfig.dtype")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads on the CPU")
    for name, default in SIZES.items():
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--json", metavar="PATH", help="write the rows (and the setup) as JSON")
    args = parser.parse_args()

    device = resolve_device(args.device)  # a clear error for cuda on a machine without it
    torch.set_num_threads(args.threads)
    transformers.utils.logging.disable_progress_bar()  # save_pretrained's "Writing model shards" bar
    rows = [row for task in shapes(args) for row in bench(task, args, device)]

    where = device.type + (f", {args.threads} threads" if device.type == "cpu" else f", {torch.cuda.get_device_name()}")
    print(f"training step (forward, backward, clip, AdamW, schedule), {args.dtype}, {where}; batch {args.batch} x "
          f"{args.seq}; {args.layers} layers, hidden {args.hidden}, vocab {args.vocab}; median of {args.repeats}")
    print(f"torch {torch.__version__}, transformers {transformers.__version__}")
    print(f"{'model':<11}{'impl':<6}{'ms/step':>10}{'tokens/s':>11}{'ours/HF':>9}{'MFU':>7}")
    for row in rows:
        mfu_text = "-" if row["mfu"] is None else f"{100 * row['mfu']:.1f}%"
        print(f"{row['task']:<11}{row['impl']:<6}{row['ms']:>10.1f}{row['tokens_per_s']:>11,.0f}"
              f"{row['ratio']:>8.2f}x{mfu_text:>7}")
    print(f"losses equal to HF's within {ATOL} (float32, eval mode, first batch), checked before timing; "
          "ours/HF = tokens/s ratio, >= 1.0 means ours is at least as fast")
    if args.json:
        write_json(args.json, args, rows)


if __name__ == "__main__":
    main()
