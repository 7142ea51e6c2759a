"""The 1D Grid LSTM (paper §3.3, the parity task's network) against a hand-written loop."""

import pytest
import torch

from reencoder.grid.grid_1d import FeedForward, Grid1D

sig, tanh = torch.sigmoid, torch.tanh


def by_hand(net: Grid1D, x):
    """Paper eq. 3 along depth with H = h: (h, m) <- LSTM(h, m, W_d), from h_0 = P x."""
    h = net.proj(x)
    m = h.clone() if net.memory_input else torch.zeros_like(h)
    n = h.shape[1]
    for d in range(net.depth):
        blk = net.blocks[d % len(net.blocks)]
        G = h @ blk.weight.T + blk.bias
        u, f, o, c = sig(G[:, :n]), sig(G[:, n:2 * n]), sig(G[:, 2 * n:3 * n]), tanh(G[:, 3 * n:])
        m = f * m + u * c
        h = o * tanh(m)
    return h


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("memory_input", [False, True])
def test_grid_1d_is_lstm_along_depth(tied, memory_input):
    torch.manual_seed(0)
    net = Grid1D(6, 5, depth=4, tied=tied, memory_input=memory_input).double()
    x = torch.randn(3, 6, dtype=torch.double)
    torch.testing.assert_close(net(x), by_hand(net, x))
    assert len(net.blocks) == (1 if tied else 4)


def test_tied_nets_reuse_one_matrix_per_layer():
    grid, ffn = Grid1D(8, 16, depth=10), FeedForward(8, 16, depth=10)
    assert sum(p.numel() for p in grid.parameters()) == Grid1D(8, 16, depth=1).proj.weight.numel() + 16 + 4 * 16 * 17
    x = torch.randn(2, 8)
    h = ffn.proj(x)
    for _ in range(10):
        h = torch.relu(ffn.layers[0](h))
    torch.testing.assert_close(ffn(x), h)


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="positive"):
        Grid1D(8, 16, depth=0)
    with pytest.raises(ValueError, match="relu or tanh"):
        FeedForward(8, 16, 2, activation="gelu")
