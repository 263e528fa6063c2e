"""Position information: fixed sinusoids (Vaswani et al. 2017) and learned position embeddings (BERT, GPT-2)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tlcourse.checks import reference


@reference
def sinusoidal_positions(
    n_positions: int, d_model: int, *, device: torch.device | str | None = None
) -> Tensor:
    """The fixed sinusoidal position encodings of "Attention Is All You Need" (section 3.5).

    ``PE[pos, 2i] = sin(pos / 10000^(2i/d_model))`` and ``PE[pos, 2i+1] = cos(pos / 10000^(2i/d_model))``:
    sines on the even dimensions, cosines on the odd ones, one frequency per pair.

    Shapes:
        returns float32 (n_positions, d_model).

    Example:
        >>> pe = sinusoidal_positions(3, 4)
        >>> pe[0]                        # sin(0), cos(0), sin(0), cos(0)
        tensor([0., 1., 0., 1.])
        >>> pe[1]                        # sin(1), cos(1), sin(1/100), cos(1/100)
        tensor([0.8415, 0.5403, 0.0100, 0.9999])
    """
    for name, value in (("n_positions", n_positions), ("d_model", d_model)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected a positive int, got {value!r}")
    if d_model % 2 != 0:
        raise ValueError(f"d_model: expected an even number (sin/cos pairs), got {d_model}")
    pos = torch.arange(n_positions, dtype=torch.float32, device=device)[:, None]  # (P, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32, device=device)  # (d/2,)
    angles = pos / 10000.0 ** (two_i / d_model)  # (P, d/2)
    pe = torch.empty(n_positions, d_model, device=device)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles)
    return pe


class LearnedPositions(nn.Module):
    """A trained embedding per position, added to the input, as BERT (``position_embeddings``) and GPT-2 (``wpe``).

    Initialised from N(0, 0.02) like both. ``offset`` is the number of positions already seen (a KV cache).

    Shapes:
        x: (B, T, d_model); returns x + weight[offset : offset + T], (B, T, d_model).

    Example:
        >>> pos = LearnedPositions(n_positions=4, d_model=2)
        >>> _ = nn.init.zeros_(pos.weight)
        >>> pos(torch.ones(1, 3, 2)).shape
        torch.Size([1, 3, 2])
    """

    def __init__(self, n_positions: int, d_model: int):
        super().__init__()
        for name, value in (("n_positions", n_positions), ("d_model", d_model)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive int, got {value!r}")
        self.n_positions = n_positions
        self.weight = nn.Parameter(torch.randn(n_positions, d_model) * 0.02)

    def forward(self, x: Tensor, *, offset: int = 0) -> Tensor:
        """Add the embeddings of positions ``offset .. offset + T - 1`` to ``x``."""
        if not isinstance(x, Tensor) or x.dim() != 3 or x.shape[-1] != self.weight.shape[1]:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"x: expected a 3-D tensor (B, T, {self.weight.shape[1]}), got {got}")
        T = x.shape[1]
        if offset < 0 or offset + T > self.n_positions:
            raise ValueError(
                f"offset: expected 0 <= offset and offset + T <= n_positions={self.n_positions}, "
                f"got offset={offset} with T={T}"
            )
        return x + self.weight[offset : offset + T]  # (B, T, d) + (T, d)
