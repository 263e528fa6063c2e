"""The training loop against a hand-written PyTorch loop, and what it reports.

- A few steps of :class:`Trainer` (accumulation, clipping, warmup + cosine, weight decay groups, dropout on) give
  bit for bit the parameters of a plain loop over ``torch.optim.AdamW`` and transformers' schedule on the same batches.
- Accumulating 2 micro-batches of 4 equals 1 batch of 8 (equal token counts), in the same shuffled order.
- Transformers' GPT-2 trained by our loop stays equal to ours from the same weights.
- ``evaluate`` is the mean cross-entropy over every target of the eval set, as a plain loop computes it.
- bf16 autocast (asked for on the CPU) keeps float32 weights and a loss within bf16 tolerance of float32.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from tiny import params, tiny_gpt2, token_data
from torch.utils.data import DataLoader

from tlcourse.checks import TOLERANCES
from tlcourse.training import TrainConfig, Trainer, make_loader, plot_history

transformers = pytest.importorskip("transformers")

CONFIG = dict(lr=3e-3, weight_decay=0.1, betas=(0.9, 0.95), warmup_steps=2, min_lr_ratio=0.1, max_grad_norm=0.5,
              log_every=1, device="cpu", progress=False)


def reference_loop(model, micro_batches, steps: int, accum: int) -> None:
    """The loop every PyTorch tutorial writes, with transformers' schedule: what Trainer must equal."""
    torch.manual_seed(0)  # TrainConfig.seed: dropout draws from here
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=3e-3, betas=(0.9, 0.95))
    schedule = transformers.get_cosine_with_min_lr_schedule_with_warmup(optimizer, 2, steps, min_lr_rate=0.1)
    batches = iter(micro_batches)
    for _ in range(steps):
        for _ in range(accum):
            (model(**next(batches)).loss / accum).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()


def test_trainer_equals_a_plain_pytorch_loop():
    data = token_data(24)
    trainer = Trainer(tiny_gpt2(dropout=0.1), TrainConfig(max_steps=6, grad_accum_steps=2, **CONFIG),
                      make_loader(data, batch_size=2, shuffle=False))
    history = trainer.train()
    reference = tiny_gpt2(dropout=0.1)
    micro_batches = list(DataLoader(data, batch_size=2))  # before the loop: starting it draws from torch's RNG
    reference_loop(reference, micro_batches, steps=6, accum=2)
    for name, expected in params(reference).items():  # the same operations in the same order: bit for bit
        torch.testing.assert_close(dict(trainer.model.named_parameters())[name], expected, atol=0, rtol=0,
                                   msg=lambda m, name=name: f"{name}: {m}")
    assert any(r["grad_norm"] > 0.5 for r in history)  # clipping did something
    assert [r["lr"] for r in history][:3] == [0.0, 1.5e-3, 3e-3]  # the lr each step used: warmup then the peak


def test_accumulation_equals_the_larger_batch():
    data = token_data(32)
    small = Trainer(tiny_gpt2(), TrainConfig(max_steps=6, grad_accum_steps=2, **CONFIG),
                    make_loader(data, batch_size=4, seed=3))
    large = Trainer(tiny_gpt2(), TrainConfig(max_steps=6, grad_accum_steps=1, **CONFIG),
                    make_loader(data, batch_size=8, seed=3))
    small.train(), large.train()  # 6 steps of 8 examples: one epoch and a half, reshuffled
    for name, expected in params(large.model).items():  # sums in another order: float32 rounding, which Adam's
        # normalisation by sqrt(v) enlarges on near-zero gradients, hence 1e-5 rather than 1e-6 after 6 steps
        torch.testing.assert_close(dict(small.model.named_parameters())[name], expected, atol=1e-5, rtol=0)
    for a, b in zip(small.state.history, large.state.history):
        assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-6)


def test_transformers_gpt2_trains_like_ours(tmp_path):
    ours = tiny_gpt2()
    ours.save_pretrained(tmp_path)
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path, attn_implementation="eager")
    config = TrainConfig(max_steps=4, grad_accum_steps=2, **CONFIG)
    runs = [Trainer(model, config, make_loader(token_data(16), batch_size=2)) for model in (ours, hf)]
    histories = [run.train() for run in runs]
    expected = hf.state_dict()
    for name, tensor in ours.to_hf_state(dict(ours.named_parameters())).items():
        torch.testing.assert_close(tensor, expected[name], atol=1e-5, rtol=0, msg=lambda m, name=name: f"{name}: {m}")
    assert [r["train_loss"] for r in histories[0]] == pytest.approx([r["train_loss"] for r in histories[1]], abs=1e-5)


def test_evaluate_is_the_mean_loss_over_every_target():
    model = tiny_gpt2()
    eval_data = token_data(10, seed=1)
    trainer = Trainer(model, TrainConfig(max_steps=1, **CONFIG), make_loader(token_data(8), batch_size=4),
                      DataLoader(eval_data, batch_size=3))  # batches of 3, 3, 3 and 1 rows
    result = trainer.evaluate()
    ids = torch.stack([example["input_ids"] for example in eval_data])
    with torch.no_grad():
        logits = model.eval()(ids).logits
    expected = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
    assert result["eval_loss"] == pytest.approx(float(expected), abs=1e-6)
    assert result["eval_perplexity"] == pytest.approx(math.exp(float(expected)), rel=1e-6)


def test_history_records_and_plot():
    trainer = Trainer(tiny_gpt2(), TrainConfig(max_steps=7, lr=3e-3, log_every=3, eval_every=2, eval_batches=1,
                                               device="cpu", progress=False),
                      make_loader(token_data(16), batch_size=4), DataLoader(token_data(8, seed=1), batch_size=4))
    history = trainer.train()
    assert [r["step"] for r in history] == [2, 3, 4, 6, 7]  # log_every 3, eval_every 2, and the last step
    assert [("eval_loss" in r) for r in history] == [True, False, True, True, True]
    assert all(r["tokens_per_s"] > 0 and r["mfu"] is None for r in history)  # no MFU on a CPU
    figure = plot_history(history)
    train_line, eval_line = figure.axes[0].get_lines()
    assert list(train_line.get_xdata()) == [2, 3, 4, 6, 7]
    assert list(eval_line.get_ydata()) == [r["eval_loss"] for r in history if "eval_loss" in r]


def test_bf16_autocast_on_the_cpu_when_asked():
    losses = {}
    for dtype in ("float32", "bf16"):
        trainer = Trainer(tiny_gpt2(), TrainConfig(max_steps=1, dtype=dtype, **CONFIG),
                          make_loader(token_data(8), batch_size=4))
        losses[dtype] = float(trainer.step().loss)
        assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    tol = TOLERANCES["bfloat16"]
    assert losses["bf16"] == pytest.approx(losses["float32"], abs=tol.atol, rel=tol.rtol)


@pytest.mark.parametrize("field, value, message", [
    ("max_steps", 0, "max_steps: expected a positive int, got 0"),
    ("grad_accum_steps", 1.5, "grad_accum_steps: expected a positive int, got 1.5"),
    ("lr", -1.0, "lr: expected a float >= 0.0, got -1.0"),
    ("min_lr_ratio", 2.0, r"min_lr_ratio: expected a float in \[0.0, 1.0\], got 2.0"),
    ("betas", (0.9,), r"betas: expected two floats in \[0, 1\), got \(0.9,\)"),
    ("max_grad_norm", 0.0, "max_grad_norm: expected a positive float or None, got 0.0"),
    ("dtype", "fp16", "dtype: expected one of .*, got 'fp16'"),
    ("checkpoint_every", 5, "out_dir: expected a directory to write checkpoints into"),
])
def test_config_errors_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{field: value})


def test_trainer_errors():
    loader = make_loader(token_data(8), batch_size=4)
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module, got dict"):
        Trainer({}, TrainConfig(), loader)
    with pytest.raises(TypeError, match="config: expected a TrainConfig, got dict"):
        Trainer(tiny_gpt2(), {}, loader)
    trainer = Trainer(tiny_gpt2(), TrainConfig(device="cpu"), DataLoader(token_data(8), batch_size=4))
    with pytest.raises(ValueError, match="train_loader: expected a loader from make_loader"):
        trainer.load_checkpoint("anywhere")
    with pytest.raises(ValueError, match="eval_loader: expected a DataLoader to evaluate on, got None"):
        trainer.evaluate()
    with pytest.raises(ValueError, match=r"batch_size: expected at most 8 \(the examples each of 1 process"):
        make_loader(token_data(8), batch_size=9)
