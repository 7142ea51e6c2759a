"""The naive cell-by-cell grid: the reference both wavefront runners must match.

:func:`naive_grid` visits the cells one at a time in lexicographic order (every predecessor
``c - e_k`` comes earlier), calling the block once per cell with the inputs of paper eq. 4,
and returns the exits in the layout of :mod:`reencoder.grid.schedule`.  Nothing is batched
across cells, so it is too slow for training; the tests use it as their oracle and the speed
benchmark (``eval/bench.py``) as its baseline.
"""

import itertools

import torch

from .grid_lstm import GemmOperands
from .schedule import face_index, materialize


def naive_grid(blocks, shape, boundary_h, boundary_m, block_axis=None, compute_dtype=None):
    """Exits ``(h, m)`` per axis, as :func:`reencoder.grid.wavefront.run_grid` returns them
    (same arguments; no dropout, no observer)."""
    ndim = len(shape)
    boundary_h = materialize(boundary_h)
    template = next(t for t in boundary_h if t is not None)
    B, n = template.shape[1], template.shape[2]
    zeros = template.new_zeros(B, n)
    gemm = GemmOperands(compute_dtype)
    out_h, out_m = {}, {}
    exit_h = [dict() for _ in range(ndim)]
    exit_m = [dict() for _ in range(ndim)]
    for c in itertools.product(*(range(s) for s in shape)):
        hs, ms = [], []
        for k in range(ndim):
            if c[k] == 0:
                f = face_index(c, shape, k)
                hs.append(zeros if boundary_h[k] is None else boundary_h[k][f])
                ms.append(zeros if boundary_m[k] is None else boundary_m[k][f])
            else:
                pred = c[:k] + (c[k] - 1,) + c[k + 1 :]
                hs.append(out_h[pred][k])
                ms.append(out_m[pred][k])
        blk = blocks[c[block_axis]] if (block_axis is not None and len(blocks) > 1) else blocks[0]
        h_new, m_new = blk(hs, ms, gemm)
        out_h[c], out_m[c] = h_new, m_new
        for k in range(ndim):
            if c[k] == shape[k] - 1:
                f = face_index(c, shape, k)
                exit_h[k][f], exit_m[k][f] = h_new[k], m_new[k]
    stack = lambda d: torch.stack([d[i] for i in range(len(d))])  # noqa: E731
    return [stack(e) for e in exit_h], [stack(e) for e in exit_m]
