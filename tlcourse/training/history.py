"""Loss curves: the trainer's history as a picture.

Each history record is a dict with ``step``, ``train_loss``, ``lr``, ``grad_norm``, ``tokens_per_s``, ``mfu`` and,
on evaluation steps, ``eval_loss`` and ``eval_perplexity`` (:meth:`~tlcourse.training.Trainer.train`).
:func:`plot_history` draws the train loss as a line, the eval loss as dots, and the learning rate beside them.

Example:
    >>> history = [{"step": 10, "train_loss": 3.2, "lr": 1e-3}, {"step": 20, "train_loss": 2.5, "lr": 5e-4,
    ...             "eval_loss": 2.7}]
    >>> figure = plot_history(history)
    >>> [ax.get_title() for ax in figure.axes]
    ['loss', 'learning rate']
    >>> [line.get_label() for line in figure.axes[0].get_lines()]
    ['train', 'eval']
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def plot_history(history: list[dict[str, Any]], title: str | None = None) -> Figure:
    """A figure of two panels: train and eval loss against the step, and the learning rate against the step."""
    if not isinstance(history, list) or not history or not all(isinstance(r, dict) and "step" in r for r in history):
        raise ValueError(f"history: expected a non-empty list of records with a 'step', got {history!r:.80}")
    figure, (loss_ax, lr_ax) = plt.subplots(1, 2, figsize=(10, 3.5))
    train = [(r["step"], r["train_loss"]) for r in history if r.get("train_loss") is not None]
    evals = [(r["step"], r["eval_loss"]) for r in history if r.get("eval_loss") is not None]
    if train:
        loss_ax.plot(*zip(*train), label="train")
    if evals:
        loss_ax.plot(*zip(*evals), "o-", label="eval")
    loss_ax.set(title="loss", xlabel="step", ylabel="cross-entropy")
    loss_ax.legend()
    lr_ax.plot([r["step"] for r in history], [r.get("lr") for r in history])
    lr_ax.set(title="learning rate", xlabel="step")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    plt.close(figure)  # returned for display; not left open in pyplot's list of figures
    return figure
