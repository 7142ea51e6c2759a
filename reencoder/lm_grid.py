"""The 2D (time × depth) Grid LSTM of the character-level language model, in pure torch.

Kalchbrenner, Danihelka & Graves (ICLR 2016) start their experiments with character
prediction on the Hutter Wikipedia data (paper §4.1 and §5.1): a *2D Grid LSTM* is a stacked
LSTM whose connections along depth are LSTM cells too, so every cell ``(t, d)`` is a 2D block
with one LSTM transform along time and one along depth.  The paper reports 1.47 bits per
character for its best such model, which shares the weights along depth ("Tied 2-LSTM").

Axis 0 is time, axis 1 is depth.  The grid runs through :func:`reencoder.wavefront.run_grid`
with the block of :mod:`reencoder.grid_lstm`:

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

import torch.nn as nn
from torch import Tensor

from .grid_lstm import GridLSTMBlock
from .wavefront import Observer, run_grid

TIME, DEPTH = 0, 1
ColumnState = Tuple[Tensor, Tensor]  # (h, m), each [D, B, n]: the time-axis state at every depth


class LMGrid(nn.Module):
    """``depth`` layers of 2D Grid LSTM blocks over (time, depth).

    Args:
        hidden_size: n, the size of every hidden and memory vector.
        depth: D, the number of layers along the depth axis.
        priority: make depth the priority dimension (paper §3.5).
        tied_dims: one weight matrix for the time and the depth transform of a block (§3.4).
        shared_depth: one block for every depth layer, the paper's "Tied 2-LSTM" (otherwise one
            block per layer).
        cell: ``"standard"`` or ``"paper"`` LSTM output (see :mod:`reencoder.grid_lstm`).
        depth_dropout: dropout on hidden vectors passed up the depth axis (and out of the top).
    """

    def __init__(
        self,
        hidden_size: int,
        depth: int,
        priority: bool = True,
        tied_dims: bool = False,
        shared_depth: bool = False,
        cell: str = "standard",
        depth_dropout: float = 0.0,
    ):
        super().__init__()
        if hidden_size < 1 or depth < 1:
            raise ValueError(f"hidden_size and depth must be positive, got {hidden_size}, {depth}")
        self.hidden_size = hidden_size
        self.depth = depth
        self.depth_dropout = depth_dropout
        n_blocks = 1 if shared_depth else depth
        self.blocks = nn.ModuleList(
            GridLSTMBlock(2, hidden_size, priority_dim=DEPTH if priority else None, tied=tied_dims, cell=cell)
            for _ in range(n_blocks)
        )

    def forward(
        self, x: Tensor, state: Optional[ColumnState] = None, observer: Optional[Observer] = None
    ) -> Tuple[Tensor, ColumnState]:
        """Run ``T`` columns.

        Args:
            x: ``[B, T, n]`` projected input embeddings (the depth-axis input of row 0).
            state: time-axis state entering the first column (``None``: zeros).
            observer: passed to :func:`reencoder.wavefront.run_grid`.
        Returns:
            ``[B, T, n]`` top-of-depth hidden vectors, and the state leaving the last column.
        """
        B, T, n = x.shape
        if state is None:
            zeros = x.new_zeros(self.depth, B, n)
            state = (zeros, zeros)
        exit_h, exit_m = run_grid(
            self.blocks,
            (T, self.depth),
            boundary_h=[state[0], x.transpose(0, 1)],
            boundary_m=[state[1], None],
            block_axis=DEPTH,
            dropout=[0.0, self.depth_dropout],
            observer=observer,
        )
        return exit_h[DEPTH].transpose(0, 1), (exit_h[TIME], exit_m[TIME])


def reorder_column_state(state: ColumnState, new_order: Tensor) -> ColumnState:
    """Reorder a column state along the batch (beam search)."""
    return state[0].index_select(1, new_order), state[1].index_select(1, new_order)


__all__ = ["LMGrid", "ColumnState", "reorder_column_state"]
