"""Bottleneck adapters (Houlsby et al., 2019; Pfeiffer et al., 2020): small trainable layers in a frozen model.

An adapter projects a d-dimensional hidden state down to m dimensions, applies a non-linearity and projects back
up, with a residual: ``A(z) = z + W_up f(W_down z + b_down) + b_up``, ``2md + m + d`` parameters. AdapterHub's
``reduction_factor`` sets ``m = d // reduction_factor`` (16 by default, at least 1). Where they go in a post-LN
(BERT) block, with ``h`` a sub-layer's output after dropout, ``x`` its input and ``LN`` its LayerNorm, as
AdapterHub's ``adapters`` library computes them (``f`` = the bottleneck without its residual):

- **Houlsby** (``"double_seq_bn"``, SiLU/"swish"): after the attention output *and* after the FFN output,
  ``out = LN(x + h + f(h))``;
- **Pfeiffer** (``"seq_bn"``, AdapterHub's default, ReLU): after the FFN output only,
  ``out = LN(x + h + f(LN(h + x)))``, the *same* pretrained LayerNorm applied twice.

The up-projection starts at zero (``init="zero_up"``, AdapterHub's ``"mam_adapter"`` init), so ``f = 0`` and the
adapted model starts as exactly the pretrained one, the near-identity start Houlsby et al. ask for. AdapterHub's
own default, ``init="bert"``, draws both projections from N(0, 0.02): *not* an identity at the start.

Several named adapters (one per task) can live in one frozen model: :func:`add_adapters` inserts one in every
block (at the block's ``attn_adapters`` / ``mlp_adapters`` insertion points), :func:`set_active_adapter` picks the
one the forward pass uses (``None``: the pretrained model) and makes it and the task head the only trainable
parameters. Names: ``layers.{i}.{attn,mlp}_adapters.<name>.{down,up}.{weight,bias}`` (AdapterHub's
``encoder.layer.{i}.{attention.output,output}.adapters.<name>.{adapter_down.0,adapter_up}.*``).

Example:
    >>> from tlcourse.models import BertConfig, BertModel
    >>> _ = torch.manual_seed(0)
    >>> model = BertModel(BertConfig(vocab_size=30, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
    ...                              intermediate_size=64, max_position_embeddings=16)).eval()
    >>> ids = torch.tensor([[2, 5, 7, 3]])
    >>> before = model(ids).last_hidden_state
    >>> add_adapters(model, "sst2", AdapterConfig("houlsby"))    # 2 layers x 2 places x (2*32*2 + 2 + 32)
    648
    >>> print(set_active_adapter(model, "sst2"))                 # only the adapter trains (no task head here)
    648 of 20,392 parameters trainable (3.18 %)
    >>> torch.equal(model(ids).last_hidden_state, before)     # zero up-projection: exactly the pretrained model
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tlcourse.attention.block import TransformerBlock
from tlcourse.checks import reference
from tlcourse.finetuning.freezing import ParameterCount, parameter_count

#: AdapterHub's non-linearity names (transformers' ``ACT2FN``: "swish" is SiLU, "gelu" the exact erf form).
NON_LINEARITIES: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu, "swish": F.silu, "silu": F.silu, "gelu": F.gelu, "tanh": torch.tanh,
}
#: Where adapters go (see the module docstring) and the non-linearity each uses by default.
PLACEMENTS: dict[str, str] = {"houlsby": "swish", "pfeiffer": "relu"}
#: ``"zero_up"``: down as ``nn.Linear`` (kaiming-uniform), up and biases zero (identity at the start; AdapterHub's
#: ``"mam_adapter"``); ``"bert"``: both N(0, 0.02), biases zero (AdapterHub's default); ``"houlsby"``: both
#: N(0, 0.01) truncated to +-0.02, biases zero (near identity).
INITS = ("zero_up", "bert", "houlsby")
#: Task heads that train with an adapter: tlcourse's ``SequenceClassifier`` / ``TokenClassifier`` (``head``) and
#: the ``BertFor*Classification`` models (``classifier``).
TASK_HEADS = ("head.", "classifier.")


def _shape(value: object) -> str:
    return f"shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__


@reference
def adapter_parameter_count(d: int, m: int) -> int:
    """The parameters of one bottleneck adapter: ``W_down`` (m, d), ``b_down`` (m,), ``W_up`` (d, m), ``b_up``
    (d,), i.e. ``2md + m + d``.

    Shapes:
        d, m: positive ints -> int.

    Example:
        >>> adapter_parameter_count(768, 48)         # BERT-base, reduction_factor 16
        74544
    """
    for name, value in (("d", d), ("m", m)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return 2 * d * m + m + d


@reference
def adapter_forward(h: Tensor, down_weight: Tensor, down_bias: Tensor, up_weight: Tensor, up_bias: Tensor, *,
                    non_linearity: str = "relu", residual: Tensor | None = None) -> Tensor:
    """The bottleneck adapter with its residual: ``residual + W_up f(W_down h + b_down) + b_up``, ``residual = h``
    unless given (Pfeiffer's adapter reads ``LN(h + x)`` but adds ``h``); ``f`` is one of ``NON_LINEARITIES``.

    Shapes:
        h: (..., d); down_weight (m, d), down_bias (m,), up_weight (d, m), up_bias (d,); residual: like h;
        returns (..., d).

    Example:
        >>> h = torch.tensor([[1.0, -2.0]])
        >>> down_w, down_b = torch.tensor([[1.0, 1.0]]), torch.tensor([3.0])      # d=2 -> m=1: relu(1 - 2 + 3) = 2
        >>> up_w, up_b = torch.tensor([[1.0], [-1.0]]), torch.tensor([0.5, 0.5])
        >>> adapter_forward(h, down_w, down_b, up_w, up_b)                     # h + (2, -2) + 0.5
        tensor([[ 3.5000, -3.5000]])
        >>> adapter_forward(h, down_w, down_b, torch.zeros(2, 1), torch.zeros(2)).equal(h)   # zero up: identity
        True
    """
    if not isinstance(h, Tensor) or h.dim() < 1 or not h.is_floating_point():
        raise ValueError(f"h: expected a float tensor (..., d), got {_shape(h)}")
    d = h.shape[-1]
    if not isinstance(down_weight, Tensor) or down_weight.dim() != 2 or down_weight.shape[1] != d:
        raise ValueError(f"down_weight: expected a tensor (m, {d}), got {_shape(down_weight)}")
    m = down_weight.shape[0]
    expected = (("down_bias", down_bias, (m,)), ("up_weight", up_weight, (d, m)), ("up_bias", up_bias, (d,)))
    for name, value, shape in expected:
        if not isinstance(value, Tensor) or tuple(value.shape) != shape:
            raise ValueError(f"{name}: expected a tensor of shape {shape}, got {_shape(value)}")
    if non_linearity not in NON_LINEARITIES:
        raise ValueError(f"non_linearity: expected one of {sorted(NON_LINEARITIES)}, got {non_linearity!r}")
    if residual is None:
        residual = h
    elif not isinstance(residual, Tensor) or residual.shape != h.shape:
        raise ValueError(f"residual: expected a tensor of h's shape {tuple(h.shape)}, got {_shape(residual)}")
    z = NON_LINEARITIES[non_linearity](F.linear(h, down_weight, down_bias))  # (..., m)
    return F.linear(z, up_weight, up_bias) + residual  # (..., d)


@dataclass
class AdapterConfig:
    """One adapter's placement, size, non-linearity and initialisation (AdapterHub's ``BnConfig`` essentials).

    ``placement``: ``"houlsby"`` or ``"pfeiffer"`` (see the module docstring); ``reduction_factor``: ``m = d //
    reduction_factor``, at least 1; ``non_linearity``: a key of ``NON_LINEARITIES``, by default the placement's
    (Houlsby "swish", Pfeiffer "relu"); ``init``: one of ``INITS``.

    Example:
        >>> config = AdapterConfig("houlsby")
        >>> config.non_linearity, config.bottleneck_size(768), AdapterConfig(reduction_factor=48).bottleneck_size(32)
        ('swish', 48, 1)
    """

    placement: str = "pfeiffer"
    reduction_factor: float = 16
    non_linearity: str | None = None
    init: str = "zero_up"

    def __post_init__(self) -> None:
        if self.placement not in PLACEMENTS:
            raise ValueError(f"placement: expected one of {sorted(PLACEMENTS)}, got {self.placement!r}")
        rf = self.reduction_factor
        if isinstance(rf, bool) or not isinstance(rf, (int, float)) or not rf > 0:
            raise ValueError(f"reduction_factor: expected a positive number, got {rf!r}")
        if self.non_linearity is None:
            self.non_linearity = PLACEMENTS[self.placement]
        if self.non_linearity not in NON_LINEARITIES:
            raise ValueError(f"non_linearity: expected one of {sorted(NON_LINEARITIES)}, got {self.non_linearity!r}")
        if self.init not in INITS:
            raise ValueError(f"init: expected one of {INITS}, got {self.init!r}")

    def bottleneck_size(self, d: int) -> int:
        """``m`` for hidden size ``d``: ``int(d // reduction_factor)``, at least 1 (as AdapterHub)."""
        return max(1, int(d // self.reduction_factor))


class Adapter(nn.Module):
    """One bottleneck adapter, ``down = Linear(d, m)`` and ``up = Linear(m, d)``, computing :func:`adapter_forward`.

    Shapes:
        h (..., d), residual like h (default h) -> (..., d).
    """

    def __init__(self, d: int, m: int, non_linearity: str = "relu", init: str = "zero_up"):
        super().__init__()
        adapter_parameter_count(d, m)  # checks d and m
        if non_linearity not in NON_LINEARITIES:
            raise ValueError(f"non_linearity: expected one of {sorted(NON_LINEARITIES)}, got {non_linearity!r}")
        if init not in INITS:
            raise ValueError(f"init: expected one of {INITS}, got {init!r}")
        self.non_linearity = non_linearity
        self.down = nn.Linear(d, m)  # kaiming-uniform weight, as "zero_up" keeps it
        self.up = nn.Linear(m, d)
        with torch.no_grad():
            for linear in (self.down, self.up):
                nn.init.zeros_(linear.bias)
                if init == "bert":
                    nn.init.normal_(linear.weight, std=0.02)
                elif init == "houlsby":
                    nn.init.trunc_normal_(linear.weight, std=1e-2, a=-2e-2, b=2e-2)
            if init == "zero_up":
                nn.init.zeros_(self.up.weight)

    def forward(self, h: Tensor, residual: Tensor | None = None) -> Tensor:
        return adapter_forward(h, self.down.weight, self.down.bias, self.up.weight, self.up.bias,
                               non_linearity=self.non_linearity, residual=residual)


class AdapterLayer(nn.ModuleDict):
    """The named adapters at one insertion point of a post-LN block, and which of them is ``active``.

    Called as ``layer(h, x, norm)`` in place of ``norm(x + h)``; with no active adapter here it computes exactly
    that, else the active adapter's placement formula (see the module docstring).

    Shapes:
        h, x: (B, T, d) -> (B, T, d).
    """

    def __init__(self) -> None:
        super().__init__()
        self.active: str | None = None
        self.placements: dict[str, str] = {}

    def add(self, name: str, adapter: Adapter, placement: str) -> None:
        """Insert ``adapter`` under ``name``, computed with ``placement``'s formula when active."""
        self[name] = adapter
        self.placements[name] = placement

    def forward(self, h: Tensor, x: Tensor, norm: nn.Module) -> Tensor:
        if self.active not in self.placements:
            return norm(x + h)  # (B, T, d)
        adapter = self[self.active]
        if self.placements[self.active] == "houlsby":
            return norm(adapter(h) + x)  # LN(x + h + f(h))
        return norm(adapter(norm(h + x), residual=h) + x)  # LN(x + h + f(LN(h + x)))


def _adapter_layers(model: nn.Module) -> list[AdapterLayer]:
    return [module for module in model.modules() if isinstance(module, AdapterLayer)]


def adapter_names(model: nn.Module) -> list[str]:
    """The names of the adapters in ``model``, in the order they were added."""
    return list(dict.fromkeys(name for layer in _adapter_layers(model) for name in layer.placements))


def add_adapters(model: nn.Module, name: str, config: AdapterConfig | None = None) -> int:
    """Insert an adapter called ``name`` into every transformer block of ``model`` (a tlcourse ``BertModel``, or a
    model that holds one); return the number of parameter values added.

    The new adapters are inactive and frozen until :func:`set_active_adapter` picks them. Each block gets one
    (Pfeiffer) or two (Houlsby) adapters of ``config.bottleneck_size(d)`` dimensions, on the block's device and dtype.
    """
    config = AdapterConfig() if config is None else config
    if not isinstance(config, AdapterConfig):
        raise TypeError(f"config: expected an AdapterConfig, got {type(config).__name__}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    blocks = [module for module in model.modules() if isinstance(module, TransformerBlock)]
    if not blocks:
        raise TypeError(f"model: expected a model with tlcourse TransformerBlock layers (e.g. a BertModel), got "
                        f"{type(model).__name__} without any")
    if any(block.config.pre_ln for block in blocks):
        raise ValueError("model: expected post-LN blocks (BERT) for AdapterHub's placements, got pre-LN ones (GPT-2)")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", name) or hasattr(AdapterLayer(), name):
        raise ValueError(f"name: expected letters, digits, '_' or '-', not an AdapterLayer attribute, got {name!r}")
    if name in adapter_names(model):
        raise ValueError(f"name: expected a new adapter name, got {name!r}, which the model already has")
    layers = _adapter_layers(model)
    active = layers[0].active if layers else None
    places = ("attn_adapters", "mlp_adapters") if config.placement == "houlsby" else ("mlp_adapters",)
    added = 0
    for block in blocks:
        d = block.config.d_model
        for place in places:
            if getattr(block, place) is None:
                setattr(block, place, AdapterLayer())
                getattr(block, place).active = active
            adapter = Adapter(d, config.bottleneck_size(d), config.non_linearity, config.init)
            adapter.to(device=block.ln_2.weight.device, dtype=block.ln_2.weight.dtype).requires_grad_(False)
            getattr(block, place).add(name, adapter, config.placement)
            added += sum(p.numel() for p in adapter.parameters())
    return added


def set_active_adapter(model: nn.Module, name: str | None, *,
                       task_heads: Sequence[str] = TASK_HEADS) -> ParameterCount:
    """Make adapter ``name`` the one every block computes (``None``: none, the pretrained model) and freeze all
    else but the task head: the trainable parameters become the active adapter's and those whose name starts with
    one of ``task_heads``. Return the counts.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if isinstance(task_heads, str) or not all(isinstance(prefix, str) for prefix in task_heads):
        raise TypeError(f"task_heads: expected a list of name prefixes (str), got {task_heads!r}")
    names = adapter_names(model)
    if name is not None and name not in names:
        raise ValueError(f"name: expected None or one of the model's adapters {names}, got {name!r}")
    for parameter_name, parameter in model.named_parameters():
        parameter.requires_grad_(parameter_name.startswith(tuple(task_heads)))
    for layer in _adapter_layers(model):
        layer.active = name
        if name in layer.placements:
            layer[name].requires_grad_(True)
    return parameter_count(model)

