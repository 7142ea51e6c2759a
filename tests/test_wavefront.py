"""Wavefront execution == the naive cell-by-cell loop (outputs and gradients)."""

import pytest
import torch

from grid_reference import naive_grid
from reencoder.grid_lstm import GridLSTMBlock
from reencoder.wavefront import run_grid, schedule


def make_case(shape, n_blocks, block_axis, seed=0, B=3, n=5, **block_kw):
    torch.manual_seed(seed)
    N = len(shape)
    blocks = torch.nn.ModuleList(GridLSTMBlock(N, n, **block_kw) for _ in range(n_blocks)).double()
    for p in blocks.parameters():
        torch.nn.init.normal_(p, std=0.4)
    face = lambda k: int(torch.tensor([s for a, s in enumerate(shape) if a != k]).prod())  # noqa: E731
    # axis 0: zero boundary; others: random hidden and (for axis 1) memory inputs
    first = 1 if N > 1 else 0  # a 1D grid needs its only boundary (F = 1 cell)
    bh = [None] * first + [torch.randn(face(k), B, n, dtype=torch.double, requires_grad=True) for k in range(first, N)]
    bm = [None] * N
    if N > 1:
        bm[1] = torch.randn(face(1), B, n, dtype=torch.double, requires_grad=True)
    return blocks, bh, bm


CASES = [
    ((7,), 1, None, {}),
    ((4, 3), 1, None, {"priority_dim": 1}),
    ((5, 2), 2, 1, {"priority_dim": 1, "tied": True}),
    ((4, 3, 2), 2, 2, {"priority_dim": 2}),
    ((3, 4, 3), 1, None, {"priority_dim": 2, "cell": "paper"}),
    ((2, 1, 3), 3, 2, {}),
    ((1, 1, 1), 1, None, {"priority_dim": 2}),
    ((3, 2, 2), 2, 2, {"priority_dim": 2, "non_lstm_dims": [0]}),
]


@pytest.mark.parametrize("shape,n_blocks,block_axis,kw", CASES)
def test_wavefront_matches_naive_loop(shape, n_blocks, block_axis, kw):
    blocks, bh, bm = make_case(shape, n_blocks, block_axis, **kw)
    wave = run_grid(blocks, shape, bh, bm, block_axis=block_axis)
    naive = naive_grid(blocks, shape, bh, bm, block_axis=block_axis)
    outs_w = wave[0] + wave[1]
    outs_n = naive[0] + naive[1]
    for a, b in zip(outs_w, outs_n):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    # gradients w.r.t. every parameter and every boundary input
    weights = [torch.randn_like(t) for t in outs_w]
    inputs = list(blocks.parameters()) + [t for t in bh + bm if t is not None]
    loss_w = sum((w * t).sum() for w, t in zip(weights, outs_w))
    loss_n = sum((w * t).sum() for w, t in zip(weights, outs_n))
    grads_w = torch.autograd.grad(loss_w, inputs, allow_unused=True)
    grads_n = torch.autograd.grad(loss_n, inputs, allow_unused=True)
    for gw, gn in zip(grads_w, grads_n):
        if gn is None:
            assert gw is None or torch.count_nonzero(gw) == 0
        else:
            torch.testing.assert_close(gw, gn, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("shape", [(5,), (6, 4), (9, 7, 3), (12, 11, 4)])
def test_schedule_has_sum_of_extents_minus_ndim_plus_one_steps(shape):
    sched = schedule(shape, None)
    assert sched.num_steps == sum(shape) - len(shape) + 1
    cells = torch.cat([s.coords for s in sched.steps])
    total = 1
    for s in shape:
        total *= s
    assert cells.shape[0] == total  # every cell exactly once
    assert len({tuple(c) for c in cells.tolist()}) == total
    for t, step in enumerate(sched.steps):
        assert torch.all(step.coords.sum(dim=1) == t)  # one hyperplane per step


def test_blocks_see_contiguous_slices_per_block_axis():
    sched = schedule((4, 5, 3), 2)
    for step in sched.steps:
        for blk, start, end in step.groups:
            assert torch.all(step.coords[start:end, 2] == blk)
        assert sum(end - start for _, start, end in step.groups) == step.coords.shape[0]
