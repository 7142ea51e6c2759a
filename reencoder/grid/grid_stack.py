"""A stack of Grid LSTM blocks with depth as the last grid axis, shared by the Reencoder's 3D
grid (:mod:`reencoder.grid.reencoder_grid`) and the language model's 2D grid (:mod:`reencoder.grid.lm_grid`).

Depth is the priority dimension by default (paper §3.5).  Weights are one block per depth layer
(like a stacked LSTM) or one block for every layer (``shared_depth``, the paper's "tied" grids);
``tied_dims`` shares one weight matrix among a block's dimensions (§3.4).
"""

from __future__ import annotations

from typing import Tuple

import torch.nn as nn
from torch import Tensor

from .fused_wavefront import fused_supported, run_grid_fused
from .grid_lstm import GridLSTMBlock
from .wavefront import run_grid

GridState = Tuple[Tensor, Tensor]  # (h, m) of a grid face, each [F, B, n]


class DepthGridStack(nn.Module):
    """``depth`` layers of ``num_dims``-D Grid LSTM blocks; the last axis is depth.

    Args:
        num_dims: dimensions of each block (= grid axes, depth included).
        hidden_size: n, the size of every hidden and memory vector.
        depth: D, the number of layers along the depth axis.
        priority: make depth the priority dimension.
        tied_dims: share the block's weights across its dimensions.
        shared_depth: one block for every depth layer (otherwise one block per layer).
        cell: ``"standard"`` or ``"paper"`` LSTM output (see :mod:`reencoder.grid.grid_lstm`).
        depth_dropout: dropout on hidden vectors passed up the depth axis (and out of the top).
        depth_transform: ``"lstm"``, or ``"tanh"`` / ``"relu"`` for a non-LSTM depth dimension
            (§3.6: ``h' = α(V H')``, no gates and no memory; with one depth layer the depth
            LSTM's memory would only ever see a zero input).
        depth_gate_bias: initial input/output gate bias of an LSTM depth dimension
            (:class:`~reencoder.grid.grid_lstm.GridLSTMBlock`'s ``priority_gate_bias``).
    """

    def __init__(
        self,
        num_dims: int,
        hidden_size: int,
        depth: int,
        priority: bool = True,
        tied_dims: bool = False,
        shared_depth: bool = False,
        cell: str = "standard",
        depth_dropout: float = 0.0,
        depth_transform: str = "lstm",
        depth_gate_bias: float = 0.0,
    ):
        super().__init__()
        if hidden_size < 1 or depth < 1:
            raise ValueError(f"hidden_size and depth must be positive, got {hidden_size}, {depth}")
        self.depth_axis = num_dims - 1
        self.hidden_size = hidden_size
        self.depth = depth
        self.depth_dropout = depth_dropout
        self.runner = None  # None: the fused wavefront; the benchmark swaps in others to compare
        non_lstm = () if depth_transform == "lstm" else (self.depth_axis,)
        activation = "tanh" if depth_transform == "lstm" else depth_transform
        self.blocks = nn.ModuleList(
            GridLSTMBlock(num_dims, hidden_size, priority_dim=self.depth_axis if priority else None,
                          tied=tied_dims, cell=cell, non_lstm_dims=non_lstm, activation=activation,
                          priority_gate_bias=depth_gate_bias)
            for _ in range(1 if shared_depth else depth)
        )

    def run(self, shape, boundary_h, boundary_m, observer=None):
        """Run the grid (depth last in ``shape``) with per-layer blocks and depth dropout:
        :func:`reencoder.grid.fused_wavefront.run_grid_fused` (hand-written backward), or the
        autograd :func:`reencoder.grid.wavefront.run_grid` for blocks it does not implement."""
        dropout = [0.0] * self.depth_axis + [self.depth_dropout]
        runner = self.runner or (run_grid_fused if fused_supported(self.blocks, dropout) else run_grid)
        return runner(self.blocks, shape, boundary_h=boundary_h, boundary_m=boundary_m,
                      block_axis=self.depth_axis, dropout=dropout, observer=observer)


def reorder_state(state: GridState, new_order: Tensor) -> GridState:
    """Reorder a carried grid state along the batch (beam search)."""
    return state[0].index_select(1, new_order), state[1].index_select(1, new_order)
