"""BitFit (Ben Zaken, Ravfogel & Goldberg, ACL 2022): fine-tune only the bias terms, plus the task head.

Every weight matrix and every LayerNorm gain stays frozen; what trains is, per layer, the biases of the query, key
and value projections, of the attention output, of both MLP projections and of both LayerNorms (the paper's b_q,
b_k, b_v, b_m1, b_LN1, b_m2, b_m3, b_LN2), and the new classification layer, weight and bias. In BERT-base that is
about 0.1 % of the parameters.

**The rule** is the official code's (``benzakenelad/BitFit``, ``_deactivate_relevant_gradients``): a parameter
trains if its name contains ``"bias"`` or ``"classifier"``. On transformers' names that also takes
``embeddings.LayerNorm.bias`` and ``pooler.dense.bias``. tlcourse's names keep those words: the encoder's biases
end in ``.bias`` and ``BertForSequenceClassification``'s head is ``classifier``; the one addition is the head of
:class:`~tlcourse.finetuning.SequenceClassifier` / ``TokenClassifier``, called ``head``, which plays the role of
``classifier``: a name with a component ``head`` trains too.

Example:
    >>> bitfit_parameters(["layers.0.attn.query.weight", "layers.0.attn.query.bias", "layers.0.ln_1.weight",
    ...                    "classifier.weight", "head.out.weight"])
    ['layers.0.attn.query.bias', 'classifier.weight', 'head.out.weight']
"""

from __future__ import annotations

from typing import Sequence

from torch import nn

from tlcourse.checks import reference
from tlcourse.finetuning.freezing import ParameterCount, parameter_count

#: The official rule's substrings: every bias, and the classification layer.
BITFIT_SUBSTRINGS = ("bias", "classifier")
#: The name component of tlcourse's task heads (``SequenceClassifier.head``), mapped onto ``classifier``.
TASK_HEAD = "head"


@reference
def bitfit_parameters(names: Sequence[str]) -> list[str]:
    """The parameter names BitFit trains, in the given order: those containing ``"bias"`` or ``"classifier"``
    (the official rule) or with a component ``"head"`` (tlcourse's task head; see the module docstring).

    Shapes:
        names: a list of str -> a list of str, a sub-list of names.

    Example:
        >>> bitfit_parameters(["bert.pooler.dense.weight", "bert.pooler.dense.bias", "bert.embeddings.LayerNorm.bias"])
        ['bert.pooler.dense.bias', 'bert.embeddings.LayerNorm.bias']
    """
    if isinstance(names, str) or not all(isinstance(name, str) for name in names):
        raise TypeError(f"names: expected a list of parameter names (str), got {names!r}")
    return [name for name in names
            if any(word in name for word in BITFIT_SUBSTRINGS) or TASK_HEAD in name.split(".")]


def apply_bitfit(model: nn.Module) -> ParameterCount:
    """Freeze every parameter of ``model`` but those :func:`bitfit_parameters` selects; return the counts.

    Example:
        >>> model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
        >>> print(apply_bitfit(model))                    # 0.bias and 1.bias: 8 of 4*4 + 4 + 4 + 4
        8 of 28 parameters trainable (28.57 %)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    names = [name for name, _ in model.named_parameters()]
    selected = set(bitfit_parameters(names))
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name in selected)
    return parameter_count(model)
