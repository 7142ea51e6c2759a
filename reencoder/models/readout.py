"""How a Reencoder row becomes the vector that predicts its target word (pure torch).

Row ``j`` of the 3D grid re-encodes the whole source for target word ``j``; its top-depth hidden
vectors ``h_{1j} .. h_{Sj}`` (one per source position) are all available.  The paper (§5.3)
reads the prediction from the last one only; later 2D translation models pool over the row:

* ``last``  — the paper's layout: ``r_j = h_{|x| j}``, the last real source cell.
* ``max``   — ``r_j = max_i h_{ij}`` elementwise (Pervasive Attention's default aggregator,
  Elbayad, Besacier & Verbeek, CoNLL 2018).
* ``attn``  — attention pooling over the row with the last cell as the query (the 2D-LSTM
  decoder of Bahar, Brix & Ney, EMNLP 2018 attends over its own 2D states)::

      e_ij = (W_q h_{|x| j}) · h_ij / √n      α_ij = softmax_i(e_ij)   (i < |x| only)
      c_j  = Σ_i α_ij h_ij                    r_j  = tanh(W_o [c_j; h_{|x| j}])

  ``r_j`` has ``out_size`` units (default ``n``): ``W_o`` can project straight to the size of
  the output embedding.

  With ``source_size`` (``--grid-readout-source-words``) the same weights also pool the source
  words' embeddings ``E_src(x_i)``, ``r_j = tanh(W_o [c_j; h_{|x| j}; Σ_i α_ij E_src(x_i)])``: a
  lexical path from the attended source words straight to the prediction, the attention-weighted
  source embeddings of Nguyen & Chiang's lexical model (NAACL 2018), which made NMT choose rarer
  words more adequately.  (Pooling the grid's 128-unit source inputs instead did less:
  ``recipes/RESULTS.md``, "The readout's source words".)

  Every cell of the row then has a direct path to the prediction (and its gradient), instead
  of only through the source-axis LSTM of the row.

Rows are independent, so one row at a time (incremental decoding) gives the same vectors as
the whole grid, and padding cells (``i ≥ |x|``) are masked out, so padding never matters.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from .layers import Linear
from .low_precision import WeightCopies, linear

READOUTS: Tuple[str, ...] = ("last", "max", "attn")


def last_cell(top: Tensor, src_lengths: Tensor) -> Tensor:
    """``[B, T, S, n]`` row states → ``[B, T, n]`` at each sentence's last real source position."""
    B, T, S, n = top.shape
    last = (src_lengths - 1).clamp(min=0).view(B, 1, 1, 1).expand(B, T, 1, n)
    return top.gather(2, last).squeeze(2)


def padding_mask(src_lengths: Tensor, S: int) -> Tensor:
    """``[B, 1, S]`` True where a source position is padding."""
    return torch.arange(S, device=src_lengths.device).view(1, 1, S) >= src_lengths.view(-1, 1, 1)


class RowReadout(nn.Module):
    """One of :data:`READOUTS` (see the module docstring); ``forward(top, src_lengths)`` maps the
    ``[B, T, S, n]`` top-depth states of ``T`` rows to ``[B, T, output_size]``."""

    def __init__(self, kind: str, hidden_size: int, out_size: Optional[int] = None, source_size: int = 0):
        super().__init__()
        if kind not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {kind!r}")
        if source_size and kind != "attn":
            raise ValueError(f"only the 'attn' readout reads the source words, not {kind!r}")
        self.kind = kind
        self.hidden_size = n = hidden_size
        self.source_size = source_size
        self.output_size = n  # size of the returned vectors
        if kind == "attn":
            self.output_size = out_size or n
            self.query = Linear(n, n, bias=False)
            self.out = Linear(2 * n + source_size, self.output_size, bias=True)

    def forward(self, top: Tensor, src_lengths: Tensor, compute_dtype: Optional[torch.dtype] = None,
                copies: Optional[WeightCopies] = None, source: Optional[Tensor] = None) -> Tensor:
        """``compute_dtype`` (default ``top``'s): the dtype of the attention readout's GEMM
        operands (the softmax and the results stay in ``top``'s dtype); ``copies``: its weights
        in that dtype while decoding (:mod:`.low_precision`); ``source``: the ``[B, S,
        source_size]`` source words' embeddings, pooled when ``source_size`` is set."""
        if self.kind == "max":
            mask = padding_mask(src_lengths, top.shape[2]).unsqueeze(-1)  # [B, 1, S, 1]
            return top.masked_fill(mask, float("-inf")).amax(dim=2)
        last = last_cell(top, src_lengths)
        if self.kind == "last":
            return last
        dtype = compute_dtype or top.dtype
        low = top.to(dtype)
        q = linear(last, self.query.weight, None, dtype, copies, "readout.query")  # [B, T, n]
        scores = torch.einsum("btsn,btn->bts", low, q.to(dtype)).to(top.dtype) / math.sqrt(self.hidden_size)
        alpha = scores.masked_fill(padding_mask(src_lengths, top.shape[2]), float("-inf")).softmax(dim=-1)
        context = torch.einsum("bts,btsn->btn", alpha.to(dtype), low).to(top.dtype)
        parts = [context, last]
        if self.source_size:
            parts.append(torch.einsum("bts,bsn->btn", alpha, source.to(top.dtype)))
        return torch.tanh(linear(torch.cat(parts, dim=-1), self.out.weight, self.out.bias, dtype, copies, "readout.out"))

    def upgrade_state_dict_named(self, state_dict: dict, name: str) -> None:
        """fairseq's hook before loading a checkpoint: one saved without the source words
        (``reencoder_base`` before they became its default) gets zero weights for them, so the
        model computes exactly what it saved."""
        key = f"{name}.out.weight"
        weight = state_dict.get(key)
        if self.source_size and weight is not None and weight.shape[1] + self.source_size == self.out.in_features:
            state_dict[key] = torch.cat([weight, weight.new_zeros(weight.shape[0], self.source_size)], dim=1)

    def extra_repr(self) -> str:
        return (f"kind={self.kind!r}, hidden_size={self.hidden_size}, output_size={self.output_size}, "
                f"source_size={self.source_size}")
