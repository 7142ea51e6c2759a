"""One block group of the fused wavefront, forward and backward (paper eqs. 3-5, §3.5, §3.6).

A group is the cells of one hyperplane computed by one block (:class:`~reencoder.grid.fused_plan.FusedGroup`,
``R = cells * B`` rows).  :func:`forward_group` gathers ``H = [h_1; ...; h_N]`` (eq. 4) from the
slot buffers, runs the first transforms (one GEMM, the gates of eq. 3 in place), then the
priority transform on ``H' = [h'_1; ...; h'_F; h_p]`` (§3.5; an LSTM, or ``h' = α(V H')`` of
§3.6), and applies dropout; it writes the group's outputs into their slots and returns what
the backward needs (:class:`GroupActs`).  :func:`backward_group` walks the same steps in reverse
with the derivatives of eq. 3 in closed form, copying input gradients into their slots (each
slot has one reader).  :class:`FusedRun` is what every step of one call shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from .fused_additive import AdditiveGrads, Projections, gather_parts, scatter_parts
from .fused_plan import FusedGroup, FusedPlan
from .fused_weights import BlockWeights, acc_mm, linear_into, mm_as, priority_grads, split_block_params
from .gate_math import BufferRows, activation_backward, activation_forward, gates_backward, gates_forward
from .workspace import Scratch, Workspace


@dataclass(frozen=True, eq=False)
class FusedRun:
    """What every step of one :func:`~reencoder.grid.fused_wavefront.run_grid_fused` call shares."""

    blocks: Tuple[nn.Module, ...]
    plan: FusedPlan
    batch: int  # B
    n: int  # hidden size
    dtype: torch.dtype  # of the GEMM operands
    dropout: Tuple[float, ...]  # per axis, on the hidden vectors passed along it
    training: bool
    n_parts: int  # parts of the additive input (0: none)
    kernels: str  # "fused" C++ gate kernels where they apply, or "eager" torch ops
    workspace: Workspace

    @property
    def N(self) -> int:
        return len(self.plan.shape)

    @property
    def K(self) -> int:
        """Columns of ``H`` that are not the priority side's."""
        return (self.N - 1) * self.n

    @property
    def drop(self) -> List[float]:
        """The dropout probabilities in effect (none outside training)."""
        return [p if self.training and p > 0 else 0.0 for p in self.dropout]

    def weights(self, flat: Sequence[Tensor]) -> List[BlockWeights]:
        return [BlockWeights(blk.layout, ps, self.dtype) for blk, ps in zip(self.blocks, split_block_params(self.blocks, flat))]

    def out_rows(self, buf: Tensor, g: FusedGroup) -> Tensor:
        """The group's own output slots of a ``[slots * B, n]`` buffer as ``[R, N, n]`` (a view)."""
        B, N = self.batch, self.N
        return buf[g.base * B : (g.base + N * g.cells) * B].view(B * g.cells, N, self.n)


class Slots(NamedTuple):
    """The hidden and memory slot buffers, ``[slots * B, n]`` each (or their gradients)."""

    H: Tensor
    M: Tensor


class GroupActs(NamedTuple):
    """What :func:`forward_group` saves for the backward of one group."""

    G1: Tensor  # [R, 4gn] first transforms' gate activations (gate-major)
    T1: Tensor  # [R, F, n] tanh(m') or h' (gate-then-tanh cell) of the first transforms
    G2: Optional[Tensor]  # priority transform: [R, 4n] gate activations, or [R, n] h' of §3.6
    T2: Optional[Tensor]  # [R, 1, n] its T (LSTM), else None
    keep: List[Optional[Tensor]]  # per axis: the [R, n] dropout mask (scaled), or None
    rows: Tensor  # [R * N] the input rows, (cell, batch row, side)
    rows_h: Tensor  # the rows H is gathered from (additive: without the priority side)


Arena = Callable[[int, int], Tensor]  # (R, width) -> the next [R, width] of the activations buffer


def forward_group(run: FusedRun, g: FusedGroup, w: BlockWeights, proj: Projections, slots: Slots,
                  arena: Arena, scratch: Scratch) -> GroupActs:
    """Compute one group's cells in place in ``slots`` (see the module docstring)."""
    N, n, R, F_ = run.N, run.n, run.batch * g.cells, w.F
    rows = run.plan.in_rows(g, run.batch).to(slots.H.device)  # [R * N]: (cell, batch row, side)
    # additive: the priority side's input is the OuterSum, so H' columns K: are never read
    rows_h = rows.view(R, N)[:, :F_].reshape(-1) if g.part_idx is not None else rows
    # H of eq. 4, [R, N * n] (additive: its first K columns)
    H = torch.index_select(slots.H, 0, rows_h, out=scratch("H", rows_h.numel(), n)).view(R, -1)
    m_in = BufferRows(slots.M, rows, N)  # m of every side, read by the gate math where it lies
    h_out, m_out = run.out_rows(slots.H, g), run.out_rows(slots.M, g)  # [R, N, n], written in place
    G1, T1 = arena(R, w.W1.shape[0]), arena(R, F_ * n).view(R, F_, n)  # [R, 4gn] gates, [R, F, n]
    if g.part_idx is None:
        linear_into(G1, H, w.W1, w.b1)
    else:
        linear_into(gather_parts(G1, proj[g.block].first, g, run.kernels), H[:, : run.K], w.columns(run.K).first_h)
    gates_forward(G1, m_in.sides(0, F_), w.cell, h_out[:, :F_], m_out[:, :F_], T1, run.kernels)
    G2 = T2 = None
    if w.prio:
        G2 = arena(R, w.Wp.shape[0])
        T2 = None if w.prio_act else arena(R, n).view(R, 1, n)
        _priority_forward(run, g, w, proj, H, m_in, h_out, m_out, G2, T2)
    return GroupActs(G1, T1, G2, T2, _dropout(run, h_out), rows, rows_h)


def _priority_forward(run: FusedRun, g: FusedGroup, w: BlockWeights, proj: Projections, H: Tensor,
                      m_in: BufferRows, h_out: Tensor, m_out: Tensor, G2: Tensor, T2: Optional[Tensor]) -> None:
    """The priority transform's ``[R, 4n]`` gates (or ``[R, n]`` activation, §3.6) on
    ``H' = [h'_1; ...; h'_F; h_p]`` (§3.5): the ``h'`` are the group's own outputs, ``[R, K]`` in place."""
    R, F_, K = G2.shape[0], w.F, run.K
    h_first = h_out.view(R, -1)[:, :K]
    cols = w.columns(K)
    if g.part_idx is None:
        linear_into(G2, h_first, cols.prio_h, w.bp)
        linear_into(G2, H[:, K:], cols.prio_x)
    else:
        linear_into(gather_parts(G2, proj[g.block].prio, g, run.kernels), h_first, cols.prio_h)
    if w.prio_act:  # h' = α(V H'), no memory: its m' slot holds zeros
        h_out[:, F_] = activation_forward(G2, w.prio_act)
        m_out[:, F_] = 0.0
    else:
        gates_forward(G2, m_in.sides(F_, 1), w.cell, h_out[:, F_:], m_out[:, F_:], T2, run.kernels)


def _dropout(run: FusedRun, h_out: Tensor) -> List[Optional[Tensor]]:
    """Dropout on the group's outgoing hidden vectors, in place: the scaled masks, per axis."""
    keep: List[Optional[Tensor]] = [None] * run.N
    for k, p in enumerate(run.drop):
        if p > 0:
            keep[k] = torch.empty(h_out.shape[0], run.n, dtype=h_out.dtype, device=h_out.device).bernoulli_(1 - p).div_(1 - p)
            h_out[:, k].mul_(keep[k])
    return keep


@dataclass
class BackwardState:
    """What the backward of every group shares besides :class:`FusedRun`: the saved slots, the
    gradient slots, the parameter gradients per block (``dparams``, first transforms in GEMM
    row order), the additive input's collected gradients and the scratch buffers."""

    slots: Slots
    grads: Slots
    weights: List[BlockWeights]
    dparams: List[List[Tensor]]
    additive: AdditiveGrads
    scratch: Scratch


def backward_group(run: FusedRun, g: FusedGroup, a: GroupActs, st: BackwardState) -> None:
    """The backward of :func:`forward_group`: from the gradients of the group's output slots,
    those of its input slots (copied: one reader each) and of the parameters (accumulated)."""
    w, R, F_, N, n = st.weights[g.block], run.batch * g.cells, st.weights[g.block].F, run.N, run.n
    # gradients of the group's outputs, [R, N, n] like h_out in forward (each read only here)
    dh, dm = run.out_rows(st.grads.H, g), run.out_rows(st.grads.M, g)
    for k, mask in enumerate(a.keep):
        if mask is not None:
            dh[:, k].mul_(mask)
    H = torch.index_select(st.slots.H, 0, a.rows_h, out=st.scratch("H", a.rows_h.numel(), n)).view(R, -1)  # eq. 4
    # m of every side and its gradient, read and written where they lie (one writer per row)
    m_in, dm_in = BufferRows(st.slots.M, a.rows, N), BufferRows(st.grads.M, a.rows, N)
    m_out = run.out_rows(st.slots.M, g)
    dG2 = low2 = None
    if w.prio:  # the priority transform came last, so its backward comes first
        if w.prio_act:  # G2 holds h' = α(V H'); no memory, so no gradient into m_p
            dG2 = activation_backward(a.G2, dh[:, F_], w.prio_act)
            dm_in.sides(F_, 1).fill_(0.0)
        else:
            dG2 = gates_backward(a.G2, a.T2, m_in.sides(F_, 1), m_out[:, F_:], dh[:, F_:], dm[:, F_:], w.cell,
                                 dm_in.sides(F_, 1), st.scratch("dG2", R, a.G2.shape[1]), run.kernels)
        low2 = dG2.to(run.dtype)  # the GEMMs' operand, cast once for all of them
        _priority_weight_grads(run, g, st, dh, H, dG2, low2)
    dG1 = gates_backward(a.G1, a.T1, m_in.sides(0, F_), m_out[:, :F_], dh[:, :F_], dm[:, :F_], w.cell,
                         dm_in.sides(0, F_), st.scratch("dG1", R, a.G1.shape[1]), run.kernels)
    dx = _first_grads(run, g, st, H, dG1, low2)
    st.grads.H.index_copy_(0, a.rows_h, dx.view(-1, n))  # back to the input rows, one writer per row


def _priority_weight_grads(run: FusedRun, g: FusedGroup, st: BackwardState, dh: Tensor, H: Tensor,
                           dG2: Tensor, low2: Tensor) -> None:
    """From the priority pre-activations' gradient ``dG2`` (``low2``: it in the GEMM dtype):
    ``dh'_1..F += dG2 Wp[:, :K]`` (the GEMM accumulates into the ``[R, K]`` view in place) and the
    priority matrix's gradient (or, additive, what
    :class:`~reencoder.grid.fused_additive.AdditiveGrads` folds later)."""
    w, K, dtype = st.weights[g.block], run.K, run.dtype
    R = dG2.shape[0]
    h_first = run.out_rows(st.slots.H, g).view(R, -1)[:, :K]  # the updated h'_1..h'_F, [R, K]
    acc_mm(dh.view(R, -1)[:, :K], low2, w.columns(K).prio_h, dtype)
    if g.part_idx is not None:  # the bias is in part 0's projection: its gradient is summed there
        acc_mm(st.additive.cols[g.block].prio, low2.t(), h_first, dtype)
        scatter_parts(st.additive.proj[g.block].prio, dG2, g, run.kernels)
    else:
        gp = priority_grads(w, st.dparams[g.block])
        gp.bias.add_(dG2.sum(0))
        acc_mm(gp.weight[:, :K], low2.t(), h_first, dtype)
        acc_mm(gp.weight[:, K:], low2.t(), H[:, K:], dtype)


def _first_grads(run: FusedRun, g: FusedGroup, st: BackwardState, H: Tensor, dG1: Tensor,
                 low2: Optional[Tensor]) -> Tensor:
    """From the first transforms' pre-activation gradient ``dG1``: their matrix's gradient and
    ``dx``, the gradient of the gathered ``H`` (with ``h_p``'s share from the priority
    transform, whose gradient ``low2`` comes in the GEMM dtype; additive: only the first ``K``
    columns, the OuterSum's rows are never read).  ``dG1`` is cast to the GEMM dtype once."""
    w, dp, K, dtype, R = st.weights[g.block], st.dparams[g.block], run.K, run.dtype, dG1.shape[0]
    fdt = st.slots.H.dtype
    low1 = dG1.to(dtype)
    if g.part_idx is not None:
        dx = mm_as(low1, w.columns(K).first_h, dtype, fdt, st.scratch("dx", R, K))  # [R, 4gn] @ [4gn, K] -> [R, K]
        acc_mm(st.additive.cols[g.block].first, low1.t(), H, dtype)
        scatter_parts(st.additive.proj[g.block].first, dG1, g, run.kernels)
        return dx
    dp[1].add_(dG1.sum(0))
    dx = mm_as(low1, w.W1, dtype, fdt, st.scratch("dx", R, run.N * run.n))  # [R, 4gn] @ [4gn, N n] -> [R, N n]
    acc_mm(dp[0], low1.t(), H, dtype)
    if low2 is not None:  # h_p's gradient from the priority transform
        acc_mm(dx[:, K:], low2, w.columns(K).prio_x, dtype)
    return dx
