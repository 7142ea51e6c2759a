"""Wavefront execution == the naive cell-by-cell loop (outputs and gradients), for both the
autograd wavefront and the fused one with its hand-written backward (on CPU with the C++ kernels
and with the torch ops they replace)."""

import functools

import pytest
import torch

from reencoder.grid.fused_memory import Workspace
from reencoder.grid.fused_wavefront import fused_supported, run_grid_fused
from reencoder.grid.grid_lstm import GridLSTMBlock
from reencoder.grid.grid_stack import DepthGridStack
from reencoder.grid.reference import naive_grid
from reencoder.grid.schedule import OuterSum, schedule
from reencoder.grid.wavefront import run_grid

# CI has no GPU: the CUDA cases run where one is present (the device checks of the grid)
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


def make_case(shape, n_blocks, block_axis, seed=0, B=3, n=5, device="cpu", **block_kw):
    torch.manual_seed(seed)
    N = len(shape)
    blocks = torch.nn.ModuleList(GridLSTMBlock(N, n, **block_kw) for _ in range(n_blocks)).double().to(device)
    for p in blocks.parameters():
        torch.nn.init.normal_(p, std=0.4)
    face = lambda k: int(torch.tensor([s for a, s in enumerate(shape) if a != k]).prod())  # noqa: E731
    rand = lambda *size: torch.randn(*size, dtype=torch.double, device=device, requires_grad=True)  # noqa: E731
    # axis 0: zero boundary; others: random hidden and (for axis 1) memory inputs
    first = 1 if N > 1 else 0  # a 1D grid needs its only boundary (F = 1 cell)
    bh = [None] * first + [rand(face(k), B, n) for k in range(first, N)]
    bm = [None] * N
    if N > 1:
        bm[1] = rand(face(1), B, n)
    return blocks, bh, bm


CASES = [
    ((7,), 1, None, {}),
    ((4, 3), 1, None, {"priority_dim": 1}),
    ((5, 2), 2, 1, {"priority_dim": 1, "shared_dims": True}),
    ((4, 3, 2), 2, 2, {"priority_dim": 2}),
    ((3, 4, 3), 1, None, {"priority_dim": 2, "cell": "gate-then-tanh"}),
    ((2, 1, 3), 3, 2, {}),
    ((1, 1, 1), 1, None, {"priority_dim": 2}),
    ((3, 2, 2), 2, 2, {"priority_dim": 2, "non_lstm_dims": [0]}),
    ((3, 4, 2), 2, 2, {"shared_dims": True}),
    ((4, 3, 3), 3, 2, {"shared_dims": True, "priority_dim": 2, "cell": "gate-then-tanh"}),
    ((6, 5, 2), 1, None, {"priority_dim": 2, "cell": "gate-then-tanh"}),
    # §3.6: a non-LSTM (tanh / relu) priority dimension, alone or next to LSTM dimensions sharing one matrix (§3.4)
    ((3, 4, 2), 2, 2, {"priority_dim": 2, "non_lstm_dims": [2]}),
    ((4, 3, 3), 3, 2, {"priority_dim": 2, "non_lstm_dims": [2], "shared_dims": True, "activation": "relu"}),
    ((5, 3), 1, None, {"priority_dim": 1, "non_lstm_dims": [1], "shared_dims": True, "cell": "gate-then-tanh"}),
]
# the fused runner with the C++ kernels (where they are built) and with the torch gate ops they
# replace (the fallback without a compiler), forward and backward
RUNNERS = {"autograd": run_grid, "fused": run_grid_fused, "fused-torch": functools.partial(run_grid_fused, kernels="torch")}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("runner", sorted(RUNNERS))
@pytest.mark.parametrize("shape,n_blocks,block_axis,kw", CASES)
def test_wavefront_matches_naive_loop(shape, n_blocks, block_axis, kw, runner, device):
    check_wavefront_matches_naive_loop(shape, n_blocks, block_axis, kw, runner, device)


def check_wavefront_matches_naive_loop(shape, n_blocks, block_axis, kw, runner, device):
    blocks, bh, bm = make_case(shape, n_blocks, block_axis, device=device, **kw)
    if runner != "autograd" and not fused_supported(blocks, None):
        assert kw.get("non_lstm_dims") != [len(shape) - 1], "the fused runner must cover a non-LSTM priority dim"
        assert kw.get("non_lstm_dims"), "the fused runner must cover every all-LSTM case"
        with pytest.raises(ValueError, match="LSTM dimensions"):
            run_grid_fused(blocks, shape, bh, bm, block_axis=block_axis)
        return
    wave = RUNNERS[runner](blocks, shape, bh, bm, block_axis=block_axis)
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


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("n_blocks,kw", [(3, {}), (3, {"shared_dims": True}), (3, {"cell": "gate-then-tanh"}), (1, {}),
                                         (3, {"non_lstm_dims": [2]}), (1, {"non_lstm_dims": [2], "shared_dims": True})])
@pytest.mark.parametrize("runner", ["fused", "fused-torch"])
def test_additive_depth_input_matches_naive_loop(n_blocks, kw, device, runner):
    """The Reencoder's depth input x_ij = s_i + t_j given as an OuterSum: the fused pass
    projects the S + T parts instead of the S·T cells; outputs and every gradient (parts
    included) equal the naive loop over the materialised face."""
    check_additive_depth_input(n_blocks, kw, device, runner)


def check_additive_depth_input(n_blocks, kw, device, runner):
    torch.manual_seed(3)
    S, T, D, B, n = 4, 5, 3, 2, 4
    blocks = torch.nn.ModuleList(GridLSTMBlock(3, n, priority_dim=2, **kw) for _ in range(n_blocks)).double().to(device)
    for p in blocks.parameters():
        torch.nn.init.normal_(p, std=0.4)
    rand = lambda *size: torch.randn(*size, dtype=torch.double, device=device, requires_grad=True)  # noqa: E731
    s, t, row_h, row_m = rand(S, B, n), rand(T, B, n), rand(S * D, B, n), rand(S * D, B, n)
    bh, bm = [None, row_h, OuterSum([s, t])], [None, row_m, None]
    fused = RUNNERS[runner](blocks, (S, T, D), bh, bm, block_axis=2)
    naive = naive_grid(blocks, (S, T, D), bh, bm, block_axis=2)
    outs_f, outs_n = fused[0] + fused[1], naive[0] + naive[1]
    for a, b in zip(outs_f, outs_n):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    weights = [torch.randn_like(o) for o in outs_f]
    inputs = list(blocks.parameters()) + [s, t, row_h, row_m]
    grads_f = torch.autograd.grad(sum((w * o).sum() for w, o in zip(weights, outs_f)), inputs)
    grads_n = torch.autograd.grad(sum((w * o).sum() for w, o in zip(weights, outs_n)), inputs)
    for gf, gn in zip(grads_f, grads_n):
        torch.testing.assert_close(gf, gn, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("kw", [{}, {"non_lstm_dims": [2]}])
def test_fused_dropout_gradients_match_finite_differences(kw):
    """Depth dropout inside the fused pass: its masks scale the forward and the backward alike
    (the RNG is reseeded per call, so every evaluation draws the same masks)."""
    shape = (3, 2, 2)
    blocks, bh, bm = make_case(shape, 2, 2, priority_dim=2, B=2, n=3, **kw)
    blocks.train()

    def f(*inputs):
        torch.manual_seed(7)
        h, m = run_grid_fused(blocks, shape, list(inputs[:3]), list(inputs[3:]), block_axis=2, dropout=[0, 0, 0.5])
        return (*h, *m)

    inputs = [t for t in bh] + [t for t in bm]
    assert torch.autograd.gradcheck(lambda *x: f(*x), [t for t in inputs], atol=1e-7)
    torch.manual_seed(7)
    dropped = run_grid_fused(blocks, shape, bh, bm, block_axis=2, dropout=[0, 0, 0.5])[0][2]
    blocks.eval()
    plain = run_grid_fused(blocks, shape, bh, bm, block_axis=2, dropout=[0, 0, 0.5])[0][2]
    assert torch.count_nonzero(dropped == 0) > 0 and torch.count_nonzero(plain == 0) == 0


def bf16_case(device):
    torch.manual_seed(0)
    blocks = torch.nn.ModuleList(GridLSTMBlock(3, 32, priority_dim=2) for _ in range(2)).to(device)
    B = 4
    bh = [None, torch.randn(10, B, 32, device=device), torch.randn(30, B, 32, device=device, requires_grad=True)]
    bm = [None, torch.randn(10, B, 32, device=device), None]
    return blocks, (5, 6, 2), bh, bm


@pytest.mark.parametrize("device", DEVICES)
def test_fused_bf16_gemms_stay_close_to_fp32(device):
    """With compute_dtype=bf16 the fused pass runs its GEMMs in bf16 and keeps states in fp32;
    the dtype is honoured as given (were it ignored, the outputs would equal fp32's)."""
    blocks, shape, bh, bm = bf16_case(device)
    ref = run_grid_fused(blocks, shape, bh, bm, block_axis=2)[0]
    low = run_grid_fused(blocks, shape, bh, bm, block_axis=2, compute_dtype=torch.bfloat16)[0]
    for a, b in zip(ref, low):
        assert b.dtype == torch.float32
        assert 0 < (a - b).abs().max() < 2e-2  # bf16 rounding shows, but stays small
    g_ref = torch.autograd.grad(sum(t.sum() for t in ref), bh[2])[0]
    g_low = torch.autograd.grad(sum(t.sum() for t in low), bh[2])[0]
    assert torch.nn.functional.cosine_similarity(g_ref.flatten(), g_low.flatten(), dim=0) > 0.999


@pytest.mark.parametrize("device", DEVICES)
def test_explicit_bf16_is_what_autocast_gave(device):
    """The explicit GEMM dtype replaces the models' former ``torch.autocast``: both runners
    give what they gave under autocast (the autograd runner exactly: GEMM operands and
    results in bf16, then its gate math; the fused one within its own bf16 rounding), and an
    enclosing autocast is no longer read by the fused runner."""
    blocks, shape, bh, bm = bf16_case(device)
    bf16 = torch.bfloat16
    with torch.autocast(device, dtype=bf16):
        auto = run_grid(blocks, shape, bh, bm, block_axis=2)
    explicit = run_grid(blocks, shape, bh, bm, block_axis=2, compute_dtype=bf16)
    for a, b in zip(auto[0] + auto[1], explicit[0] + explicit[1]):
        assert torch.equal(a, b)
    fused = run_grid_fused(blocks, shape, bh, bm, block_axis=2, compute_dtype=bf16)
    fp32 = run_grid_fused(blocks, shape, bh, bm, block_axis=2)
    for a, b, c in zip(explicit[0], fused[0], fp32[0]):  # bf16 runners agree better than bf16 and fp32
        assert (a.float() - b).abs().max() < 2e-2 and (b - c).abs().max() > 0


def test_grids_with_an_observer_run_through_the_autograd_runner():
    """The fused runner has no observer hook; a stack given an observer runs ``run_grid`` (the
    same function), and the observer sees every hyperplane."""
    torch.manual_seed(0)
    grid = DepthGridStack(3, 5, 2).double()
    assert isinstance(grid.runner, functools.partial) and grid.runner.func is run_grid_fused
    bh = [None, torch.randn(6, 2, 5, dtype=torch.double), torch.randn(12, 2, 5, dtype=torch.double)]
    bm = [None, torch.randn(6, 2, 5, dtype=torch.double), None]
    seen = []
    observed = grid.run((3, 4, 2), bh, bm, observer=lambda coords, *_: seen.append(coords))
    plain = grid.run((3, 4, 2), bh, bm)
    assert len(seen) == 3 + 4 + 2 - 2
    for a, b in zip(observed[0] + observed[1], plain[0] + plain[1]):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    with pytest.raises(TypeError):
        run_grid_fused(grid.blocks, (3, 4, 2), bh, bm, block_axis=2, observer=print)


def naive_runner(blocks, shape, boundary_h, boundary_m, block_axis=None, dropout=None, compute_dtype=None):
    return naive_grid(blocks, shape, boundary_h, boundary_m, block_axis, compute_dtype)


@pytest.mark.parametrize("kw", [dict(), dict(shared_dims=True, depth_transform="tanh"),
                                dict(tied_depth=True, cell="gate-then-tanh")])
def test_runner_and_kernels_are_constructor_options(kw):
    """A stack built with ``runner``/``kernels`` (or a copy made with other options) computes
    the same function as the default one, outputs and gradients."""
    torch.manual_seed(1)
    grid = DepthGridStack(3, 4, 2, depth_dropout=0.0, **kw).double()
    variants = {"fused": grid, "autograd": grid.with_options(runner="autograd"),
                "torch": grid.with_options(kernels="torch"), "naive": grid.with_options(runner=naive_runner)}
    assert variants["autograd"].runner is run_grid and variants["torch"].runner.keywords == {"kernels": "torch"}
    assert variants["autograd"].options == {**grid.options, "runner": "autograd"} and grid.options["runner"] is None
    with pytest.raises(ValueError, match="runner must be"):
        DepthGridStack(3, 4, 2, runner="fast")
    S, T, B, n = 3, 4, 2, 4
    s, t = (torch.randn(L, B, n, dtype=torch.double, requires_grad=True) for L in (S, T))
    row = torch.randn(S * 2, B, n, dtype=torch.double, requires_grad=True)
    results = {}
    for name, g in variants.items():
        h, m = g.run((S, T, 2), [None, row, OuterSum([s, t])], [None, row, None])
        outs = h + m
        loss = sum((o * (i + 1)).sum() for i, o in enumerate(outs))
        results[name] = [o.detach() for o in outs] + list(torch.autograd.grad(loss, [s, t, row, *g.parameters()]))
    for name in ("autograd", "torch", "naive"):
        for a, b in zip(results["fused"], results[name]):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_workspace_reuses_released_buffers():
    ws = Workspace(keep=2)
    like = torch.empty(0)
    a = ws.take((400, 50), like)
    ws.give(a)
    b = ws.take((300, 50), like)  # fits in a's storage: the same memory comes back
    assert b.data_ptr() == a.data_ptr() and b.shape == (300, 50)
    c = ws.take((300, 50), like)  # b is still taken: new memory
    assert c.data_ptr() != b.data_ptr()
    ws.give(b[:10], c)  # a view gives back its whole base
    assert ws.take((400, 50), like).data_ptr() == a.data_ptr()
    ws.give(a)
    big = ws.take((100_000,), like)  # nothing kept is large enough
    assert big.data_ptr() not in (b.data_ptr(), c.data_ptr())
    ws.give(big)
    assert len(ws.free[(like.device, like.dtype)]) == 2  # keep=2: the smallest was dropped
    with torch.inference_mode():  # autograd would refuse to save these later: not kept
        ws.give(ws.take((400, 50), torch.empty(0, dtype=torch.float64)))
    assert not ws.free.get((like.device, torch.float64))


def test_buffers_given_back_under_inference_mode_stay_writable_outside_it():
    """Decoding (inference mode) releases a normal buffer; training in the same process then
    writes in place into what take() returns (the bench and the tests do both)."""
    ws = Workspace(keep=2)
    buf = ws.take((400, 50), torch.empty(0))  # taken outside inference mode: a normal tensor
    with torch.inference_mode():
        ws.give(buf)
    again = ws.take((400, 50), torch.empty(0))
    assert again.data_ptr() == buf.data_ptr() and not again.is_inference()
    again.fill_(1.0).add_(1.0)  # in place, outside inference mode
    assert torch.all(again == 2.0)
