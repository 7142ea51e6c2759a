"""The additive input of the fused wavefront: a priority-axis boundary given as an
:class:`~reencoder.grid.schedule.OuterSum` (the Reencoder's depth input ``x_ij = s_i + t_j``).

The priority side's share of both transforms is linear in it, ``W_x x_ij = W_x s_i + W_x t_j``,
so :func:`project` computes it once for the ``S + T`` parts (the transform's bias added to the
first part's, so that the per-cell sum carries it once) and :func:`gather_parts` sums it per
cell into a group's pre-activations.  Backwards, :class:`AdditiveGrads` collects a block's
pre-activation gradients per part (:func:`scatter_parts`) and the gradients of the columns
that read ``h`` (``dcols``), and :meth:`AdditiveGrads.fold` turns them into the parts' and the
parameters' gradients with one GEMM per part: the depth-0 layer's GEMMs shrink by a third.
"""

from __future__ import annotations

from typing import Dict, List, NamedTuple, Sequence

import torch
from torch import Tensor

from . import gate_kernels
from .fused_plan import FusedGroup
from .fused_weights import BlockWeights, first_grads, mm_as, priority_grads


class Pair(NamedTuple):
    """One value per transform of a block: the first (non-priority) one, the priority one."""

    first: object
    prio: object


Projections = Dict[int, Pair]  # block -> (parts through W1's x columns, through Wp's), [L_a * B, rows] each


def project(weights: Sequence[BlockWeights], groups: Sequence[FusedGroup], parts: Sequence[Tensor], K: int,
            dtype: torch.dtype) -> Projections:
    """``W_x p + b`` for the first part and ``W_x p`` for the others (``p``: ``[L_a, B, n]`` ->
    ``[L_a * B, rows]``), per block that computes additive groups and per transform."""
    proj: Projections = {}
    for g in groups:
        if g.part_idx is None or g.block in proj:
            continue
        w = weights[g.block]
        cols, n = w.columns(K), parts[0].shape[-1]
        proj[g.block] = Pair(*([mm_as(p.reshape(-1, n), W.t(), dtype, parts[0].dtype) for p in parts]
                               for W in (cols.first_x, cols.prio_x)))
        for first, b in zip(proj[g.block], (w.b1, w.bp)):
            first[0].add_(b)
    return proj


def gather_parts(out: Tensor, projected: Sequence[Tensor], g: FusedGroup, kernels: str) -> Tensor:
    """``out[(c, b)] = Σ_a projected[a][c_a, b]``: the additive input's share of a transform."""
    flat = out.view(g.cells, -1)  # [R, W] -> [cells, B * W]: one row per cell (R = cells * B, cell-major)
    rows = [p.view(-1, flat.shape[1]) for p in projected]  # [L_a * B, W] -> [L_a, B * W]
    idx = [i.to(out.device) for i in g.part_idx]
    if kernels == "fused" and gate_kernels.rows_usable(flat, *rows):
        gate_kernels.gather_rows_sum(flat, rows, idx)
        return out
    torch.index_select(rows[0], 0, idx[0], out=flat)
    for p, i in zip(rows[1:], idx[1:]):
        flat.add_(p.index_select(0, i))
    return out


def scatter_parts(acc: Sequence[Tensor], dG: Tensor, g: FusedGroup, kernels: str) -> None:
    """``acc[a][c_a] += dG[c]``: the backward of :func:`gather_parts`."""
    rows = dG.view(g.cells, -1)  # [R, W] -> [cells, B * W]
    for a, i in zip(acc, g.part_idx):
        a = a.view(-1, rows.shape[1])
        if kernels == "fused" and gate_kernels.rows_usable(a, rows):
            gate_kernels.scatter_rows_add(a, i, rows)
        else:
            a.index_add_(0, i.to(dG.device), rows)


class AdditiveGrads:
    """Per block that computes additive groups: ``proj``, the gradients of its parts'
    projections (a :class:`Pair` of lists like :func:`project`'s), and ``cols``, those of the
    columns ``[:, :K]`` of its two matrices (one entry per block: built per group, they would be
    zero-filled once per hyperplane)."""

    def __init__(self, weights: Sequence[BlockWeights], groups: Sequence[FusedGroup], parts: Sequence[Tensor],
                 B: int, K: int, like: Tensor):
        zeros = lambda *shape: torch.zeros(*shape, dtype=like.dtype, device=like.device)  # noqa: E731
        blocks = sorted({g.block for g in groups if g.part_idx is not None})
        self.proj: Dict[int, Pair] = {b: Pair(*([zeros(p.shape[0] * B, W.shape[0]) for p in parts]
                                                 for W in (weights[b].W1, weights[b].Wp))) for b in blocks}
        self.cols: Dict[int, Pair] = {b: Pair(zeros(weights[b].W1.shape[0], K), zeros(weights[b].Wp.shape[0], K))
                                      for b in blocks}

    def fold(self, weights: Sequence[BlockWeights], dparams: Sequence[List[Tensor]], parts: Sequence[Tensor],
             K: int, dtype: torch.dtype) -> List[Tensor]:
        """Add the collected gradients to the blocks' ``dparams`` (in the GEMM row order) and
        return the parts' gradients: ``W_x x_ij = W_x s_i + W_x t_j``, backwards."""
        dparts = [p.new_zeros(p.shape) for p in parts]
        for b, (dP1, dP2) in self.proj.items():
            w, cols = weights[b], weights[b].columns(K)
            g1, gp = first_grads(dparams[b]), priority_grads(w, dparams[b])
            g1.weight[:, :K] += self.cols[b].first
            gp.weight[:, :K] += self.cols[b].prio
            g1.bias.add_(dP1[0].sum(0))  # the biases were added to part 0's projections
            gp.bias.add_(dP2[0].sum(0))
            for a, part in enumerate(parts):
                x = part.reshape(-1, part.shape[-1])  # [L_a, B, n] -> [L_a * B, n]
                dparts[a].view(-1, x.shape[1]).add_(mm_as(dP1[a], cols.first_x, dtype, x.dtype)).add_(
                    mm_as(dP2[a], cols.prio_x, dtype, x.dtype))
                g1.weight[:, K:] += mm_as(dP1[a].t(), x, dtype, x.dtype)
                gp.weight[:, K:] += mm_as(dP2[a].t(), x, dtype, x.dtype)
        return dparts
