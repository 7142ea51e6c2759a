"""The incremental decoding step (reencoder.grid.row_step) against the wavefront runners: the
same row, the same row state, for every block layout the Reencoder offers."""

import pytest
import torch

from reencoder.grid.reencoder_grid import ReencoderGrid
from reencoder.grid.row_step import row_step_applies, run_row

LAYOUTS = {
    "lstm-depth": {},
    "shared-dims-tanh-depth": {"shared_dims": True, "depth_transform": "tanh"},
    "shared-dims-lstm-depth": {"shared_dims": True},
    "relu-depth": {"depth_transform": "relu"},
    "gate-then-tanh": {"cell": "gate-then-tanh"},
    "tied-depth": {"tied_depth": True, "depth_gate_bias": 2.0},
}


def grid_and_row(layout, depth, dtype=torch.float64, B=3, S=5, n=6, seed=0):
    """A grid with larger weights than the init (so differences show), a row's inputs and a
    random row state entering it."""
    torch.manual_seed(seed)
    grid = ReencoderGrid(n, depth, **LAYOUTS[layout]).to(dtype).eval()
    for p in grid.parameters():
        torch.nn.init.normal_(p, std=0.4)
    src, tgt = torch.randn(B, S, n, dtype=dtype), torch.randn(B, 1, n, dtype=dtype)
    state = (torch.randn(S * depth, B, n, dtype=dtype), torch.randn(S * depth, B, n, dtype=dtype))
    return grid, src, tgt, state


def wavefront(grid, src, tgt, state, runner, **kwargs):
    g = grid.with_options(runner=runner)
    g.row_step = False
    with torch.no_grad():
        return g(src, tgt, state, **kwargs)


@pytest.mark.parametrize("depth", [1, 3])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_row_step_equals_both_wavefront_runners(layout, depth):
    grid, src, tgt, state = grid_and_row(layout, depth)
    top, (h, m) = run_row(grid.blocks, src, tgt, state)
    for runner in ("fused", "autograd"):
        ref_top, (ref_h, ref_m) = wavefront(grid, src, tgt, state, runner)
        torch.testing.assert_close(top, ref_top, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(h, ref_h, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(m, ref_m, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernels", ["cpp", "torch"])
def test_row_step_in_float32_with_either_gate_math(kernels):
    grid, src, tgt, state = grid_and_row("shared-dims-tanh-depth", 2, torch.float32)
    grid = grid.with_options(kernels=kernels).eval()
    with torch.no_grad():
        top, (h, m) = grid(src, tgt, state)  # the row step: eval, no autograd, one row
    ref_top, (ref_h, ref_m) = wavefront(grid, src, tgt, state, "fused")
    for a, b in ((top, ref_top), (h, ref_h), (m, ref_m)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_row_step_with_bf16_gemms_stays_near_the_fused_bf16_wavefront():
    """bf16 GEMM operands round differently when the row's GEMMs are split by side, so the two
    agree to bf16 precision (and both are near the fp32 result)."""
    grid, src, tgt, state = grid_and_row("shared-dims-tanh-depth", 1, torch.float32)
    top, _ = run_row(grid.blocks, src, tgt, state, compute_dtype=torch.bfloat16)
    ref_top, _ = wavefront(grid, src, tgt, state, "fused", compute_dtype=torch.bfloat16)
    exact, _ = run_row(grid.blocks, src, tgt, state)
    assert top.dtype == torch.float32
    torch.testing.assert_close(top, ref_top, rtol=0, atol=0.05)
    assert (top - exact).abs().max() < 0.05
    assert (top - exact).abs().max() > 0  # the bf16 GEMMs were really used


def test_a_grid_takes_the_row_step_only_outside_autograd_and_dropout():
    grid, src, tgt, state = grid_and_row("lstm-depth", 2)
    assert not row_step_applies(grid.blocks, 0.0)  # gradients enabled and wanted
    with torch.no_grad():
        assert row_step_applies(grid.blocks, 0.0)
        assert row_step_applies(grid.blocks, 0.3)  # eval: dropout off
        grid.train()
        assert not row_step_applies(grid.blocks, 0.3)
        assert row_step_applies(grid.blocks, 0.0)
    grid2d = ReencoderGrid(4, 1, priority=False)
    with torch.no_grad():
        assert not row_step_applies(grid2d.blocks, 0.0)  # depth is not a priority dimension


def test_a_grid_without_depth_priority_still_decodes_by_the_wavefront():
    torch.manual_seed(0)
    grid = ReencoderGrid(4, 2, priority=False).double().eval()
    src, tgt = torch.randn(2, 3, 4, dtype=torch.float64), torch.randn(2, 1, 4, dtype=torch.float64)
    with torch.no_grad():
        top, _ = grid(src, tgt)
        grid.row_step = False
        ref, _ = grid(src, tgt)
    torch.testing.assert_close(top, ref, rtol=0, atol=0)


def test_one_row_outside_autograd_takes_the_row_step_and_more_rows_the_wavefront(monkeypatch):
    import reencoder.grid.reencoder_grid as rg

    calls = []
    monkeypatch.setattr(rg, "run_row", lambda *a, **k: calls.append(1) or run_row(*a, **k))
    grid, src, tgt, state = grid_and_row("shared-dims-tanh-depth", 1)
    with torch.no_grad():
        grid(src, tgt, state)
        assert len(calls) == 1
        grid(src, torch.cat([tgt, tgt], dim=1), state)  # two rows: the wavefront
        assert len(calls) == 1
    grid(src, tgt, state)  # autograd: the wavefront (its backward is written there)
    assert len(calls) == 1


@pytest.mark.parametrize("layout", ["lstm-depth", "shared-dims-tanh-depth"])
def test_row_step_skipping_padding_cells_keeps_every_real_cell(layout):
    """Lengths sorted as fairseq's batches are: the real cells equal the full row's, the padding
    cells (skipped) are zeros in the output and in the row state."""
    grid, src, tgt, state = grid_and_row(layout, 2, B=4, S=5)
    lengths = torch.tensor([5, 4, 4, 2])
    top, (h, m) = run_row(grid.blocks, src, tgt, state, src_lengths=lengths)
    ref_top, (ref_h, ref_m) = run_row(grid.blocks, src, tgt, state)
    real = torch.arange(5).unsqueeze(0) < lengths.unsqueeze(1)  # [B, S]
    torch.testing.assert_close(top[:, 0][real], ref_top[:, 0][real], rtol=1e-12, atol=1e-12)
    cells = real.t().repeat_interleave(2, dim=0)  # [S * D, B] in (i, d) order
    for a, b in ((h, ref_h), (m, ref_m)):
        torch.testing.assert_close(a[cells], b[cells], rtol=1e-12, atol=1e-12)
        assert (a[~cells] == 0).all() and (b[~cells] != 0).all()


def test_active_rows_counts_real_rows_only_for_sorted_padded_batches():
    from reencoder.grid.row_step import active_rows

    assert active_rows(torch.tensor([3, 3, 1]), 3, 3) == [3, 2, 2]
    assert active_rows(torch.tensor([1, 3, 3]), 3, 3) is None  # unsorted: every cell computed
    assert active_rows(torch.tensor([3, 3]), 3, 2) is None  # no padding
    assert active_rows(None, 3, 2) is None


def test_row_step_weights_are_prepared_once_per_decoding_run():
    grid, src, tgt, state = grid_and_row("shared-dims-tanh-depth", 2)
    copies = {}
    first, _ = run_row(grid.blocks, src, tgt, state, copies=copies)
    assert len(copies) == 2  # one entry per depth layer
    prepared = dict(copies)
    again, _ = run_row(grid.blocks, src, tgt, state, copies=copies)
    assert all(copies[k] is prepared[k] for k in prepared)  # reused, not rebuilt
    torch.testing.assert_close(again, first, rtol=0, atol=0)
    ref, _ = run_row(grid.blocks, src, tgt, state)
    torch.testing.assert_close(first, ref, rtol=0, atol=0)
