"""Slot layout of the fused wavefront (:mod:`reencoder.grid.fused_wavefront`), cached per grid shape.

The fused pass keeps one buffer of hidden and one of memory vectors as *rows* of ``n`` values.
A slot is the ``[B, n]`` vector of one side of one cell (or of one boundary position): first
the near face of every axis (its boundary, in face order), then the outputs of every cell *in
the order they are computed*: hyperplane by hyperplane, block group by block group.  Boundary
slots are stored slot-major (row ``s B + b``, so a face is its ``[F_k, B, n]`` tensor); a group's
outputs are stored ``[cells, B, N, n]`` (cell, batch row, side), which is exactly the
``[R, N, n]`` layout its gate math writes and its priority GEMM reads (``R = cells * B``).  So a
group writes its outputs into one contiguous slice, and reads its inputs with one row gather
that yields ``H = [h_1; ...; h_N]`` of eq. 4 as ``[R, N * n]`` directly.  Every slot is written
once.  :meth:`FusedPlan.rows` maps slots to rows.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor

from .schedule import Shape, face_index, schedule


@dataclass
class FusedGroup:
    """Cells of one step computed by one block with one GEMM per transform."""

    block: int
    cells: int
    base: int  # its outputs are slots [base, base + N * cells): slot base + c N + k is side k of cell c
    in_slots: Tensor  # [cells, N]: the slot side k of cell c reads
    part_idx: Optional[List[Tensor]] = None  # cells on the additive face: their face coordinates


@dataclass
class FusedPlan:
    shape: Shape
    size: int  # number of slots
    boundary: List[Tuple[int, int]]  # per axis: the slot range of its near face (face order)
    exits: List[Tensor]  # per axis, [F_k]: the output slots of its far face, in face order
    steps: List[Tuple[Tensor, List[FusedGroup]]]  # (coords, groups) per hyperplane
    # row of slot s, batch row b: first[s] * B + side[s] + stride[s] * b (boundary: s B + b;
    # side k of cell c of a group: (base + c N) B + k + N b)
    first: Tensor
    side: Tensor
    stride: Tensor

    def rows(self, slots: Tensor, B: int) -> Tensor:
        """The buffer rows of ``slots`` (any shape) for batch size ``B``: shape ``[..., B]``."""
        base = (self.first[slots] * B + self.side[slots]).unsqueeze(-1)
        return base + self.stride[slots].unsqueeze(-1) * torch.arange(B)

    def in_rows(self, g: FusedGroup, B: int) -> Tensor:
        """``[R * N]``: the rows a group's gather reads, ordered (cell, batch row, side)."""
        return self.rows(g.in_slots, B).transpose(1, 2).reshape(-1)

    @property
    def groups(self) -> List[FusedGroup]:
        return [g for _, groups in self.steps for g in groups]


@dataclass
class _Run:
    """Cells ``c0 .. c1 - 1`` of one schedule step, computed by one block in one GEMM."""

    block: int
    c0: int
    c1: int
    additive: bool  # on the additive face


def _runs(step, block_axis: Optional[int], shared: bool, additive_axis: Optional[int]) -> List[_Run]:
    """The runs of one schedule step, adjacent runs of the same block merged (a shared block
    computes all depths of a step in one GEMM)."""
    runs: List[_Run] = []
    for coord, c0, c1 in step.groups:
        block = 0 if shared or block_axis is None else coord
        additive = additive_axis is not None and coord == 0
        if runs and runs[-1].block == block and not additive and not runs[-1].additive:
            runs[-1].c1 = c1
        else:
            runs.append(_Run(block, c0, c1, additive))
    return runs


@functools.lru_cache(maxsize=512)
def fused_plan(shape: Shape, block_axis: Optional[int], shared: bool = False,
               additive_axis: Optional[int] = None) -> FusedPlan:
    """The slot layout of a grid.

    Args:
        block_axis: cells of a step are sorted along it; one block per coordinate unless
            ``shared`` (one block for all).
        additive_axis: the axis whose boundary is an :class:`~reencoder.grid.schedule.OuterSum`
            (must equal ``block_axis``): its near-face cells get groups of their own, which
            carry their face coordinates (``part_idx``).
    """
    if additive_axis is not None and additive_axis != block_axis:
        raise ValueError("an additive boundary needs its axis as the block axis")
    sched = schedule(shape, block_axis)
    ndim = len(shape)
    boundary, off = [], 0
    for k in range(ndim):
        face = math.prod(s for a, s in enumerate(shape) if a != k)
        boundary.append((off, off + face))
        off += face
    first, side, stride = list(range(off)), [0] * off, [1] * off
    out_slot: Dict[Tuple[Tuple[int, ...], int], int] = {}
    exits: List[List[int]] = [[0] * (b - a) for a, b in boundary]
    steps = []
    for st in sched.steps:
        cells = [tuple(c) for c in st.coords.tolist()]
        groups = []
        for run in _runs(st, block_axis, shared, additive_axis):
            blk, c0, c1, additive = run.block, run.c0, run.c1, run.additive
            count = c1 - c0
            ins = []
            for c in cells[c0:c1]:
                for k in range(ndim):
                    if c[k] == 0:
                        ins.append(boundary[k][0] + face_index(c, shape, k))
                    else:
                        ins.append(out_slot[(c[:k] + (c[k] - 1,) + c[k + 1 :], k)])
            for r, c in enumerate(cells[c0:c1]):
                for k in range(ndim):
                    slot = off + r * ndim + k
                    out_slot[(c, k)] = slot
                    first.append(off + r * ndim)
                    side.append(k)
                    stride.append(ndim)
                    if c[k] == shape[k] - 1:
                        exits[k][face_index(c, shape, k)] = slot
            part_idx = None
            if additive:
                part_idx = [torch.tensor([c[a] for c in cells[c0:c1]], dtype=torch.long)
                            for a in range(ndim) if a != additive_axis]
            groups.append(FusedGroup(blk, count, off, torch.tensor(ins, dtype=torch.long).view(count, ndim), part_idx))
            off += ndim * count
        steps.append((st.coords, groups))
    long = lambda v: torch.tensor(v, dtype=torch.long)  # noqa: E731
    return FusedPlan(tuple(shape), off, boundary, [long(e) for e in exits], steps, long(first), long(side), long(stride))
