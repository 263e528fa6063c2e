"""Language-model head: hidden states to vocabulary logits, with the weight tied to the token embedding.

With an embedding matrix ``E`` of shape ``(V, d)``, the head computes ``logits = h @ E^T (+ b)``: the unembedding
is ``U = E^T``. Tying is by identity, as in BERT (``cls.predictions.decoder``) and GPT-2 (``lm_head``): the head's
``weight`` *is* the embedding's ``weight`` Parameter, so one gradient updates both uses and the state dict holds
one tensor under two keys.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tlcourse.checks import reference


@reference
class LMHead(nn.Module):
    """Project hidden states to logits with the weight of ``embedding`` (tied) and an optional bias.

    ``bias=True`` adds a zero-initialised ``(V,)`` bias, as BERT's MLM head; GPT-2's head has none.

    Shapes:
        h: (B, T, d); returns logits (B, T, V), where ``embedding.weight`` is (V, d).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> emb = nn.Embedding(10, 4)
        >>> head = LMHead(emb)
        >>> head.weight is emb.weight
        True
        >>> h = emb(torch.tensor([[3, 7]]))            # (B=1, T=2, d=4)
        >>> head(h).shape
        torch.Size([1, 2, 10])
        >>> torch.allclose(head(h), h @ emb.weight.T)
        True
    """

    def __init__(self, embedding: nn.Embedding, bias: bool = False):
        super().__init__()
        if not isinstance(embedding, nn.Embedding):
            raise ValueError(f"embedding: expected an nn.Embedding, got {type(embedding).__name__}")
        self.weight = embedding.weight  # (V, d), the same Parameter as the embedding's
        vocab_size = embedding.num_embeddings
        self.bias = nn.Parameter(torch.zeros(vocab_size)) if bias else None  # (V,)

    def forward(self, h: Tensor) -> Tensor:
        """Logits ``h @ E^T (+ b)``; see the class docstring for shapes."""
        d = self.weight.shape[1]
        if not isinstance(h, Tensor) or h.dim() < 1 or h.shape[-1] != d:
            got = f"shape {tuple(h.shape)}" if isinstance(h, Tensor) else type(h).__name__
            raise ValueError(f"h: expected a tensor with last dimension {d}, got {got}")
        return nn.functional.linear(h, self.weight, self.bias)  # (B, T, d) -> (B, T, V)
