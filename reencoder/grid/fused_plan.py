"""Slot layout of the fused wavefront (:mod:`reencoder.grid.fused_wavefront`), cached per grid shape.

The fused pass keeps one buffer of hidden and one of memory vectors, ``[slots, B, n]``: first
the near face of every axis (its boundary, in face order), then the outputs of every cell *in
the order they are computed*: hyperplane by hyperplane, block group by block group, and inside
a group axis-major (all side-0 outputs of its cells, then all side-1 outputs, ...).  So a group
writes its outputs into one contiguous slice, and reads its inputs with one gather of the
slots its cells' predecessors wrote (or of boundary slots).  Every slot is written once.
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
    base: int  # its outputs are slots [base, base + N * cells), axis-major
    in_slots: Tensor  # [N * cells], axis-major: the slot each side of each cell reads
    part_idx: Optional[List[Tensor]] = None  # cells on the additive face: their face coordinates


@dataclass
class FusedPlan:
    shape: Shape
    size: int  # number of slots
    boundary: List[Tuple[int, int]]  # per axis: the slot range of its near face (face order)
    exits: List[Tensor]  # per axis, [F_k]: the output slots of its far face, in face order
    steps: List[Tuple[Tensor, List[FusedGroup]]]  # (coords, groups) per hyperplane

    @property
    def groups(self) -> List[FusedGroup]:
        return [g for _, groups in self.steps for g in groups]


def _runs(step, block_axis: Optional[int], shared: bool, additive_axis: Optional[int]):
    """``(block, first cell, end cell, additive)`` runs of one schedule step, adjacent runs of
    the same block merged (a shared block computes all depths of a step in one GEMM)."""
    runs: List[List] = []
    for coord, c0, c1 in step.groups:
        block = 0 if shared or block_axis is None else coord
        additive = additive_axis is not None and coord == 0
        if runs and runs[-1][0] == block and not additive and not runs[-1][3]:
            runs[-1][2] = c1
        else:
            runs.append([block, c0, c1, additive])
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
    out_slot: Dict[Tuple[Tuple[int, ...], int], int] = {}
    exits: List[List[int]] = [[0] * (b - a) for a, b in boundary]
    steps = []
    for st in sched.steps:
        cells = [tuple(c) for c in st.coords.tolist()]
        groups = []
        for blk, c0, c1, additive in _runs(st, block_axis, shared, additive_axis):
            count = c1 - c0
            ins = []
            for k in range(ndim):
                for c in cells[c0:c1]:
                    if c[k] == 0:
                        ins.append(boundary[k][0] + face_index(c, shape, k))
                    else:
                        ins.append(out_slot[(c[:k] + (c[k] - 1,) + c[k + 1 :], k)])
            for k in range(ndim):
                for r, c in enumerate(cells[c0:c1]):
                    out_slot[(c, k)] = off + k * count + r
                    if c[k] == shape[k] - 1:
                        exits[k][face_index(c, shape, k)] = off + k * count + r
            part_idx = None
            if additive:
                part_idx = [torch.tensor([c[a] for c in cells[c0:c1]], dtype=torch.long)
                            for a in range(ndim) if a != additive_axis]
            groups.append(FusedGroup(blk, count, off, torch.tensor(ins, dtype=torch.long), part_idx))
            off += ndim * count
        steps.append((st.coords, groups))
    return FusedPlan(tuple(shape), off, boundary, [torch.tensor(e, dtype=torch.long) for e in exits], steps)
