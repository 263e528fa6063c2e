"""Decoding: greedy, sampling (temperature, top-k, top-p), beam search and diverse beam search, with a KV cache.

:func:`generate` takes transformers' keyword arguments and, on the same weights, returns what transformers'
``generate`` returns (the tests in ``tests/decoding`` compare them: greedy and beam sequences, sampled ids for the
same seed, beam scores; diverse beam search against golden outputs of transformers 4.51.3, the last version that
ran it offline). The pieces are small functions the notebook 05 exercises mirror: :func:`greedy_step`,
:func:`apply_temperature`, :func:`top_k_filter`, :func:`top_p_filter`, :func:`expand_beams`,
:func:`length_normalised`, and :func:`~tlcourse.attention.update_kv_cache`.
"""

from tlcourse.attention.kv_cache import update_kv_cache
from tlcourse.decoding.beam_search import BeamConfig, FinishedHypotheses, beam_search, expand_beams, length_normalised
from tlcourse.decoding.generate import GenerateOutput, generate
from tlcourse.decoding.incremental import IncrementalDecoder, positions_from_mask
from tlcourse.decoding.logits import apply_temperature, greedy_step, top_k_filter, top_p_filter, warp_logits

__all__ = [
    "BeamConfig",
    "FinishedHypotheses",
    "GenerateOutput",
    "IncrementalDecoder",
    "apply_temperature",
    "beam_search",
    "expand_beams",
    "generate",
    "greedy_step",
    "length_normalised",
    "positions_from_mask",
    "top_k_filter",
    "top_p_filter",
    "update_kv_cache",
    "warp_logits",
]
