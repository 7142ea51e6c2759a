"""A causal LSTM over the previous target words, as the grid's target input (pure torch).

The paper's Reencoder (§5.3) feeds row ``j`` of its grid the embedding of the previous target
word only, ``t_j = P E_tgt(y_{j-1})``; what the row knows of the words before comes through the
target-axis states of its cells, one small state per source position.  With
``--grid-target-input lstm`` the row is fed a one-layer LSTM's state over the whole prefix
instead::

    g_j = LSTM(E_tgt(y_0) .. E_tgt(y_{j-1}))        t_j = P g_j

a one-dimensional target history beside the grid, as the decoder LSTM of an attention model
(Bahdanau, Cho & Bengio, 2015) or the target LSTM under a 2D model's rows.  It runs once per
target word (not once per cell), so it costs little next to the grid, and it is causal: the
rows still run as one wavefront in training, and decoding carries its ``(h, c)`` beside the
grid's row state.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch.nn as nn
from torch import Tensor

TARGET_INPUTS = ("embed", "lstm")

LstmState = Tuple[Tensor, Tensor]  # (h, c), each [1, B, size]


class TargetLSTM(nn.Module):
    """``forward(x, state)``: the ``[B, T, input_size]`` embedded previous words → the
    ``[B, T, size]`` LSTM states and the state after the last word (``state=None``: the start)."""

    def __init__(self, input_size: int, size: int):
        super().__init__()
        self.lstm = nn.LSTM(input_size, size, batch_first=True)
        for p in self.lstm.parameters():
            nn.init.uniform_(p, -0.1, 0.1)

    @property
    def size(self) -> int:
        return self.lstm.hidden_size

    def forward(self, x: Tensor, state: Optional[LstmState] = None) -> Tuple[Tensor, LstmState]:
        return self.lstm(x, state)
