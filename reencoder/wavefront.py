"""Wavefront execution of an N-dimensional grid of Grid LSTM blocks.

A grid of shape ``(L_0, ..., L_{N-1})`` holds one block per cell ``c``.  Side ``k`` of cell
``c`` receives the side-``k`` output of cell ``c - e_k`` (its predecessor along axis ``k``),
or, on the grid's near face (``c_k = 0``), a *boundary* vector supplied by the caller: the
input embedding along the depth axis, the previous row's states along the target axis of the
Reencoder, zeros along the source axis.  The side-``k`` outputs of the far face
(``c_k = L_k - 1``) leave the grid as *exits*.

Every predecessor of a cell with coordinate sum ``t`` has sum ``t - 1``, so all cells of one
hyperplane ``Σ c = t`` are independent (paper §4: "the blocks ... can be computed in
parallel along the hyperplanes").  :func:`run_grid` computes each hyperplane as one batched
block call, ``Σ (L_k - 1) + 1`` sequential steps instead of ``Π L_k``.  Each step only reads
the outputs of the step before, so gathers are small and backward stays linear in the grid
size.  Index tables are computed once per grid shape and cached (:func:`schedule`).

Boundary and exit tensors of axis ``k`` are ``[F_k, B, n]``: the ``F_k = Π_{a≠k} L_a`` cells
of the face, in C order over the remaining axes, for a batch of ``B`` grids.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

Shape = Tuple[int, ...]


def face_index(coords: Sequence[int], shape: Shape, axis: int) -> int:
    """Flat C-order index of a cell on the face orthogonal to ``axis``."""
    idx = 0
    for a, (c, size) in enumerate(zip(coords, shape)):
        if a != axis:
            idx = idx * size + c
    return idx


@dataclass
class AxisGather:
    """How one step collects side ``k``'s incoming vectors (indices are int64 tensors)."""

    boundary_rows: Optional[Tensor]  # face indices of cells on the near face, or None
    order: Optional[Tensor]  # positions in cat([previous outputs, boundary rows]); None = identity
    all_boundary: bool


@dataclass
class Step:
    coords: Tensor  # [N_t, ndim]
    gathers: List[AxisGather]  # one per axis
    groups: List[Tuple[int, int, int]]  # (block index, start row, end row)
    exit_rows: List[Optional[Tensor]]  # per axis: rows of this step on the far face


@dataclass
class Schedule:
    shape: Shape
    steps: List[Step]
    exit_order: List[Tensor]  # per axis: permutation putting collected exit rows in face order

    @property
    def num_steps(self) -> int:
        return len(self.steps)


@functools.lru_cache(maxsize=512)
def schedule(shape: Shape, block_axis: Optional[int] = None) -> Schedule:
    """Hyperplane schedule of a grid.  Cells within a step are sorted by their coordinate
    along ``block_axis`` (when blocks differ along it) so each block sees a contiguous slice."""
    ndim = len(shape)
    if any(s < 1 for s in shape):
        raise ValueError(f"grid shape must be positive, got {shape}")
    by_sum: List[List[Tuple[int, ...]]] = [[] for _ in range(sum(shape) - ndim + 1)]
    for c in itertools.product(*(range(s) for s in shape)):
        by_sum[sum(c)].append(c)
    steps: List[Step] = []
    exits_collected: List[List[int]] = [[] for _ in range(ndim)]
    prev_pos: dict = {}
    for cells in by_sum:
        if block_axis is not None:
            cells.sort(key=lambda c: (c[block_axis], c))
        pos = {c: r for r, c in enumerate(cells)}
        n_prev = len(prev_pos)
        gathers = []
        for k in range(ndim):
            boundary = [face_index(c, shape, k) for c in cells if c[k] == 0]
            order, b = [], 0
            for c in cells:
                if c[k] == 0:
                    order.append(n_prev + b)
                    b += 1
                else:
                    pred = c[:k] + (c[k] - 1,) + c[k + 1 :]
                    order.append(prev_pos[pred])
            all_boundary = len(boundary) == len(cells)
            identity = order == list(range(n_prev + len(boundary)))
            gathers.append(
                AxisGather(
                    boundary_rows=torch.tensor(boundary, dtype=torch.long) if boundary else None,
                    order=None if identity or all_boundary else torch.tensor(order, dtype=torch.long),
                    all_boundary=all_boundary,
                )
            )
        groups = []
        if block_axis is None:
            groups.append((0, 0, len(cells)))
        else:
            for blk, grp in itertools.groupby(range(len(cells)), key=lambda r: cells[r][block_axis]):
                rows = list(grp)
                groups.append((blk, rows[0], rows[-1] + 1))
        exit_rows: List[Optional[Tensor]] = []
        for k in range(ndim):
            rows = [r for r, c in enumerate(cells) if c[k] == shape[k] - 1]
            exits_collected[k].extend(face_index(cells[r], shape, k) for r in rows)
            exit_rows.append(torch.tensor(rows, dtype=torch.long) if rows else None)
        steps.append(Step(torch.tensor(cells, dtype=torch.long), gathers, groups, exit_rows))
        prev_pos = pos
    exit_order = [torch.argsort(torch.tensor(face, dtype=torch.long)) for face in exits_collected]
    return Schedule(tuple(shape), steps, exit_order)


Observer = Callable[[Tensor, List[Tensor], List[Tensor], List[Tensor]], None]


@dataclass
class OuterSum:
    """A boundary face given as a sum of vectors along the face's own axes:
    ``face[c] = Σ_a parts[a][c_a]`` over the axes ``a ≠ k`` (in order), each part ``[L_a, B, n]``.
    The Reencoder's depth input ``x_ij = s_i + t_j`` is one: the fused wavefront then applies
    the input weights to ``S + T`` vectors instead of ``S·T`` (the transforms are linear in
    it), and other runners use :meth:`face`."""

    parts: List[Tensor]

    def face(self) -> Tensor:
        """The face ``[F, B, n]`` in C order over the face's axes."""
        lengths = [p.shape[0] for p in self.parts]
        B, n = self.parts[0].shape[1:]
        total = None
        for a, part in enumerate(self.parts):
            view = [1] * len(lengths) + [B, n]
            view[a] = lengths[a]
            total = part.view(view) if total is None else total + part.view(view)
        return total.expand(*lengths, B, n).reshape(-1, B, n)


def materialize(boundary: Sequence) -> List[Optional[Tensor]]:
    """Boundary tensors with every :class:`OuterSum` turned into its face."""
    return [b.face() if isinstance(b, OuterSum) else b for b in boundary]


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
) -> Tuple[List[Tensor], List[Tensor]]:
    """Run a grid of blocks hyperplane by hyperplane.

    Args:
        blocks: one :class:`GridLSTMBlock` (weights shared by every cell) or one per coordinate
            along ``block_axis``.
        shape: grid shape ``(L_0, ..., L_{N-1})``.
        boundary_h, boundary_m: per axis, ``[F_k, B, n]`` incoming vectors of the near face, or
            ``None`` for zeros (hidden vectors may be an :class:`OuterSum`).  At least one ``boundary_h`` must be a tensor (it fixes B, n,
            dtype and device).
        dropout: per axis, dropout probability on hidden vectors passed along that axis
            (applied in training mode only).
        observer: called per step as ``observer(coords, hs_in, hs_out, ms_out)`` with the
            cells' coordinates and ``[N_t, B, n]`` tensors, for inspection.
    Returns:
        (exit_h, exit_m): per axis, ``[F_k, B, n]`` outgoing vectors of the far face.
    """
    ndim = len(shape)
    boundary_h = materialize(boundary_h)
    template = next(t for t in boundary_h if t is not None)
    B, n = template.shape[1], template.shape[2]
    sched = schedule(tuple(shape), block_axis if len(blocks) > 1 else None)
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
                H[start:end].reshape(rows * B, ndim * n), [m[start:end].reshape(rows * B, n) for m in ms]
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
