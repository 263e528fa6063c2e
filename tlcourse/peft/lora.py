"""LoRA: a frozen linear layer plus a trainable low-rank update, ``y = W x + b + s · B A x`` (Hu et al., 2021).

Fine-tuning changes a pretrained weight ``W`` (out × in) by some ``ΔW``. LoRA learns that change as a product of
two thin matrices, ``ΔW = s · B A`` with ``A`` (r × in) and ``B`` (out × r), r ≪ min(in, out), while ``W`` stays
frozen: ``r · (in + out)`` trained numbers instead of ``in · out``. As peft's ``lora.Linear``:

- ``A`` starts as ``kaiming_uniform_(a=√5)``, i.e. ``U(−1/√in, 1/√in)``, and ``B`` at zero, so the adapted model
  starts as the pretrained one;
- ``s = alpha / r`` (rsLoRA: ``alpha / √r``);
- dropout acts on the adapter branch's input only;
- merging adds ``s · B A`` to ``W`` (inference then costs nothing extra); unmerging subtracts it.

**Which layers.** ``LoraConfig.target_modules`` and ``modules_to_save`` follow peft's rule: a string is a regex
that must match a module's whole name; a tuple of names matches a module whose name is one of them or ends with
``"." + name`` (peft matches ``modules_to_save`` by any suffix, dot or not; here both use this rule). A module
is matched by its name in the model (``bert.layers.0.attn.query``) *and*, in tlcourse's
checkpoint models, by the name transformers gives it (``bert.encoder.layer.0.attention.self.query``, see
:func:`hf_module_name`), so peft's targets work unchanged: ``"query"``, ``"attention.output.dense"``, GPT-2's
``"c_attn"``. Without targets, peft's defaults for the architecture apply (:data:`DEFAULT_TARGET_MODULES`).

**GPT-2's fused ``c_attn``.** transformers computes query | key | value with one layer, ``c_attn``, and peft adapts
it with one ``A`` (r × in) and one ``B`` (3·out × r). Here the three are separate ``nn.Linear``; the LoRA layers
that transformers fuses into one module share one ``lora_A`` (the same parameter, so gradients add up as in
peft) and each keeps its own rows of ``B``. Outputs and training then equal peft's; only dropout differs, one mask
per layer here against one for ``c_attn`` in peft.

Example:
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> model = apply_lora(model, LoraConfig(r=2, alpha=4, target_modules=("0",)))
    >>> sorted(lora_state_dict(model))
    ['0.lora_A.weight', '0.lora_B.weight']
    >>> [name for name, p in model.named_parameters() if p.requires_grad]
    ['0.lora_A.weight', '0.lora_B.weight']
    >>> type(merge_and_unload(model)[0]).__name__
    'Linear'
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tlcourse.checks import reference
from tlcourse.models.bert import BertConfig
from tlcourse.models.gpt2 import GPT2Config

#: peft's default ``target_modules`` per architecture (``TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING``).
DEFAULT_TARGET_MODULES: dict[type, tuple[str, ...]] = {BertConfig: ("query", "value"), GPT2Config: ("c_attn",)}


def _shape(value: object) -> str:
    return f"shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__


def _check_lora(weight: Tensor, lora_A: Tensor, lora_B: Tensor, scaling: float) -> None:
    """Raise unless weight is (out, in), lora_A (r, in), lora_B (out, r) and scaling a real number."""
    if not isinstance(weight, Tensor) or weight.dim() != 2:
        raise ValueError(f"weight: expected a 2-D tensor (out, in), got {_shape(weight)}")
    out_features, in_features = weight.shape
    if not isinstance(lora_A, Tensor) or lora_A.dim() != 2 or lora_A.shape[1] != in_features:
        raise ValueError(f"lora_A: expected a tensor (r, {in_features}), got {_shape(lora_A)}")
    r = lora_A.shape[0]
    if not isinstance(lora_B, Tensor) or tuple(lora_B.shape) != (out_features, r):
        raise ValueError(f"lora_B: expected a tensor ({out_features}, {r}), got {_shape(lora_B)}")
    if isinstance(scaling, bool) or not isinstance(scaling, (int, float)):
        raise TypeError(f"scaling: expected a float, got {type(scaling).__name__}")


@reference
def lora_forward(x: Tensor, weight: Tensor, bias: Tensor | None, lora_A: Tensor, lora_B: Tensor, scaling: float,
                 dropout: Callable[[Tensor], Tensor] | None = None) -> Tensor:
    """The output of a LoRA linear layer: ``x Wᵀ + b + s · (dropout(x) Aᵀ) Bᵀ``.

    The frozen layer sees ``x`` itself; only the adapter branch sees ``dropout(x)`` (none by default). ``A`` is
    applied before ``B``, so the (out × in) update ``B A`` is never formed.

    Shapes:
        x: (..., in); weight: (out, in); bias: (out,) or None; lora_A: (r, in); lora_B: (out, r);
        scaling: float; returns (..., out).

    Example:
        >>> x = torch.tensor([[1.0, 2.0]])
        >>> W, A, B = torch.eye(2), torch.tensor([[1.0, 1.0]]), torch.tensor([[0.5], [0.0]])    # r = 1
        >>> lora_forward(x, W, None, A, B, scaling=2.0)     # x + 2 · (1·1 + 2·1) · (0.5, 0)
        tensor([[4., 2.]])
    """
    _check_lora(weight, lora_A, lora_B, scaling)
    if not isinstance(x, Tensor) or x.dim() < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"x: expected a tensor (..., {weight.shape[1]}), got {_shape(x)}")
    if bias is not None and (not isinstance(bias, Tensor) or tuple(bias.shape) != (weight.shape[0],)):
        raise ValueError(f"bias: expected None or a tensor ({weight.shape[0]},), got {_shape(bias)}")
    h = x if dropout is None else dropout(x)  # (..., in)
    return F.linear(x, weight, bias) + F.linear(F.linear(h, lora_A), lora_B) * scaling  # (..., r) -> (..., out)


@reference
def merge_lora(weight: Tensor, lora_A: Tensor, lora_B: Tensor, scaling: float) -> Tensor:
    """The merged weight ``W + s · B A``: one plain linear layer that computes what the LoRA layer computes.

    Shapes:
        weight: (out, in); lora_A: (r, in); lora_B: (out, r); scaling: float; returns (out, in).

    Example:
        >>> A, B = torch.tensor([[1.0, 1.0]]), torch.tensor([[0.5], [0.0]])
        >>> merge_lora(torch.eye(2), A, B, scaling=2.0)     # I + 2 · [[0.5, 0.5], [0, 0]]
        tensor([[2., 1.],
                [0., 1.]])
    """
    _check_lora(weight, lora_A, lora_B, scaling)
    return weight + (lora_B @ lora_A) * scaling  # (out, r) @ (r, in) -> (out, in)


def _check_hyperparameters(r: object, alpha: object, dropout: object) -> None:
    if isinstance(r, bool) or not isinstance(r, int) or r < 1:
        raise ValueError(f"r: expected a positive int, got {r!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha <= 0:
        raise ValueError(f"alpha: expected a positive number, got {alpha!r}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout: expected a probability in [0, 1), got {dropout!r}")


class LoRALinear(nn.Module):
    """A frozen ``base`` linear layer plus the trainable update ``scaling · lora_B(lora_A(dropout(x)))``.

    ``lora_A`` (r × in, Kaiming-uniform) and ``lora_B`` (out × r, zeros) are bias-free ``nn.Linear`` layers, as in
    peft, so their weights are named ``lora_A.weight`` / ``lora_B.weight``. ``merge()`` adds the update to the
    base weight and the forward pass then runs the base layer alone; ``unmerge()`` takes it out again.

    Shapes:
        x: (..., in_features); returns (..., out_features).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> layer = LoRALinear(nn.Linear(6, 4), r=2, alpha=4)
        >>> layer.scaling, layer.lora_A.weight.shape, layer.lora_B.weight.shape
        (2.0, torch.Size([2, 6]), torch.Size([4, 2]))
        >>> x = torch.randn(3, 6)
        >>> torch.equal(layer(x), layer.base(x))             # B = 0: it starts as the base layer
        True
        >>> _ = nn.init.normal_(layer.lora_B.weight)          # as if trained
        >>> y = layer(x)
        >>> layer.merge()
        >>> layer.merged, torch.allclose(layer(x), y, atol=1e-6)
        (True, True)
    """

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 8, dropout: float = 0.0, use_rslora: bool = False):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"base: expected an nn.Linear, got {type(base).__name__}")
        _check_hyperparameters(r, alpha, dropout)
        self.base = base.requires_grad_(False)
        self.r, self.alpha, self.use_rslora = r, alpha, bool(use_rslora)
        self.scaling = alpha / math.sqrt(r) if use_rslora else alpha / r
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        options = {"bias": False, "device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_A = nn.Linear(base.in_features, r, **options)
        self.lora_B = nn.Linear(r, base.out_features, **options)
        self.merged = False
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))  # U(-1/sqrt(in), 1/sqrt(in))
        nn.init.zeros_(self.lora_B.weight)

    def forward(self, x: Tensor) -> Tensor:
        """The base layer's output plus the scaled update, or the base layer alone once merged."""
        if self.merged:
            return self.base(x)
        return lora_forward(x, self.base.weight, self.base.bias, self.lora_A.weight, self.lora_B.weight,
                            self.scaling, dropout=self.dropout)

    def delta_weight(self) -> Tensor:
        """The update ``scaling · B A`` (out × in): what merging adds to the base weight."""
        weight = self.base.weight
        return merge_lora(torch.zeros_like(weight), self.lora_A.weight, self.lora_B.weight, self.scaling)

    @torch.no_grad()
    def merge(self) -> None:
        """Add the update to the base weight (once: merging a merged layer does nothing)."""
        if not self.merged:
            weight = self.base.weight
            weight.copy_(merge_lora(weight, self.lora_A.weight, self.lora_B.weight, self.scaling))
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Subtract the update from the base weight again (an unmerged layer is left as it is)."""
        if self.merged:
            self.base.weight.sub_(self.delta_weight())
            self.merged = False

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha}, scaling={self.scaling:g}, merged={self.merged}"


@dataclass
class LoraConfig:
    """Which layers get LoRA and how: peft's ``LoraConfig`` with its defaults (``alpha`` is peft's
    ``lora_alpha``, ``dropout`` its ``lora_dropout``).

    ``target_modules``: names (a tuple) or a regex (a str); ``None`` takes the architecture's default
    (:data:`DEFAULT_TARGET_MODULES`). ``modules_to_save``: names of other modules trained in full (a new
    classification head); peft adds ``classifier`` and ``score`` by itself for ``task_type="SEQ_CLS"``, here
    they are named explicitly.

    Example:
        >>> LoraConfig(r=4, alpha=16, use_rslora=True).scaling              # alpha / sqrt(r)
        8.0
        >>> LoraConfig(target_modules=["query", "key"]).target_modules
        ('query', 'key')
    """

    r: int = 8
    alpha: float = 8
    dropout: float = 0.0
    target_modules: str | tuple[str, ...] | None = None
    use_rslora: bool = False
    modules_to_save: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_hyperparameters(self.r, self.alpha, self.dropout)
        if isinstance(self.target_modules, list):
            self.target_modules = tuple(self.target_modules)
        targets = self.target_modules
        if not (targets is None or (isinstance(targets, str) and targets) or (
                isinstance(targets, tuple) and targets and all(isinstance(n, str) and n for n in targets))):
            raise TypeError(f"target_modules: expected None, a regex str or a non-empty tuple of module names, "
                            f"got {targets!r}")
        if not isinstance(self.modules_to_save, (list, tuple)) or not all(
                isinstance(n, str) and n for n in self.modules_to_save):
            raise TypeError(f"modules_to_save: expected a tuple of module names, got {self.modules_to_save!r}")
        self.modules_to_save = tuple(self.modules_to_save)
        if not isinstance(self.use_rslora, bool):
            raise TypeError(f"use_rslora: expected a bool, got {self.use_rslora!r}")

    @property
    def scaling(self) -> float:
        """``alpha / r``, or ``alpha / √r`` with rsLoRA."""
        return self.alpha / math.sqrt(self.r) if self.use_rslora else self.alpha / self.r


def hf_module_name(model: nn.Module, name: str) -> str | None:
    """Transformers' name of the module ``name`` of a tlcourse checkpoint model (one with ``hf_name``), else None.

    It is the longest common module path of the transformers names of the module's parameters (of a LoRA
    layer: of its base weight). GPT-2's query, key and value all give ``...attn.c_attn``.

    Example:
        >>> from tlcourse.models import BertConfig, BertForSequenceClassification
        >>> model = BertForSequenceClassification(BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1,
        ...     num_attention_heads=2, intermediate_size=16, max_position_embeddings=8))
        >>> hf_module_name(model, "bert.layers.0.attn.query"), hf_module_name(model, "bert.layers.0")
        ('bert.encoder.layer.0.attention.self.query', 'bert.encoder.layer.0')
    """
    hf_name = getattr(model, "hf_name", None)
    if not callable(hf_name):
        return None
    module = model.get_submodule(name)
    parameters = ["weight"] if isinstance(module, LoRALinear) else [p for p, _ in module.named_parameters()]
    parents = [hf_name(f"{name}.{p}").split(".")[:-1] for p in parameters]
    return ".".join(os.path.commonprefix(parents)) if parents else None


def _matches(targets: str | tuple[str, ...], key: str) -> bool:
    """peft's ``check_target_module_exists``: a str fullmatches; a name equals the key or ends it after a dot."""
    if isinstance(targets, str):
        return re.fullmatch(targets, key) is not None
    return key in targets or any(key.endswith("." + target) for target in targets)


def find_modules(model: nn.Module, targets: str | tuple[str, ...], *, outermost: bool = False) -> list[str]:
    """The names of the modules of ``model`` that ``targets`` selects by peft's rule, by their own or their
    transformers name (see the module docstring); modules inside LoRA layers are not considered. ``outermost``
    leaves out modules inside another selected one.

    Example:
        >>> model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2)))
        >>> find_modules(model, ("0",)), find_modules(model, r"1\\.\\d")
        (['0', '1.0'], ['1.0'])
    """
    inner = {f"{name}.{child}" for name, m in model.named_modules() if isinstance(m, LoRALinear)
             for child, _ in m.named_modules() if child}
    found = []
    for name, _ in model.named_modules():
        if name and name not in inner:
            hf = hf_module_name(model, name)
            if _matches(targets, name) or (hf is not None and _matches(targets, hf)):
                found.append(name)
    return [n for n in found if not any(n.startswith(f + ".") for f in found)] if outermost else found


def lora_layers(model: nn.Module) -> dict[str, LoRALinear]:
    """The LoRA layers of ``model``, by name."""
    return {name: m for name, m in model.named_modules() if isinstance(m, LoRALinear)}


def _default_targets(model: nn.Module) -> tuple[str, ...]:
    """peft's default targets for the first BERT or GPT-2 config found in ``model``."""
    for module in model.modules():
        for config_class, targets in DEFAULT_TARGET_MODULES.items():
            if isinstance(getattr(module, "config", None), config_class):
                return targets
    raise ValueError(f"target_modules: expected module names for a {type(model).__name__}, which has no default "
                     "(defaults exist for models with a BertConfig or a GPT2Config), got None")


def apply_lora(model: nn.Module, config: LoraConfig | None = None) -> nn.Module:
    """Replace the targeted ``nn.Linear`` layers of ``model`` by :class:`LoRALinear` in place and freeze all but
    the LoRA weights and ``modules_to_save``; return ``model``.

    Targets inside a module to save are left alone, as in peft. Layers that transformers fuses into one module
    (GPT-2's query, key and value in ``c_attn``) share one ``lora_A``. Raises ``ValueError`` if a target names no
    layer or a layer that is not an ``nn.Linear``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    config = LoraConfig() if config is None else config
    if not isinstance(config, LoraConfig):
        raise TypeError(f"config: expected a LoraConfig, got {type(config).__name__}")
    if lora_layers(model):
        raise ValueError("model: expected a model without LoRA layers, got one with "
                         f"{sorted(lora_layers(model))} (merge_and_unload it first)")
    saved = find_modules(model, config.modules_to_save, outermost=True)
    if config.modules_to_save and not saved:
        raise ValueError(f"modules_to_save: expected names of modules of the model, got {config.modules_to_save} "
                         "that match none")
    targets = config.target_modules if config.target_modules is not None else _default_targets(model)
    chosen = [n for n in find_modules(model, targets) if not any(n == s or n.startswith(s + ".") for s in saved)]
    wrong = [n for n in chosen if not isinstance(model.get_submodule(n), nn.Linear)]
    if wrong:
        raise ValueError(f"target_modules: expected names of nn.Linear layers, got {targets!r}, which also selects "
                         f"{wrong[0]!r}, a {type(model.get_submodule(wrong[0])).__name__}")
    if not chosen:
        linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
        raise ValueError(f"target_modules: expected names of linear layers such as {linears[:4]}, got {targets!r}, "
                         "which matches none")
    model.requires_grad_(False)
    shared: dict[str, LoRALinear] = {}  # transformers' module name -> the first LoRA layer in it
    for name in chosen:
        parent, _, child = name.rpartition(".")
        layer = LoRALinear(model.get_submodule(name), config.r, config.alpha, config.dropout, config.use_rslora)
        hf = hf_module_name(model, name)
        if hf is not None and hf in shared:
            layer.lora_A = shared[hf].lora_A  # fused in transformers (GPT-2's c_attn): one A, as in peft
        shared.setdefault(hf or name, layer)
        setattr(model.get_submodule(parent), child, layer)
    for name in saved:
        model.get_submodule(name).requires_grad_(True)
    return model


def merge(model: nn.Module) -> nn.Module:
    """Merge every LoRA layer of ``model`` (see :meth:`LoRALinear.merge`); return ``model``."""
    for layer in lora_layers(model).values():
        layer.merge()
    return model


def unmerge(model: nn.Module) -> nn.Module:
    """Unmerge every LoRA layer of ``model``, restoring the base weights (up to rounding); return ``model``."""
    for layer in lora_layers(model).values():
        layer.unmerge()
    return model


def merge_and_unload(model: nn.Module) -> nn.Module:
    """Merge every LoRA layer and put its base ``nn.Linear`` back in its place: a plain model again, with the
    original parameter names (the merged weights stay frozen, as peft leaves them); return ``model``."""
    for name, layer in lora_layers(model).items():
        layer.merge()
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent), child, layer.base)
    return model


def unload(model: nn.Module) -> nn.Module:
    """Put every LoRA layer's base ``nn.Linear`` back in its place *without* merging (peft's ``unload``): the
    pretrained model again, bit for bit, since LoRA never writes to the base weights (a merged layer is unmerged
    first, which restores its weight up to rounding); return ``model``.

    Example:
        >>> base = nn.Sequential(nn.Linear(4, 4))
        >>> weight = base[0].weight.clone()
        >>> model = apply_lora(base, LoraConfig(r=2, target_modules=("0",)))
        >>> type(model[0]).__name__, type(unload(model)[0]).__name__, torch.equal(model[0].weight, weight)
        ('LoRALinear', 'Linear', True)
    """
    for name, layer in lora_layers(model).items():
        if layer.merged:
            layer.unmerge()
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent), child, layer.base)
    return model


def lora_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """What fine-tuning with LoRA changed, by state-dict name: every ``lora_A`` / ``lora_B`` weight and the other
    trainable parameters (the ``modules_to_save``). A shared ``lora_A`` appears under each layer's name."""
    names = {f"{name}.{part}.weight" for name in lora_layers(model) for part in ("lora_A", "lora_B")}
    names |= {name for name, p in model.named_parameters() if p.requires_grad}
    return {name: t for name, t in model.state_dict().items() if name in names}
