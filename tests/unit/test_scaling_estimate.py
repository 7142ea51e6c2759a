"""Scaling on paper (eval/scaling_estimate.py): the roofline arithmetic, and counts of a real
training step that extend exactly from one and two pairs to a whole batch."""

import pytest
import torch

from eval.bench import train_step
from eval.scaling_estimate import Assumptions, StepCost, batch_cost, epoch_hours, rows_of, step_cost, step_estimate
from tests.model_helpers import batches, build_task_and_model


def test_a_step_takes_its_largest_bound():
    a = Assumptions(peak_tflops=1000.0, hbm_tbs=2.0, gemm_eff=0.5, mem_eff=0.5, launch_us=10.0)
    # 1e12 FLOPs at 500 TFLOP/s = 2 ms; 1e9 bytes at 1 TB/s = 1 ms; 100 ops x 10 us = 1 ms
    est = step_estimate(StepCost(flops=1e12, ops=100, bytes=1e9), tokens=4000, a=a)
    assert est["compute_s"] == pytest.approx(2e-3) and est["memory_s"] == pytest.approx(1e-3)
    assert est["launches_s"] == pytest.approx(1e-3)
    assert est["bound"] == "compute" and est["tgt_tokens_per_s"] == pytest.approx(4000 / 2e-3)
    # a small step is bound by its launches, whatever the GPU's peak
    small = step_estimate(StepCost(flops=1e9, ops=3000, bytes=1e6), tokens=500, a=a)
    assert small["bound"] == "launches" and small["step_s"] == pytest.approx(0.03)
    assert epoch_hours(3.6e6, 1000.0) == pytest.approx(1.0)


def test_counts_extend_from_one_and_two_pairs_to_the_batch(tiny_bin):
    """FLOPs, ops and bytes of a step are affine in the batch size at a fixed padded shape: the
    extension from 1 and 2 pairs equals the count of the whole batch (here 4 pairs)."""
    _, task, model = build_task_and_model(tiny_bin / "bin", extra=["--grid-bf16", "never"])
    model.train()
    sample = rows_of(batches(task, "train", max_sentences=4)[0], 4)
    assert sample["target"].shape[0] == 4
    fixed, per_pair = batch_cost(model, sample)
    whole = step_cost(lambda: train_step(model, sample))
    extended = fixed + per_pair.scaled(4)
    assert extended.flops == pytest.approx(whole.flops)
    assert extended.ops == pytest.approx(whole.ops, rel=0.05)  # the same ops, up to a few torch picks by shape
    assert extended.bytes == pytest.approx(whole.bytes, rel=0.05)
    assert per_pair.flops > 0 and per_pair.bytes > 0 and per_pair.ops == 0 and fixed.ops > 0


def test_views_are_not_ops_and_gemm_bytes_are_not_memory_traffic():
    a, b = torch.randn(8, 4), torch.randn(4, 3)
    cost = step_cost(lambda: (a @ b).t().relu())
    assert cost.flops == 2 * 8 * 4 * 3
    assert cost.ops == 2  # the matmul and the relu; the transpose is a view
    assert cost.bytes == 2 * 3 * 8 * 4  # the relu reads and writes 24 floats


def test_a_gather_moves_the_rows_it_selects_not_the_whole_tensor():
    big = torch.randn(1000, 16)
    cost = step_cost(lambda: big.index_select(0, torch.tensor([3, 5])))
    assert cost.bytes == 2 * 2 * 16 * 4  # 2 rows read and written
