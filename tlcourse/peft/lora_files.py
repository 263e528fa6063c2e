"""LoRA adapters in peft's file format: ``adapter_config.json`` + ``adapter_model.safetensors``.

peft saves an adapter under the names of the transformers model it wraps, as ``get_peft_model_state_dict``
writes them: ``base_model.model.<module>.lora_A.weight`` (r × in) and ``...lora_B.weight`` (out × r) for each
adapted module, and ``base_model.model.<module>.<parameter>`` for the ``modules_to_save``. :func:`save_lora`
writes that for a tlcourse model, so ``peft.PeftModel.from_pretrained(<transformers model>, path)`` computes what
the tlcourse model computes; :func:`load_lora` reads what ``PeftModel.save_pretrained`` wrote onto a tlcourse model.

Names go through the model's ``hf_name`` (see :func:`~tlcourse.peft.lora.hf_module_name`), so both work for the
models that load transformers checkpoints (``BertModel``, ``BertFor*``, ``GPT2Model``, ``GPT2LMHeadModel``);
for a :class:`~tlcourse.finetuning.SequenceClassifier`, save its ``encoder`` (a ``BertModel``).

**GPT-2.** peft adapts the fused ``c_attn`` with one ``A`` and a ``B`` whose rows are query | key | value (peft's
``fan_in_fan_out`` transposes only the merged update, not A or B). Our LoRA layers in one fused module share
``lora_A`` (see :mod:`~tlcourse.peft.lora`), so the file's ``A`` is that shared one and its ``B`` the layers'
``B`` stacked in module order, with zero rows for a layer without LoRA (LoRA on query and value only is saved
exactly). Reading splits ``B`` back.

**Not supported** (``ValueError``): peft adapters with DoRA, LoRA biases, trained biases (``bias != "none"``),
per-layer ranks or alphas (``rank_pattern`` / ``alpha_pattern``), ``layers_to_transform``, ``exclude_modules``,
``target_parameters``, trainable tokens or layer replication.

Example:
    >>> import tempfile
    >>> from tlcourse.models import BertConfig, BertModel
    >>> from tlcourse.peft.lora import LoraConfig, apply_lora
    >>> small = BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
    ...                    intermediate_size=16, max_position_embeddings=8)
    >>> config = LoraConfig(r=2, alpha=4)
    >>> model = apply_lora(BertModel(small), config)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     save_lora(model, tmp, config)
    ...     copy = load_lora(BertModel(small), tmp)
    >>> sorted(name for name, p in copy.named_parameters() if p.requires_grad)[:2]
    ['layers.0.attn.query.lora_A.weight', 'layers.0.attn.query.lora_B.weight']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from tlcourse.models.gpt2 import GPT2Pretrained
from tlcourse.peft.lora import LoraConfig, LoRALinear, apply_lora, find_modules, hf_module_name, lora_layers

ADAPTER_CONFIG_NAME = "adapter_config.json"
ADAPTER_WEIGHTS_NAME = "adapter_model.safetensors"
PREFIX = "base_model.model."  # PeftModel.base_model (the LoraModel) .model (the transformers model)
_TASK_TYPES = {"BertForSequenceClassification": "SEQ_CLS", "BertForTokenClassification": "TOKEN_CLS",
               "GPT2LMHeadModel": "CAUSAL_LM"}
_UNSUPPORTED = ("use_dora", "lora_bias", "bias", "rank_pattern", "alpha_pattern", "layers_to_transform",
                "exclude_modules", "target_parameters", "trainable_token_indices", "layer_replication")


def _check_model(model: nn.Module) -> None:
    if not isinstance(model, nn.Module) or not callable(getattr(model, "hf_name", None)):
        raise TypeError(f"model: expected a tlcourse model with transformers names (BertModel, BertFor*, GPT2Model, "
                        f"GPT2LMHeadModel), got {type(model).__name__}")


def _fused_groups(model: nn.Module, layers: dict[str, LoRALinear]) -> dict[str, list[str]]:
    """For each transformers module holding LoRA layers, all our linear layers in it (LoRA or not), in order."""
    inner = {f"{name}.{child}" for name, layer in layers.items() for child, _ in layer.named_modules() if child}
    groups: dict[str, list[str]] = {}
    for name, module in model.named_modules():
        if isinstance(module, (nn.Linear, LoRALinear)) and name not in inner:
            groups.setdefault(hf_module_name(model, name), []).append(name)
    return {hf: names for hf, names in groups.items() if any(n in layers for n in names)}


def _saved_state(model: nn.Module, saved: list[str]) -> dict[str, Tensor]:
    """The tensors of the modules to save under transformers' names (``to_hf_state``: GPT-2's layouts too)."""
    state = {f"{name}.{key}": t for name in saved for key, t in model.get_submodule(name).state_dict().items()}
    return model.to_hf_state(state)


def save_lora(model: nn.Module, path: str | Path, config: LoraConfig) -> None:
    """Write the LoRA adapter of ``model`` (made by ``apply_lora(model, config)``) to the directory ``path``
    in peft's format; see the module docstring. Merged or not, the same adapter is written."""
    _check_model(model)
    if not isinstance(config, LoraConfig):
        raise TypeError(f"config: expected a LoraConfig, got {type(config).__name__}")
    layers = lora_layers(model)
    if not layers:
        raise ValueError("model: expected a model with LoRA layers (from apply_lora), got none")
    for name, layer in layers.items():
        if (layer.r, layer.alpha, layer.use_rslora) != (config.r, config.alpha, config.use_rslora):
            raise ValueError(f"config: expected the LoRA layers' r={layer.r}, alpha={layer.alpha}, use_rslora="
                             f"{layer.use_rslora} (of {name}), got r={config.r}, alpha={config.alpha}, "
                             f"use_rslora={config.use_rslora}")
    tensors: dict[str, Tensor] = {}
    groups = _fused_groups(model, layers)
    for hf, names in groups.items():
        adapted = [layers[n] for n in names if n in layers]
        if any(layer.lora_A is not adapted[0].lora_A for layer in adapted):
            raise ValueError(f"model: expected the LoRA layers {names} (one module {hf!r} in transformers) to share "
                             "lora_A, as apply_lora makes them, got separate ones")
        B = adapted[0].lora_B.weight
        rows = [layers[n].lora_B.weight if n in layers else  # (out_n, r), zeros where no LoRA
                B.new_zeros(model.get_submodule(n).out_features, config.r) for n in names]
        tensors[f"{PREFIX}{hf}.lora_A.weight"] = adapted[0].lora_A.weight  # (r, in)
        tensors[f"{PREFIX}{hf}.lora_B.weight"] = torch.cat(rows)  # (sum of out_n, r)
    saved = find_modules(model, config.modules_to_save, outermost=True)
    tensors.update({PREFIX + key: t for key, t in _saved_state(model, saved).items()})
    adapter_config = {
        "peft_type": "LORA", "task_type": _TASK_TYPES.get(type(model).__name__), "base_model_name_or_path": None,
        "r": config.r, "lora_alpha": config.alpha, "lora_dropout": config.dropout, "use_rslora": config.use_rslora,
        "target_modules": sorted(groups),
        "modules_to_save": sorted(hf_module_name(model, n) for n in saved) or None,
        "fan_in_fan_out": isinstance(model, GPT2Pretrained), "bias": "none", "init_lora_weights": True,
        "inference_mode": True,
    }
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / ADAPTER_CONFIG_NAME).write_text(json.dumps(adapter_config, indent=2) + "\n", encoding="utf-8")
    save_file({k: t.detach().cpu().contiguous().clone() for k, t in tensors.items()}, path / ADAPTER_WEIGHTS_NAME,
              metadata={"format": "pt"})


def _config_from_peft(values: dict[str, Any], file: Path) -> LoraConfig:
    """Our :class:`LoraConfig` for a peft ``adapter_config.json``; ``ValueError`` for what is not supported."""
    if values.get("peft_type") != "LORA":
        raise ValueError(f"{file}: expected peft_type 'LORA', got {values.get('peft_type')!r}")
    unsupported = {key: values[key] for key in _UNSUPPORTED if values.get(key) and values.get(key) != "none"}
    if unsupported:
        raise ValueError(f"{file}: expected a plain LoRA adapter, got options tlcourse does not implement: "
                         f"{unsupported}")
    targets = values.get("target_modules")
    return LoraConfig(r=values["r"], alpha=values["lora_alpha"], dropout=values.get("lora_dropout", 0.0),
                      target_modules=tuple(targets) if isinstance(targets, list) else targets,
                      use_rslora=values.get("use_rslora", False),
                      modules_to_save=tuple(values.get("modules_to_save") or ()))


def load_lora(model: nn.Module, path: str | Path) -> nn.Module:
    """Apply the peft LoRA adapter saved in the directory ``path`` to ``model`` (a tlcourse model without LoRA
    holding the adapter's base weights) and return it: :func:`apply_lora` with the adapter's config, then its
    weights. Every tensor of the file must find its place and every LoRA weight must come from the file."""
    _check_model(model)
    if lora_layers(model):
        raise ValueError(f"model: expected a model without LoRA layers (load_lora adds them), got "
                         f"{sorted(lora_layers(model))}")
    path = Path(path)
    for name in (ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME):
        if not (path / name).is_file():
            raise FileNotFoundError(f"path: expected a peft adapter directory with {name}, got {str(path)!r} "
                                    f"without {path / name}")
    config = _config_from_peft(json.loads((path / ADAPTER_CONFIG_NAME).read_text(encoding="utf-8")),
                               path / ADAPTER_CONFIG_NAME)
    tensors = load_file(path / ADAPTER_WEIGHTS_NAME)
    outside = [key for key in tensors if not key.startswith(PREFIX)]
    if outside:
        raise ValueError(f"{path / ADAPTER_WEIGHTS_NAME}: expected names starting with {PREFIX!r}, got {outside[:3]}")
    tensors = {key[len(PREFIX):]: t for key, t in tensors.items()}
    apply_lora(model, config)
    layers = lora_layers(model)
    with torch.no_grad():
        for hf, names in _fused_groups(model, layers).items():
            A, B = (_take(tensors, f"{hf}.{part}.weight", path) for part in ("lora_A", "lora_B"))
            adapted = next(layers[n] for n in names if n in layers)
            sizes = [(layers[n].base if n in layers else model.get_submodule(n)).out_features for n in names]
            shape_A, shape_B = tuple(adapted.lora_A.weight.shape), (sum(sizes), config.r)
            if tuple(A.shape) != shape_A or tuple(B.shape) != shape_B:
                raise ValueError(f"{hf}: expected lora_A {shape_A} and lora_B {shape_B}, got {tuple(A.shape)} "
                                 f"and {tuple(B.shape)}")
            adapted.lora_A.weight.copy_(A)
            for name, rows in zip(names, B.split(sizes)):
                if name in layers:
                    layers[name].lora_B.weight.copy_(rows)
                elif rows.any():
                    raise ValueError(f"{hf}: expected zero lora_B rows for {name}, which has no LoRA, got others")
        saved = find_modules(model, config.modules_to_save, outermost=True)
        own = model.state_dict(keep_vars=True)
        hf_state = {key: _take(tensors, key, path) for key in _saved_state(model, saved)}
        for name, t in model.from_hf_state(hf_state).items():
            own[name].copy_(t)
    if tensors:
        raise ValueError(f"{path / ADAPTER_WEIGHTS_NAME}: expected only tensors of the adapter's modules, got "
                         f"{sorted(PREFIX + key for key in tensors)[:4]} too")
    return model


def _take(tensors: dict[str, Tensor], key: str, path: Path) -> Tensor:
    """Remove and return ``tensors[key]``, or raise naming the file and the missing tensor."""
    if key not in tensors:
        raise ValueError(f"{path / ADAPTER_WEIGHTS_NAME}: expected a tensor {PREFIX + key}, got none")
    return tensors.pop(key)
