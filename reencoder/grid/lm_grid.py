"""The 2D (time × depth) Grid LSTM of the character-level language model, in pure torch.

Kalchbrenner, Danihelka & Graves (ICLR 2016) start their experiments with character
prediction on the Hutter Wikipedia data (paper §4.1 and §5.1): a *2D Grid LSTM* is a stacked
LSTM whose connections along depth are LSTM cells too, so every cell ``(t, d)`` is a 2D block
with one LSTM transform along time and one along depth.  The paper reports 1.47 bits per
character for its best such model, which shares the weights along depth ("Tied 2-LSTM").

Axis 0 is time, axis 1 is depth.  The grid runs through
:func:`reencoder.grid.fused_wavefront.run_grid_fused` (see :class:`~reencoder.grid.grid_stack.DepthGridStack`)
with the block of :mod:`reencoder.grid.grid_lstm`:

* along **depth** the near face receives the projection of the input character embedding as
  its hidden vector (zero memory), and the far face — the top of every column — is the
  output read by the softmax;
* along **time** the near face receives the carried state: zeros at the start of a text
  block, or the cached state of the previous column during incremental decoding.  The far
  face, the time-axis ``(h, m)`` leaving the last column at every depth, is the new state.

Depth is the priority dimension by default (§3.5): each cell first updates its time LSTM and
then lets the depth LSTM see the new time hidden vector.  A column ``t`` depends only on
columns ``≤ t``, so right padding never changes the real positions, and incremental decoding
is one column per token.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from .grid_stack import DepthGridStack
from .schedule import Observer

TIME, DEPTH = 0, 1
ColumnState = Tuple[Tensor, Tensor]  # (h, m), each [D, B, n]: the time-axis state at every depth


class LMGrid(DepthGridStack):
    """``depth`` layers of 2D Grid LSTM blocks over (time, depth); see
    :class:`reencoder.grid.grid_stack.DepthGridStack` for the arguments (``tied_depth`` is the
    paper's "Tied 2-LSTM")."""

    def __init__(self, hidden_size: int, depth: int, **kwargs):
        super().__init__(2, hidden_size, depth, **kwargs)

    def forward(
        self, x: Tensor, state: Optional[ColumnState] = None, observer: Optional[Observer] = None,
        compute_dtype: Optional[torch.dtype] = None,
    ) -> Tuple[Tensor, ColumnState]:
        """Run ``T`` columns.

        Args:
            x: ``[B, T, n]`` projected input embeddings (the depth-axis input of row 0).
            state: time-axis state entering the first column (``None``: zeros).
            observer: called per hyperplane (the grid then runs through
                :func:`reencoder.grid.wavefront.run_grid`; see :meth:`DepthGridStack.run`).
            compute_dtype: the dtype of the grid's GEMM operands (default: the inputs').
        Returns:
            ``[B, T, n]`` top-of-depth hidden vectors, and the state leaving the last column.
        """
        B, T, n = x.shape
        if state is None:
            zeros = x.new_zeros(self.depth, B, n)
            state = (zeros, zeros)
        exit_h, exit_m = self.run((T, self.depth), [state[0], x.transpose(0, 1)], [state[1], None], observer,
                                  compute_dtype)
        return exit_h[DEPTH].transpose(0, 1), (exit_h[TIME], exit_m[TIME])


__all__ = ["LMGrid", "ColumnState"]
