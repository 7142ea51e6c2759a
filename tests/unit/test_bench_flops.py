"""The benchmark's FLOP count (eval/bench_widths.py) is the work the grid really does: paper
§3.4 shared dims (one weight matrix) and §3.6 a non-LSTM depth dimension cut the GEMMs by the expected amounts."""

import pytest
import torch

from eval.bench_widths import counted_flops
from reencoder.grid.reencoder_grid import ReencoderGrid


def test_in_place_addmm_is_counted():
    out, a, b = torch.zeros(5, 3), torch.randn(5, 4), torch.randn(4, 3)
    assert counted_flops(lambda: out.addmm_(a, b)) == 2 * 5 * 4 * 3


@pytest.mark.parametrize("shared_dims,depth_transform,first_rows,priority_rows", [
    (False, "lstm", 8, 4),   # source and target gates [u f o c] each, then the depth LSTM
    (True, "lstm", 4, 4),    # one set of gates for source and target (§3.4), shared with depth
    (False, "tanh", 8, 1),   # h' = tanh(V H') for depth (§3.6)
    (True, "tanh", 4, 1),
])
def test_grid_flops_match_the_cell_count(shared_dims, depth_transform, first_rows, priority_rows):
    """One depth layer, the additive input x_ij = s_i + t_j: forward GEMMs are the S + T parts
    through the input columns plus every cell's [2n] -> rows transforms; backward twice that."""
    B, S, T, n = 3, 5, 4, 8
    grid = ReencoderGrid(n, 1, shared_dims=shared_dims, depth_transform=depth_transform)
    src, tgt = torch.randn(B, S, n, requires_grad=True), torch.randn(B, T, n, requires_grad=True)

    def step():
        top, _ = grid(src, tgt)
        top.sum().backward()

    rows = (first_rows + priority_rows) * n
    forward = 2 * ((S + T) * B * n * rows + S * T * B * 2 * n * rows)
    assert counted_flops(step) == 3 * forward
