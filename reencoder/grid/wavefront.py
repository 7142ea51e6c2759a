"""The autograd wavefront: a grid of Grid LSTM blocks run hyperplane by hyperplane.

:func:`run_grid` computes each hyperplane of :func:`reencoder.grid.schedule.schedule` as one
batched block call (paper §4: the blocks of a hyperplane "can be computed in parallel"), every
gather, concatenation and gate through autograd.  Each step only reads the outputs of the step
before, so gathers are small and backward stays linear in the grid size.  It runs any block
(non-LSTM dimensions, any priority dimension) and is the fallback of
:func:`reencoder.grid.fused_wavefront.run_grid_fused`, the fast path the models use, whose
results it must equal.  The observer hook (:data:`~reencoder.grid.schedule.Observer`) sees
every hyperplane, for inspection (:mod:`reencoder.visualize`): a grid with an observer always
runs here (:meth:`reencoder.grid.grid_stack.DepthGridStack.run`).

Boundary and exit tensors are laid out as :mod:`reencoder.grid.schedule` describes.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .grid_lstm import GemmOperands
from .schedule import AxisGather, Observer, Shape, materialize, schedule


def _gather(prev: Optional[Tensor], boundary: Optional[Tensor], g: AxisGather, template: Tensor) -> Tensor:
    """Incoming vectors of one side for all cells of a step, ``[N_t, B, n]``."""
    if g.boundary_rows is not None:
        if boundary is None:  # zero boundary
            shape = (g.boundary_rows.numel(),) + template.shape[1:]
            bnd = template.new_zeros(shape)
        else:
            bnd = boundary.index_select(0, g.boundary_rows.to(boundary.device))
        if g.all_boundary:
            return bnd
        src = torch.cat([prev, bnd], dim=0)
    else:
        src = prev
    if g.order is None:
        return src
    return src.index_select(0, g.order.to(src.device))


def run_grid(
    blocks: nn.ModuleList,
    shape: Shape,
    boundary_h: Sequence[Optional[Tensor]],
    boundary_m: Sequence[Optional[Tensor]],
    block_axis: Optional[int] = None,
    dropout: Optional[Sequence[float]] = None,
    observer: Optional[Observer] = None,
    compute_dtype: Optional[torch.dtype] = None,
) -> Tuple[List[Tensor], List[Tensor]]:
    """Run a grid of blocks hyperplane by hyperplane.

    Args:
        blocks: one :class:`GridLSTMBlock` (weights shared by every cell) or one per coordinate
            along ``block_axis``.
        shape: grid shape ``(L_0, ..., L_{N-1})``.
        boundary_h, boundary_m: per axis, ``[F_k, B, n]`` incoming vectors of the near face, or
            ``None`` for zeros (hidden vectors may be an :class:`OuterSum`).  At least one
            ``boundary_h`` must be a tensor (it fixes B, n, dtype and device).
        dropout: per axis, dropout probability on hidden vectors passed along that axis
            (applied in training mode only).
        observer: called per step as ``observer(coords, hs_in, hs_out, ms_out)`` with the
            cells' coordinates and ``[N_t, B, n]`` tensors, for inspection.
        compute_dtype: the dtype of the blocks' GEMM operands (default: the inputs'), as
            :class:`~reencoder.grid.grid_lstm.GemmOperands` applies it.
    Returns:
        (exit_h, exit_m): per axis, ``[F_k, B, n]`` outgoing vectors of the far face.
    """
    ndim = len(shape)
    boundary_h = materialize(boundary_h)
    template = next(t for t in boundary_h if t is not None)
    B, n = template.shape[1], template.shape[2]
    sched = schedule(tuple(shape), block_axis if len(blocks) > 1 else None)
    gemm = GemmOperands(compute_dtype)  # every parameter cast once per run
    prev_h: List[Optional[Tensor]] = [None] * ndim
    prev_m: List[Optional[Tensor]] = [None] * ndim
    exits_h: List[List[Tensor]] = [[] for _ in range(ndim)]
    exits_m: List[List[Tensor]] = [[] for _ in range(ndim)]
    for step in sched.steps:
        hs = [_gather(prev_h[k], boundary_h[k], step.gathers[k], template) for k in range(ndim)]
        ms = [_gather(prev_m[k], boundary_m[k], step.gathers[k], template) for k in range(ndim)]
        N_t = step.coords.shape[0]
        H = torch.cat(hs, dim=-1)  # [N_t, B, ndim * n]
        outs = []
        for blk, start, end in step.groups:
            rows = end - start
            h_o, m_o = blocks[blk].forward_concat(
                H[start:end].reshape(rows * B, ndim * n), [m[start:end].reshape(rows * B, n) for m in ms], gemm
            )
            outs.append((h_o, m_o, rows))
        if len(outs) == 1:
            h_new = [h.view(N_t, B, n) for h in outs[0][0]]
            m_new = [m.view(N_t, B, n) for m in outs[0][1]]
        else:
            h_new = [torch.cat([o[0][k].view(o[2], B, n) for o in outs]) for k in range(ndim)]
            m_new = [torch.cat([o[1][k].view(o[2], B, n) for o in outs]) for k in range(ndim)]
        if dropout is not None:
            h_new = [F.dropout(h, p, blocks.training) if p > 0 else h for h, p in zip(h_new, dropout)]
        if observer is not None:
            observer(step.coords, hs, h_new, m_new)
        for k in range(ndim):
            rows = step.exit_rows[k]
            if rows is not None:
                exits_h[k].append(h_new[k].index_select(0, rows.to(template.device)))
                exits_m[k].append(m_new[k].index_select(0, rows.to(template.device)))
        prev_h, prev_m = h_new, m_new
    out_h, out_m = [], []
    for k in range(ndim):
        order = sched.exit_order[k].to(template.device)
        out_h.append(torch.cat(exits_h[k]).index_select(0, order))
        out_m.append(torch.cat(exits_m[k]).index_select(0, order))
    return out_h, out_m
