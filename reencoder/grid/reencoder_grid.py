"""The Reencoder's 3D grid (paper §5.3, "Reencoder"), in pure torch.

The source sentence runs along axis ``i``, the target sentence along axis ``j`` and depth
along axis ``d``; every cell ``(i, j, d)`` is a 3D Grid LSTM block.  The input of cell
``(i, j, 0)`` is a projection of ``[E_src(x_i); E_tgt(y_{j-1})]`` (teacher forcing, BOS for
``j = 0``), so row ``j`` re-reads — re-encodes — the whole source sentence conditioned on the
target prefix.  States flow along ``i``, along ``j`` and up ``d`` (depth is the priority
dimension by default).  The grid returns the top-depth hidden vectors of every row; the
distribution of target word ``j`` is read from row ``j`` by a :mod:`reencoder.models.readout` (the
paper: the vector at the last real source position).

Sources must be right-padded: a real cell ``(i, j, d)`` only depends on cells with smaller or
equal coordinates, so padding cells (``i ≥ |x|`` or ``j ≥ |y|``) never influence real ones and
a padded batch gives the same outputs as each sentence alone.

The row state — the target-axis ``(h, m)`` leaving row ``j`` at every ``(i, d)`` — is all that
row ``j + 1`` needs, which makes incremental decoding one row per token; outside autograd a
single row runs by :mod:`reencoder.grid.row_step` (the row's known inputs in batched GEMMs, only
the source recurrence cell by cell) instead of the wavefront.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor

from .grid_stack import DepthGridStack
from .row_step import row_step_applies, run_row
from .schedule import Observer, OuterSum

SRC, TGT, DEPTH = 0, 1, 2
RowState = Tuple[Tensor, Tensor]  # (h, m), each [S * D, B, n] in (i, d) order


class ReencoderGrid(DepthGridStack):
    """A stack of ``depth`` layers of 3D Grid LSTM blocks over (source, target, depth); see
    :class:`reencoder.grid.grid_stack.DepthGridStack` for the arguments."""

    #: decode one row at a time by :mod:`reencoder.grid.row_step` where it applies (a benchmark
    #: or test sets it False on an instance to compare with the wavefront)
    row_step = True

    def __init__(self, hidden_size: int, depth: int, **kwargs):
        super().__init__(3, hidden_size, depth, **kwargs)

    def empty_row_state(self, src_len: int, batch: int, like: Tensor) -> RowState:
        """Zero target-axis state entering row 0."""
        z = like.new_zeros(src_len * self.depth, batch, self.hidden_size)
        return z, z

    def forward(
        self,
        src_in: Tensor,
        tgt_in: Tensor,
        row_state: Optional[RowState] = None,
        observer: Optional[Observer] = None,
        compute_dtype: Optional[torch.dtype] = None,
        src_lengths: Optional[Tensor] = None,
        copies: Optional[Dict[str, object]] = None,
    ) -> Tuple[Tensor, RowState]:
        """Run the grid over ``T`` target rows.

        Args:
            src_in: ``[B, S, n]`` source half of the input projection (right-padded).
            tgt_in: ``[B, T, n]`` target half (bias included), for the rows to compute.
            row_state: target-axis state entering the first row (``None``: zeros, row 0).
            observer: called per hyperplane (the grid then runs through
                :func:`reencoder.grid.wavefront.run_grid`; see :meth:`DepthGridStack.run`).
            compute_dtype: the dtype of the grid's GEMM operands (default: the inputs').
            src_lengths: ``[B]`` real source lengths: with them, one row decoded by the row
                step skips padding cells (their outputs are then zeros; see
                :func:`reencoder.grid.row_step.run_row`).
            copies: a dict kept for one decoding run, where the row step keeps its prepared
                weights (:func:`reencoder.grid.row_step.run_row`).
        Returns:
            ``[B, T, S, n]`` top-depth hidden vectors of every cell of the ``T`` rows (cells past
            a sentence's source length are padding), and the row state leaving the last row
            (for incremental decoding).
        """
        B, S, n = src_in.shape
        T = tgt_in.shape[1]
        D = self.depth
        if row_state is None:
            row_state = self.empty_row_state(S, B, src_in)
        if T == 1 and observer is None and self.row_step and row_step_applies(self.blocks, self.depth_dropout):
            return run_row(self.blocks, src_in, tgt_in, row_state, compute_dtype, self._config["kernels"], src_lengths,
                           copies)
        # input of cell (i, j, 0): the projection of [E_src(x_i); E_tgt(y_{j-1})] = s_i + t_j, face (i, j)
        x = OuterSum([src_in.transpose(0, 1), tgt_in.transpose(0, 1)])
        exit_h, exit_m = self.run((S, T, D), [None, row_state[0], x], [None, row_state[1], None], observer,
                                  compute_dtype)
        top = exit_h[DEPTH].view(S, T, B, n).permute(2, 1, 0, 3)  # face (i, j) -> [B, T, S, n]
        return top, (exit_h[TGT], exit_m[TGT])


def right_pad_lengths(tokens: Tensor, pad: int) -> Tensor:
    """Real lengths of a ``[B, L]`` token batch."""
    return tokens.ne(pad).long().sum(dim=1)


def reverse_real_tokens(tokens: Tensor, lengths: Tensor) -> Tensor:
    """Reverse the real (leading) tokens of every row of a right-padded ``[B, L]`` batch and
    keep the padding where it is.  Fed reversed, the first source words sit next to the read
    position at the end of each row, the short dependencies that made reversing the source
    help sequence-to-sequence LSTMs train (Sutskever, Vinyals & Le, 2014)."""
    pos = torch.arange(tokens.shape[1], device=tokens.device).unsqueeze(0)
    real = pos < lengths.unsqueeze(1)
    index = torch.where(real, lengths.unsqueeze(1) - 1 - pos, pos)
    return tokens.gather(1, index)


__all__: List[str] = ["ReencoderGrid", "reverse_real_tokens", "right_pad_lengths", "RowState"]
