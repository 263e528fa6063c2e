"""Hugging Face checkpoint directories: read and write ``config.json`` + ``model.safetensors``, map parameter names.

A checkpoint directory holds ``config.json`` and the weights, as ``model.safetensors`` (preferred) or the older
``pytorch_model.bin``. Weights are stored under Hugging Face's state-dict names; a model here uses its own names
and says how they map through :class:`PretrainedMixin` (``hf_name``), so one loader serves every model.

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
    """``from_pretrained`` / ``save_pretrained`` for an ``nn.Module`` with a dataclass config.

    A subclass sets ``config_class`` (with ``from_dict`` and ``to_hf_dict``) and ``base_prefix``, and implements
    ``hf_name(name)``, the Hugging Face name of one of its own state-dict names.
    """

    config_class: ClassVar[type]
    base_prefix: ClassVar[str]

    def hf_name(self, name: str) -> str:
        """The Hugging Face state-dict name of the parameter or buffer ``name``."""
        raise NotImplementedError

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
        own = {name: (self.hf_name(name), t) for name, t in _own_tensors(self).items()}  # type: ignore[arg-type]
        prefix = self.base_prefix + "."
        wants_prefix = any(hf.startswith(prefix) for hf, _ in own.values())
        has_prefix = any(key.startswith(prefix) for key in hf_state)
        if wants_prefix and not has_prefix:
            hf_state = {prefix + key: t for key, t in hf_state.items()}
        elif has_prefix and not wants_prefix:
            hf_state = {key[len(prefix):]: t for key, t in hf_state.items() if key.startswith(prefix)}
        missing = [hf for hf, _ in own.values() if hf not in hf_state]
        if len(missing) == len(own):
            raise ValueError(f"hf_state: expected {type(self).__name__} weights such as {missing[0]!r}, "
                             f"got none of them (keys like {sorted(hf_state)[:3]})")
        with torch.no_grad():
            for hf, tensor in own.values():
                if hf not in hf_state:
                    continue
                source = hf_state[hf]
                if source.shape != tensor.shape:
                    raise ValueError(f"{hf}: expected shape {tuple(tensor.shape)}, got {tuple(source.shape)}")
                tensor.copy_(source)
        if missing:
            warnings.warn(f"{type(self).__name__}: newly initialised, not in the checkpoint: {missing}", stacklevel=3)

    def save_pretrained(self, path: str | Path) -> None:
        """Write ``config.json`` (with ``model_type`` and ``architectures``) and ``model.safetensors`` to ``path``."""
        config = {**self.config.to_hf_dict(), "architectures": [type(self).__name__]}  # type: ignore[attr-defined]
        state = {self.hf_name(name): t for name, t in _own_tensors(self).items()}  # type: ignore[arg-type]
        write_checkpoint(path, config, state)
