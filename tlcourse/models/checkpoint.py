"""Hugging Face checkpoint directories: read and write ``config.json`` + ``model.safetensors``, map parameter names.

A checkpoint directory holds ``config.json`` and the weights, as ``model.safetensors`` (preferred) or the older
``pytorch_model.bin``. Weights are stored under Hugging Face's state-dict names and layouts; a model here uses its
own names and says how they map through :class:`PretrainedMixin`: ``hf_name`` renames one tensor (enough for
BERT), and ``to_hf_state`` / ``from_hf_state`` convert a whole state dict where the layouts differ (GPT-2 fuses
query | key | value into one ``c_attn`` and stores its ``Conv1D`` weights transposed), so one loader serves
every model.

Two conventions follow transformers:

- **tied weights are written once.** safetensors refuses two names for one storage, so :func:`write_checkpoint`
  keeps the first name of each shared tensor (the MLM decoder's weight *is* the word embedding, saved once).
- **the base-model prefix.** A task model (``BertForMaskedLM``) stores the encoder under ``bert.``; a bare
  ``BertModel`` checkpoint has no prefix. Loading adds or strips ``base_prefix`` as needed, in both directions.

Example:
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     write_checkpoint(tmp, {"model_type": "toy"}, {"w": torch.ones(2)})
    ...     config, state = read_checkpoint(tmp)
    >>> config, state
    ({'model_type': 'toy'}, {'w': tensor([1., 1.])})
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, ClassVar

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

CONFIG_NAME = "config.json"
SAFETENSORS_NAME = "model.safetensors"
TORCH_NAME = "pytorch_model.bin"


def read_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Read ``config.json`` and the weights (``model.safetensors``, else ``pytorch_model.bin``) of a directory.

    Raises ``FileNotFoundError`` naming the missing file. ``pytorch_model.bin`` is read with
    ``torch.load(weights_only=True)``, which refuses pickled code.
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"path: expected a checkpoint directory, got {str(path)!r}, which is not a directory")
    config_file = path / CONFIG_NAME
    if not config_file.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} has no {CONFIG_NAME}: expected {config_file}")
    config = json.loads(config_file.read_text(encoding="utf-8"))
    if (path / SAFETENSORS_NAME).is_file():
        state = load_file(path / SAFETENSORS_NAME)
    elif (path / TORCH_NAME).is_file():
        state = torch.load(path / TORCH_NAME, map_location="cpu", weights_only=True)
    else:
        raise FileNotFoundError(
            f"checkpoint {str(path)!r} has no weights: expected {path / SAFETENSORS_NAME} or {path / TORCH_NAME}"
        )
    return config, state


def write_checkpoint(path: str | Path, config: dict[str, Any], state: dict[str, Tensor]) -> None:
    """Write ``config.json`` and ``model.safetensors`` into ``path`` (created if needed).

    A tensor that shares storage with an earlier one (a tied weight) is written once, under its first name.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    seen: set[tuple[int, int, tuple[int, ...]]] = set()
    unique: dict[str, Tensor] = {}
    for name, tensor in state.items():
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        if key not in seen:
            seen.add(key)
            unique[name] = tensor.detach().cpu().contiguous()
    (path / CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    save_file(unique, path / SAFETENSORS_NAME, metadata={"format": "pt"})


def _own_tensors(model: nn.Module) -> dict[str, Tensor]:
    """Parameters and persistent buffers, each shared one once (under its first name)."""
    tensors: dict[str, Tensor] = dict(model.named_parameters())
    persistent = model.state_dict(keep_vars=True)
    tensors.update({name: b for name, b in model.named_buffers() if name in persistent})
    return tensors


class PretrainedMixin:
    """``from_pretrained`` / ``save_pretrained`` and transformers' initialisation for an ``nn.Module``.

    A subclass sets ``config_class`` (a dataclass with ``from_dict`` and ``to_hf_dict``) and ``base_prefix``,
    keeps its config as ``self.config``, and implements ``hf_name(name)``: the Hugging Face name of the tensor
    that holds its parameter ``name``. Where a rename is not enough (tensors fused, split or transposed), it
    also overrides :meth:`to_hf_state` and :meth:`from_hf_state`.
    """

    config_class: ClassVar[type]
    base_prefix: ClassVar[str]

    def hf_name(self, name: str) -> str:
        """The Hugging Face state-dict name of the tensor that holds the parameter or buffer ``name``."""
        raise NotImplementedError

    def to_hf_state(self, state: dict[str, Tensor]) -> dict[str, Tensor]:
        """This model's state dict in Hugging Face's names and layouts; by default, each tensor renamed by
        ``hf_name``."""
        return {self.hf_name(name): tensor for name, tensor in state.items()}

    def from_hf_state(self, hf_state: dict[str, Tensor]) -> dict[str, Tensor]:
        """The inverse of :meth:`to_hf_state`: a Hugging Face state dict (with or without ``base_prefix``, as this
        model's names want) in this model's names and layouts. Entries the checkpoint lacks are left out."""
        names = ((name, self.hf_name(name)) for name in _own_tensors(self))  # type: ignore[arg-type]
        return {name: hf_state[hf] for name, hf in names if hf in hf_state}

    def init_weights(self, module: nn.Module) -> None:
        """transformers' ``_init_weights``: N(0, initializer_range) weights, zero biases, LN 1/0, padding row 0."""
        std = self.config.initializer_range  # type: ignore[attr-defined]
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=std)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()
        if isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    @classmethod
    def from_pretrained(cls, path: str | Path, **overrides: Any):
        """Build the model from a checkpoint directory; ``overrides`` replace config fields (e.g. ``num_labels``).

        Weights the checkpoint lacks (a new task head) keep their fresh initialisation, with a warning naming them;
        checkpoint entries the model does not use (another head, old buffers) are ignored.
        """
        config_dict, hf_state = read_checkpoint(path)
        model = cls(cls.config_class.from_dict({**config_dict, **overrides}))
        model.load_hf_state(hf_state)
        return model.eval()

    def load_hf_state(self, hf_state: dict[str, Tensor]) -> None:
        """Copy the weights of a Hugging Face state dict into this model; see :meth:`from_pretrained`."""
        own = _own_tensors(self)  # type: ignore[arg-type]
        prefix = self.base_prefix + "."
        wants_prefix = any(self.hf_name(name).startswith(prefix) for name in own)
        has_prefix = any(key.startswith(prefix) for key in hf_state)
        if wants_prefix and not has_prefix:
            hf_state = {prefix + key: t for key, t in hf_state.items()}
        elif has_prefix and not wants_prefix:
            hf_state = {key[len(prefix):]: t for key, t in hf_state.items() if key.startswith(prefix)}
        state = self.from_hf_state(hf_state)
        missing = list(dict.fromkeys(self.hf_name(name) for name in own if name not in state))
        if not state:
            raise ValueError(f"hf_state: expected {type(self).__name__} weights such as {missing[0]!r}, "
                             f"got none of them (keys like {sorted(hf_state)[:3]})")
        with torch.no_grad():
            for name, source in state.items():
                tensor = own[name]
                if source.shape != tensor.shape:
                    raise ValueError(f"{self.hf_name(name)}: expected shape {tuple(tensor.shape)} for {name}, "
                                     f"got {tuple(source.shape)}")
                tensor.copy_(source)
        if missing:
            warnings.warn(f"{type(self).__name__}: newly initialised, not in the checkpoint: {missing}", stacklevel=3)

    def save_pretrained(self, path: str | Path) -> None:
        """Write ``config.json`` (with ``model_type`` and ``architectures``) and ``model.safetensors`` to ``path``."""
        config = {**self.config.to_hf_dict(), "architectures": [type(self).__name__]}  # type: ignore[attr-defined]
        write_checkpoint(path, config, self.to_hf_state(_own_tensors(self)))  # type: ignore[arg-type]
