"""The 2D language-model grid at depth 1 against the paper's equations written out as a loop:
a time LSTM on ``[h_{t-1}; x_t]``, then the depth (priority) LSTM or tanh transform on
``[h'_t; x_t]`` with a zero memory, its ``h`` the output (eqs. 3-5, §3.5, §3.6)."""

import pytest
import torch

from reencoder.grid.lm_grid import LMGrid

sig, tanh = torch.sigmoid, torch.tanh


def lstm(G, m, n):
    u, f, o, c = sig(G[:, :n]), sig(G[:, n:2 * n]), sig(G[:, 2 * n:3 * n]), tanh(G[:, 3 * n:])
    m = f * m + u * c
    return o * tanh(m), m


@pytest.mark.parametrize("depth_transform", ["lstm", "tanh"])
@pytest.mark.parametrize("gate_bias", [0.0, 2.0])
def test_depth_one_grid_is_the_hand_written_loop(depth_transform, gate_bias):
    torch.manual_seed(0)
    n, B, T = 6, 3, 5
    grid = LMGrid(n, 1, depth_transform=depth_transform, depth_gate_bias=gate_bias).double()
    x = torch.randn(B, T, n, dtype=torch.double)
    out, _ = grid(x)
    blk = grid.blocks[0]
    h = m = torch.zeros(B, n, dtype=torch.double)
    expected = []
    for t in range(T):
        h, m = lstm(torch.cat([h, x[:, t]], -1) @ blk.weight.T + blk.bias, m, n)
        P = torch.cat([h, x[:, t]], -1) @ blk.priority_weight.T + blk.priority_bias
        expected.append(lstm(P, torch.zeros_like(m), n)[0] if depth_transform == "lstm" else tanh(P))
    torch.testing.assert_close(out, torch.stack(expected, 1), rtol=1e-12, atol=1e-12)
