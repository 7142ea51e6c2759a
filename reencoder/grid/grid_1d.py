"""The 1D Grid LSTM (Kalchbrenner, Danihelka & Graves, ICLR 2016, §3.3 and §4's parity task):
a deep feed-forward network whose layers are 1D Grid LSTM blocks.

With one dimension, the block of :mod:`reencoder.grid.grid_lstm` is an LSTM transform along
depth alone: ``(h_d, m_d) = LSTM(h_{d-1}, m_{d-1}, W_d)`` (paper eqs. 3-5 with ``H = h``), so
the memory vector carries information from layer to layer through the forget gate, much like
a highway network's carry path.  The paper's parity result uses *tied* weights (one ``W`` for
every layer).  The input is projected into the first hidden vector, ``h_0 = P x``; the first
memory vector is zero or (``memory_input=True``) the same projection.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor

from .grid_lstm import GridLSTMBlock


class Grid1D(nn.Module):
    """``depth`` layers of 1D Grid LSTM blocks over a projected input; returns the top ``h``.

    Args:
        in_features: size of the input vector ``x``.
        hidden_size: n, the size of ``h`` and ``m``.
        depth: the number of layers.
        tied: one block for every layer (the paper's tied 1D grid).
        memory_input: start the memory at ``P x`` too (otherwise zeros).
        cell: the block's LSTM output (``"standard"`` or ``"gate-then-tanh"``).
    """

    def __init__(self, in_features: int, hidden_size: int, depth: int, tied: bool = True,
                 memory_input: bool = False, cell: str = "standard"):
        super().__init__()
        if min(in_features, hidden_size, depth) < 1:
            raise ValueError(f"in_features, hidden_size and depth must be positive, got "
                             f"{in_features}, {hidden_size}, {depth}")
        self.depth, self.memory_input = depth, memory_input
        self.proj = nn.Linear(in_features, hidden_size)
        self.blocks = nn.ModuleList(GridLSTMBlock(1, hidden_size, cell=cell) for _ in range(1 if tied else depth))

    def forward(self, x: Tensor) -> Tensor:
        """``[B, in_features]`` → ``[B, hidden_size]``, the hidden vector of the last layer."""
        h = self.proj(x)
        m = h if self.memory_input else torch.zeros_like(h)
        for d in range(self.depth):
            (h,), (m,) = self.blocks[d % len(self.blocks)]([h], [m])
        return h


class FeedForward(nn.Module):
    """The baseline of §4: ``depth`` layers ``h_d = α(V_d h_{d-1} + b_d)`` over ``h_0 = P x``
    (``α`` = ReLU or tanh), tied or not, as deep as the grid."""

    def __init__(self, in_features: int, hidden_size: int, depth: int, tied: bool = True, activation: str = "relu"):
        super().__init__()
        if activation not in ("relu", "tanh"):
            raise ValueError(f"activation must be relu or tanh, got {activation!r}")
        self.depth, self.act = depth, torch.relu if activation == "relu" else torch.tanh
        self.proj = nn.Linear(in_features, hidden_size)
        self.layers = nn.ModuleList(nn.Linear(hidden_size, hidden_size) for _ in range(1 if tied else depth))

    def forward(self, x: Tensor) -> Tensor:
        h = self.proj(x)
        for d in range(self.depth):
            h = self.act(self.layers[d % len(self.layers)](h))
        return h
