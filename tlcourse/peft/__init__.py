"""Parameter-efficient fine-tuning: adapters, LoRA, BitFit, prompt tuning and prefix tuning.

Each method keeps the pretrained model frozen and trains a small set of new or selected parameters:

- :mod:`~tlcourse.peft.adapters`: bottleneck adapters, Houlsby (after attention and feed-forward) and Pfeiffer
  (after the feed-forward) placements with AdapterHub's formulas, starting as the identity; several per model.
- :mod:`~tlcourse.peft.lora`: ``W0 + (alpha / r) B A`` on chosen linear layers, merge and unmerge, equal to ``peft``;
  :mod:`~tlcourse.peft.lora_files` reads and writes peft's adapter files.
- :mod:`~tlcourse.peft.bitfit`: only the biases (and the task head), by the official rule.
- :mod:`~tlcourse.peft.prompt_tuning` and :mod:`~tlcourse.peft.prefix_tuning`: trained virtual tokens before the
  input, or trained keys and values before every layer's, equal to ``peft``.
- :mod:`~tlcourse.peft.cost`: trainable parameters, gradient and optimiser-state bytes, peak memory, step time.

The tests in ``tests/peft`` prove each equal to the library or formula that defines it.
"""

from tlcourse.peft.adapters import (
    Adapter,
    AdapterConfig,
    adapter_forward,
    adapter_names,
    adapter_parameter_count,
    add_adapters,
    set_active_adapter,
)
from tlcourse.peft.bitfit import apply_bitfit, bitfit_parameters
from tlcourse.peft.cost import TrainingCost, training_cost
from tlcourse.peft.lora import (
    LoraConfig,
    LoRALinear,
    apply_lora,
    lora_forward,
    lora_state_dict,
    merge,
    merge_and_unload,
    merge_lora,
    unload,
    unmerge,
)
from tlcourse.peft.lora_files import load_lora, save_lora
from tlcourse.peft.prefix_tuning import PrefixEncoder, PrefixTuningConfig, PrefixTuningModel, prefix_key_values
from tlcourse.peft.prompt_tuning import PromptEmbedding, PromptTuningConfig, PromptTuningModel, prompt_inputs

__all__ = [
    "Adapter", "AdapterConfig", "LoRALinear", "LoraConfig", "PrefixEncoder", "PrefixTuningConfig",
    "PrefixTuningModel", "PromptEmbedding", "PromptTuningConfig", "PromptTuningModel", "TrainingCost",
    "adapter_forward", "adapter_names", "adapter_parameter_count", "add_adapters", "apply_bitfit", "apply_lora",
    "bitfit_parameters", "load_lora", "lora_forward", "lora_state_dict", "merge", "merge_and_unload", "merge_lora",
    "prefix_key_values", "prompt_inputs", "save_lora", "set_active_adapter", "training_cost", "unload", "unmerge",
]
