"""The hyperplane schedule of an N-dimensional grid of Grid LSTM blocks, and its types.

A grid of shape ``(L_0, ..., L_{N-1})`` holds one block per cell ``c``.  Side ``k`` of cell
``c`` receives the side-``k`` output of cell ``c - e_k`` (its predecessor along axis ``k``),
or, on the grid's near face (``c_k = 0``), a *boundary* vector supplied by the caller: the
input embedding along the depth axis, the previous row's states along the target axis of the
Reencoder, zeros along the source axis.  The side-``k`` outputs of the far face
(``c_k = L_k - 1``) leave the grid as *exits*.

Every predecessor of a cell with coordinate sum ``t`` has sum ``t - 1``, so all cells of one
hyperplane ``Σ c = t`` are independent (paper §4: "the blocks ... can be computed in parallel
along the hyperplanes").  :func:`schedule` lists the hyperplanes, ``Σ (L_k - 1) + 1``
sequential steps instead of ``Π L_k``, with the index tables a runner needs to gather each
step's inputs from the step before; it is computed once per grid shape and cached.  Both
runners use it: :func:`reencoder.grid.wavefront.run_grid` (through autograd) and
:func:`reencoder.grid.fused_wavefront.run_grid_fused` (hand-written backward, via
:mod:`reencoder.grid.fused_memory`).

Boundary and exit tensors of axis ``k`` are ``[F_k, B, n]``: the ``F_k = Π_{a≠k} L_a`` cells
of the face, in C order over the remaining axes (:func:`face_index`), for a batch of ``B``
grids.  A boundary may also be an :class:`OuterSum` of per-axis parts.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import torch
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
