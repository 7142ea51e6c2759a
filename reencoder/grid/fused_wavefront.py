"""The fused wavefront: a grid's hyperplanes (paper §4) as one :class:`torch.autograd.Function`
with a hand-written backward, the runner of the models' grids (LSTM, tanh or relu depth).

:func:`reencoder.grid.wavefront.run_grid` computes the same function through autograd, where
every gather, concatenation and gate of every step becomes graph nodes (and the backward of
each ``index_select`` zero-fills a full-size gradient).  Here every hidden and memory vector of
the grid has one *slot* in two buffers (:mod:`reencoder.grid.fused_memory`), outputs in the
order they are computed, so a block writes its outputs in place into one contiguous slice and
reads its inputs with one gather; the buffers are also the saved activations.

Shapes: ``N`` grid axes (= block sides), ``B`` batch, ``n`` hidden size; a *group* is the cells
of one hyperplane that one block computes, ``R = cells * B`` rows of its GEMMs; ``F`` first
(non-priority) dimensions, ``g`` their gate sets (``F``, or 1 with shared dims, §3.4),
``K = (N - 1) n`` the columns of ``H`` that are not the priority side's::

    forward(boundary h_k, m_k: [F_k, B, n] per axis; parts s, t: [L, B, n]; block parameters)
      hbuf, mbuf = [slots * B, n]                 every h and m of the grid, each written once
      hbuf, mbuf[near face k] = h_k, m_k          (zeros where not given)
      P1, P2 = part W1_xᵀ, part Wp_xᵀ per part    the additive input x_ij = s_i + t_j, [L * B, 4gn]
                                                  and [L * B, 4n], once (+ b1, bp on the first part)
      for each hyperplane, for each group:
        H  = hbuf[in_lines]                       eq. 4, [R, N n]
        G1 = H W1ᵀ + b1                           [R, 4gn] gate-major (additive: H[:, :K] W1_hᵀ + P1_s[i] + P1_t[j])
        h'_k, m'_k = LSTM(G1, mbuf[in_lines])     eq. 3, k < F, into the group's own slots
        G2 = [h'_1 .. h'_F; h_p] Wpᵀ + bp         §3.5, [R, 4n] (§3.6: [R, n]; additive: h_p W_pxᵀ = P2_s[i] + P2_t[j])
        h'_p, m'_p = LSTM(G2, m_p)                (§3.6: α(G2), 0)
        h'_k *= dropout mask_k
      return hbuf, mbuf[far face k]               [F_k, B, n] per axis
    backward(gradients of the exits)
      dhbuf, dmbuf = [slots * B, n]               the exits' gradients in their slots
      for each hyperplane in reverse, for each group:
        dG2 = LSTM'(...); dh'_1..F += dG2 Wp_h; dWp += dG2ᵀ H'
        dG1 = LSTM'(...); dH = dG1 W1 (+ dG2 Wp_x on h_p); dW1 += dG1ᵀ H
        dhbuf[in_lines] = dH; dmbuf[in_lines] = dm_in copied: every slot has one reader
      d parts, dW1_x, dWp_x from the additive groups' dG1, dG2 summed per part

The gate math of eq. 3 and its closed-form derivatives are :mod:`reencoder.grid.gate_math`
(``kernels="cpp"``: the C++ kernels, ``"torch"``: torch ops).  ``compute_dtype`` is the dtype
of the GEMM operands (bf16 GEMMs, chosen by the model: ``--grid-bf16``); states and gate math
stay in the boundary dtype.  See ``recipes/RESULTS.md``, "Performance", for what each buys.

Supported: LSTM dimensions, except that the priority dimension may be a non-LSTM transform
(§3.6, ``h' = α(V H')``); priority dimension last or none, shared dims (§3.4) or not,
standard or gate-then-tanh cell, dropout on the priority axis (or, without priority, on any
axis).  :func:`fused_supported` says whether blocks qualify; ``run_grid`` runs the others, and
every grid with an observer (this runner has no observer hook).
"""

from __future__ import annotations

import weakref
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from . import gate_kernels
from .fused_memory import (
    WORKSPACE,
    BlockWeights,
    Group,
    Scratch,
    SlotPlan,
    Workspace,
    acc_mm,
    gather_parts,
    linear_cast_into,
    mm_as,
    project_parts,
    scatter_parts,
    slot_plan,
)
from .gate_math import BufferLines, activation_backward, activation_forward, gates_backward, gates_forward
from .schedule import OuterSum, Shape

Slots = Tuple[Tensor, Tensor]  # the hidden and memory slot buffers (or their gradients), [slots * B, n] each


def run_grid_fused(
    blocks: nn.ModuleList,
    shape: Shape,
    boundary_h: Sequence,
    boundary_m: Sequence[Optional[Tensor]],
    block_axis: Optional[int] = None,
    dropout: Optional[Sequence[float]] = None,
    compute_dtype: Optional[torch.dtype] = None,
    kernels: str = "cpp",
    workspace: Workspace = WORKSPACE,
) -> Tuple[List[Tensor], List[Tensor]]:
    """:func:`reencoder.grid.wavefront.run_grid` with the hand-written backward (same grid
    arguments and results; no observer: observed grids run through ``run_grid``).

    ``compute_dtype`` is the dtype of the GEMM operands (default: that of the boundary
    tensors); states and gate math stay in the boundary dtype.  ``kernels``: ``"cpp"`` runs
    the C++ gate and row kernels where they apply, ``"torch"`` the torch ops they replace.
    ``workspace`` lends the large buffers (a ``Workspace(keep=0)`` allocates them afresh).
    An :class:`~reencoder.grid.schedule.OuterSum` boundary on the priority axis, with one
    block per coordinate of it or a shared block, takes the additive path; any other is
    materialised."""
    if not fused_supported(blocks, dropout):
        raise ValueError("run_grid_fused supports LSTM dimensions with the priority dimension last or none")
    if kernels not in gate_kernels.CHOICES:
        raise ValueError(f"kernels must be one of {gate_kernels.CHOICES}, got {kernels!r}")
    N = len(shape)
    bh, parts = _additive_split(blocks, boundary_h, block_axis)
    template = next(t for t in bh + parts if t is not None)
    shared, additive = len(blocks) == 1, (N - 1 if parts else None)
    plan = slot_plan(tuple(shape), block_axis if not shared or additive is not None else None, shared, additive)
    run = FusedRun(blocks, plan, template.shape[1], template.shape[2], compute_dtype or template.dtype,
                   tuple(dropout or [0.0] * N), blocks.training, len(parts), kernels, workspace)
    outs = _FusedGrid.apply(run, *bh, *boundary_m, *parts, *[p for blk in blocks for p in blk.params()])
    return list(outs[:N]), list(outs[N:])


def fused_supported(blocks: Sequence[nn.Module], dropout: Optional[Sequence[float]]) -> bool:
    """Whether :func:`run_grid_fused` implements these blocks (see the module docstring)."""
    for blk in blocks:
        layout = blk.layout
        N = layout.num_dims
        if layout.priority_dim not in (None, N - 1):
            return False
        if any(not t.lstm for t in layout.first):
            return False  # only the priority dimension may be non-LSTM (§3.6)
        if dropout is not None and layout.priority_dim is not None and any(dropout[:-1]):
            return False
    return True


def _additive_split(blocks: Sequence[nn.Module], boundary_h: Sequence, block_axis: Optional[int]):
    """The hidden boundary with every :class:`~reencoder.grid.schedule.OuterSum` materialised
    except one on the last (priority) axis that can take the additive path, and its parts."""
    N = len(boundary_h)
    bh, parts = list(boundary_h), []
    for k, b in enumerate(bh):
        if isinstance(b, OuterSum):
            if not parts and k == N - 1 and block_axis == k and all(blk.priority_dim == k for blk in blocks):
                bh[k], parts = None, list(b.parts)
            else:
                bh[k] = b.face()
    return bh, parts


class FusedRun:
    """One call of :func:`run_grid_fused`: what the forward and backward of every group share,
    and ``scratch``, the temporaries of the pass in progress."""

    def __init__(self, blocks: Sequence[nn.Module], plan: SlotPlan, batch: int, n: int, dtype: torch.dtype,
                 dropout: Sequence[float], training: bool, n_parts: int, kernels: str, workspace: Workspace):
        self.blocks, self.plan, self.batch, self.n = tuple(blocks), plan, batch, n
        self.N = len(plan.shape)
        self.dtype = dtype  # of the GEMM operands
        self.drop = [p if training and p > 0 else 0.0 for p in dropout]  # per axis, in effect now
        self.n_parts = n_parts  # parts of the additive input (0: none)
        self.kernels, self.workspace = kernels, workspace
        self.scratch: Optional[Scratch] = None

    def per_block(self, flat: Sequence[Tensor]) -> List[List[Tensor]]:
        """``flat`` (every block's parameters in turn, or tensors shaped like them) cut per block."""
        out, i = [], 0
        for blk in self.blocks:
            k = len(blk.layout.param_names)
            out.append(list(flat[i : i + k]))
            i += k
        return out

    def weights(self, flat: Sequence[Tensor]) -> List[BlockWeights]:
        return [BlockWeights(blk.layout, ps, self.dtype) for blk, ps in zip(self.blocks, self.per_block(flat))]

    def own(self, buf: Tensor, g: Group) -> Tensor:
        """The group's own output slots of a ``[slots * B, n]`` buffer as ``[R, N, n]`` (a view)."""
        B, N = self.batch, self.N
        return buf[g.start * B : (g.start + N * g.cells) * B].view(B * g.cells, N, self.n)


class GroupActs(NamedTuple):
    """What the forward of one group saves for its backward."""

    G1: Tensor  # [R, 4gn] first transforms' gate activations (gate-major)
    T1: Tensor  # [R, F, n] tanh(m') or h' (gate-then-tanh cell) of the first transforms
    G2: Optional[Tensor]  # priority transform: [R, 4n] gate activations, or [R, n] h' of §3.6
    T2: Optional[Tensor]  # [R, 1, n] its T (LSTM), else None
    keep: List[Optional[Tensor]]  # per axis: the [R, n] dropout mask (scaled), or None
    lines: Tensor  # [R * N] the input lines, (cell, batch element, side)
    lines_h: Tensor  # the lines H is gathered from (additive: without the priority side)


class _FusedGrid(torch.autograd.Function):
    """``apply(run, *boundary_h, *boundary_m, *parts, *parameters)`` -> ``(*exit_h, *exit_m)``."""

    @staticmethod
    def forward(ctx, run: FusedRun, *tensors):
        N, P, B, n, plan, ws = run.N, run.n_parts, run.batch, run.n, run.plan, run.workspace
        bh, bm, parts, flat = tensors[:N], tensors[N : 2 * N], tensors[2 * N : 2 * N + P], tensors[2 * N + P :]
        like = next(t for t in bh + parts if t is not None)
        hbuf, mbuf = ws.take((plan.size * B, n), like), ws.take((plan.size * B, n), like)
        weights = run.weights(flat)
        acts_buf = ws.take((sum(B * g.cells * weights[g.block].acts_width for g in plan.groups),), like)
        for k, span in enumerate(plan.boundary):  # the near faces: the boundary, or zeros
            if not (P and k == N - 1):  # (the additive face's slots are never read: its groups gather the parts)
                _face(hbuf, span, B).copy_(0.0 if bh[k] is None else bh[k])
            _face(mbuf, span, B).copy_(0.0 if bm[k] is None else bm[k])
        acts = _forward_steps(run, weights, (hbuf, mbuf), parts, acts_buf)
        exit_lines = [plan.lines(e, B).view(-1).to(like.device) for e in plan.exits]  # [F_k * B] per axis
        exits = [buf.index_select(0, r).view(-1, B, n) for buf in (hbuf, mbuf) for r in exit_lines]
        ctx.run, ctx.acts, ctx.exit_lines = run, acts, exit_lines
        ctx.given = [t is not None for t in bh + bm]  # per boundary tensor: whether it gets a gradient
        ctx.save_for_backward(hbuf, mbuf, *parts, *flat)
        if any(ctx.needs_input_grad):  # reusable once autograd has dropped this node
            weakref.finalize(ctx, ws.give, hbuf, mbuf, acts_buf).atexit = False
        else:
            ws.give(hbuf, mbuf, acts_buf)
        return tuple(exits)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, *exit_grads):
        run, plan, B, N, n = ctx.run, ctx.run.plan, ctx.run.batch, ctx.run.N, ctx.run.n
        hbuf, mbuf, *rest = ctx.saved_tensors
        parts, flat = rest[: run.n_parts], rest[run.n_parts :]
        weights = run.weights(flat)
        grads = Grads(run, weights, flat, parts, hbuf)
        # every slot's gradient is written once: by its exit or by the one cell that read it
        dhbuf, dmbuf = run.workspace.take(hbuf.shape, hbuf), run.workspace.take(mbuf.shape, mbuf)
        for buf, gs in ((dhbuf, exit_grads[:N]), (dmbuf, exit_grads[N:])):
            for lines, g in zip(ctx.exit_lines, gs):
                if g is None:
                    buf.index_fill_(0, lines, 0.0)
                else:
                    buf.index_copy_(0, lines, g.to(buf.dtype).reshape(-1, n))
        R = B * max(g.cells for g in plan.groups)  # rows of the largest group
        run.scratch = Scratch(hbuf, run.workspace, H=R * N * n, dx=R * N * n, dG1=R * max(w.W1.shape[0] for w in weights),
                              dG2=R * max(4 * n if w.prio else 0 for w in weights))
        for groups, step_acts in zip(reversed(plan.steps), reversed(ctx.acts)):
            for g, acts in zip(groups, step_acts):
                _backward_group(run, g, weights[g.block], acts, (hbuf, mbuf), (dhbuf, dmbuf), grads)
        run.scratch.release()
        dparts = grads.finish(weights, parts, run.dtype)
        dbnd = [_face(buf, span, B).clone() if given else None
                for buf, given_k in ((dhbuf, ctx.given[:N]), (dmbuf, ctx.given[N:]))
                for span, given in zip(plan.boundary, given_k)]
        run.workspace.give(dhbuf, dmbuf)
        return (None, *dbnd, *dparts, *grads.flat)


def _face(buf: Tensor, span: Tuple[int, int], B: int) -> Tensor:
    """The lines of a boundary face's slots ``span = (a, b)`` in a ``[slots * B, n]`` buffer, as
    ``[b - a, B, n]`` (a view)."""
    a, b = span
    return buf[a * B : b * B].view(b - a, B, buf.shape[1])


def _forward_steps(run: FusedRun, weights: Sequence[BlockWeights], slots: Slots, parts: Sequence[Tensor],
                   acts_buf: Tensor) -> List[List[GroupActs]]:
    """Every hyperplane's groups in order, their saved activations carved from ``acts_buf`` one
    after the other."""
    proj = project_parts(weights, run.plan.groups, parts, run.dtype)
    used = 0

    def arena(R: int, width: int) -> Tensor:
        nonlocal used
        used += R * width
        return acts_buf[used - R * width : used].view(R, width)

    run.scratch = Scratch(slots[0], run.workspace, H=run.batch * max(g.cells for g in run.plan.groups) * run.N * run.n)
    acts = [[_forward_group(run, g, weights[g.block], slots, proj, arena) for g in groups] for groups in run.plan.steps]
    run.scratch.release()
    return acts


def _forward_group(run: FusedRun, g: Group, w: BlockWeights, slots: Slots, proj: Dict[int, tuple],
                   arena: Callable[[int, int], Tensor]) -> GroupActs:
    """One group's cells, computed in place in the slots (the loop body of the pseudocode)."""
    (hbuf, mbuf), N, n, R, F, K = slots, run.N, run.n, run.batch * g.cells, w.F, w.K
    lines = run.plan.in_lines(g, run.batch).to(hbuf.device)  # [R * N]: (cell, batch element, side)
    # additive: the priority side's input is the OuterSum, so H' columns K: are never read
    lines_h = lines.view(R, N)[:, :F].reshape(-1) if g.part_idx is not None else lines
    # H of eq. 4, [R, N * n] (additive: its first K columns)
    H = torch.index_select(hbuf, 0, lines_h, out=run.scratch("H", lines_h.numel(), n)).view(R, -1)
    m_in = BufferLines(mbuf, lines, N)  # m of every side, read by the gate math where it lies
    h_out, m_out = run.own(hbuf, g), run.own(mbuf, g)  # [R, N, n], written in place
    G1, T1 = arena(R, w.W1.shape[0]), arena(R, F * n).view(R, F, n)  # [R, 4gn] gates, [R, F, n]
    if g.part_idx is None:
        linear_cast_into(G1, H, w.W1, w.b1)
    else:
        linear_cast_into(gather_parts(G1, proj[g.block][0], g, run.kernels), H[:, :K], w.W1_h)
    gates_forward(G1, m_in.sides(0, F), w.cell, h_out[:, :F], m_out[:, :F], T1, run.kernels)
    G2 = T2 = None
    if w.prio:  # on H' = [h'_1; ...; h'_F; h_p] (§3.5): the h' are the group's own outputs, [R, K] in place
        G2 = arena(R, w.Wp.shape[0])  # [R, 4n], or [R, n] for §3.6
        T2 = None if w.prio_act else arena(R, n).view(R, 1, n)
        h_first = h_out.view(R, -1)[:, :K]
        if g.part_idx is None:
            linear_cast_into(G2, h_first, w.Wp_h, w.bp)
            linear_cast_into(G2, H[:, K:], w.Wp_x)
        else:
            linear_cast_into(gather_parts(G2, proj[g.block][1], g, run.kernels), h_first, w.Wp_h)
        if w.prio_act:  # h' = α(V H'), no memory: its m' slot holds zeros
            h_out[:, F] = activation_forward(G2, w.prio_act)
            m_out[:, F] = 0.0
        else:
            gates_forward(G2, m_in.sides(F, 1), w.cell, h_out[:, F:], m_out[:, F:], T2, run.kernels)
    keep: List[Optional[Tensor]] = [None] * N  # dropout on the outgoing hidden vectors, per axis
    for k, p in enumerate(run.drop):
        if p > 0:
            keep[k] = torch.empty(R, n, dtype=h_out.dtype, device=h_out.device).bernoulli_(1 - p).div_(1 - p)
            h_out[:, k].mul_(keep[k])
    return GroupActs(G1, T1, G2, T2, keep, lines, lines_h)


def _backward_group(run: FusedRun, g: Group, w: BlockWeights, a: GroupActs, slots: Slots, dslots: Slots,
                    grads: Grads) -> None:
    """The backward of :func:`_forward_group`: from the gradients of the group's output slots,
    those of its input slots (copied: one reader each) and of the parameters (accumulated)."""
    (hbuf, mbuf), (dhbuf, dmbuf), R, F, N, n = slots, dslots, run.batch * g.cells, w.F, run.N, run.n
    # gradients of the group's outputs, [R, N, n] like h_out in forward (each read only here)
    dh, dm = run.own(dhbuf, g), run.own(dmbuf, g)
    for k, mask in enumerate(a.keep):
        if mask is not None:
            dh[:, k].mul_(mask)
    H = torch.index_select(hbuf, 0, a.lines_h, out=run.scratch("H", a.lines_h.numel(), n)).view(R, -1)  # eq. 4
    # m of every side and its gradient, read and written where they lie (one writer per line)
    m_in, dm_in = BufferLines(mbuf, a.lines, N), BufferLines(dmbuf, a.lines, N)
    m_out = run.own(mbuf, g)
    dG2 = low2 = None
    if w.prio:  # the priority transform came last, so its backward comes first
        if w.prio_act:  # G2 holds h' = α(V H'); no memory, so no gradient into m_p
            dG2 = activation_backward(a.G2, dh[:, F], w.prio_act)
            dm_in.sides(F, 1).fill_(0.0)
        else:
            dG2 = gates_backward(a.G2, a.T2, m_in.sides(F, 1), m_out[:, F:], dh[:, F:], dm[:, F:], w.cell,
                                 dm_in.sides(F, 1), run.scratch("dG2", R, a.G2.shape[1]), run.kernels)
        low2 = dG2.to(run.dtype)  # the GEMMs' operand, cast once for all of them
        _priority_grads(run, g, w, grads, run.own(hbuf, g).view(R, -1)[:, : w.K], dh, H, dG2, low2)
    dG1 = gates_backward(a.G1, a.T1, m_in.sides(0, F), m_out[:, :F], dh[:, :F], dm[:, :F], w.cell,
                         dm_in.sides(0, F), run.scratch("dG1", R, a.G1.shape[1]), run.kernels)
    dx = _first_grads(run, g, w, grads, H, dG1, low2)
    dhbuf.index_copy_(0, a.lines_h, dx.view(-1, n))  # back to the input lines, one writer per line


def _priority_grads(run: FusedRun, g: Group, w: BlockWeights, grads: Grads, h_first: Tensor, dh: Tensor,
                    H: Tensor, dG2: Tensor, low2: Tensor) -> None:
    """From the priority pre-activations' gradient ``dG2`` (``low2``: it in the GEMM dtype):
    ``dh'_1..F += dG2 Wp_h`` (the GEMM accumulates into the ``[R, K]`` view in place) and the
    priority matrix's gradient on ``H' = [h'_1..F (h_first); h_p]`` (additive: what
    :meth:`Grads.finish` folds later)."""
    K, dtype, R = w.K, run.dtype, dG2.shape[0]
    acc_mm(dh.view(R, -1)[:, :K], low2, w.Wp_h, dtype)
    if g.part_idx is not None:  # the bias is in part 0's projection: its gradient is summed there
        acc_mm(grads.cols[g.block][1], low2.t(), h_first, dtype)
        scatter_parts(grads.proj[g.block][1], dG2, g, run.kernels)
    else:
        dp = grads.params[g.block]
        dp[w.prio_param + 1].add_(dG2.sum(0))
        acc_mm(dp[w.prio_param][:, :K], low2.t(), h_first, dtype)
        acc_mm(dp[w.prio_param][:, K:], low2.t(), H[:, K:], dtype)


def _first_grads(run: FusedRun, g: Group, w: BlockWeights, grads: Grads, H: Tensor, dG1: Tensor,
                 low2: Optional[Tensor]) -> Tensor:
    """From the first transforms' pre-activation gradient ``dG1``: their matrix's gradient and
    ``dx``, the gradient of the gathered ``H`` (with ``h_p``'s share from the priority
    transform, whose gradient ``low2`` comes in the GEMM dtype; additive: only the first ``K``
    columns, the OuterSum's lines are never read).  ``dG1`` is cast to the GEMM dtype once."""
    dp, K, dtype, R = grads.params[g.block], w.K, run.dtype, dG1.shape[0]
    fdt = H.dtype
    low1 = dG1.to(dtype)
    if g.part_idx is not None:
        dx = mm_as(low1, w.W1_h, dtype, fdt, run.scratch("dx", R, K))  # [R, 4gn] @ [4gn, K] -> [R, K]
        acc_mm(grads.cols[g.block][0], low1.t(), H, dtype)
        scatter_parts(grads.proj[g.block][0], dG1, g, run.kernels)
        return dx
    dp[1].add_(dG1.sum(0))
    dx = mm_as(low1, w.W1, dtype, fdt, run.scratch("dx", R, run.N * run.n))  # [R, 4gn] @ [4gn, N n] -> [R, N n]
    acc_mm(dp[0], low1.t(), H, dtype)
    if low2 is not None:  # h_p's gradient from the priority transform
        acc_mm(dx[:, K:], low2, w.Wp_x, dtype)
    return dx


class Grads:
    """What the backward accumulates besides the slots' gradients: ``flat``, every block's
    parameter gradients (``params``: per block, the first transforms' rows in GEMM order until
    :meth:`finish`); for the blocks that compute additive groups, ``proj``, the gradients of
    their parts' projections (``(first, prio)`` like :func:`~reencoder.grid.fused_memory.project_parts`'s), and ``cols``,
    those of the columns ``[:, :K]`` of their two matrices (one per block: per group they
    would be zero-filled every hyperplane)."""

    def __init__(self, run: FusedRun, weights: Sequence[BlockWeights], flat: Sequence[Tensor],
                 parts: Sequence[Tensor], like: Tensor):
        self.flat = [torch.zeros_like(p) for p in flat]
        self.params = run.per_block(self.flat)
        zeros = lambda *shape: torch.zeros(*shape, dtype=like.dtype, device=like.device)  # noqa: E731
        blocks = sorted({g.block for g in run.plan.groups if g.part_idx is not None})
        self.proj = {b: tuple([zeros(p.shape[0] * run.batch, W.shape[0]) for p in parts]
                              for W in (weights[b].W1, weights[b].Wp)) for b in blocks}
        self.cols = {b: (zeros(weights[b].W1.shape[0], weights[b].K), zeros(weights[b].Wp.shape[0], weights[b].K))
                     for b in blocks}

    def finish(self, weights: Sequence[BlockWeights], parts: Sequence[Tensor], dtype: torch.dtype) -> List[Tensor]:
        """Fold the additive input's gradients into the parameters' (``W_x x_ij = W_x s_i + W_x
        t_j``, backwards), put the first transforms' rows back in the blocks' order, and return
        the parts' gradients."""
        dparts = [p.new_zeros(p.shape) for p in parts]
        for b, (dP1, dP2) in self.proj.items():
            w, dp = weights[b], self.params[b]
            K, dW1, db1, dWp, dbp = w.K, dp[0], dp[1], dp[w.prio_param], dp[w.prio_param + 1]
            dW1[:, :K] += self.cols[b][0]
            dWp[:, :K] += self.cols[b][1]
            db1.add_(dP1[0].sum(0))  # the biases were added to part 0's projections
            dbp.add_(dP2[0].sum(0))
            for a, part in enumerate(parts):
                x = part.reshape(-1, part.shape[-1])  # [L, B, n] -> [L * B, n]
                dparts[a].view(-1, x.shape[1]).add_(mm_as(dP1[a], w.W1_x, dtype, x.dtype)).add_(
                    mm_as(dP2[a], w.Wp_x, dtype, x.dtype))
                dW1[:, K:] += mm_as(dP1[a].t(), x, dtype, x.dtype)
                dWp[:, K:] += mm_as(dP2[a].t(), x, dtype, x.dtype)
        for w, dp in zip(weights, self.params):  # the gate-major GEMM rows back to the blocks' order
            if w.perm is not None:
                inv = torch.argsort(w.perm)
                dp[0].copy_(dp[0][inv])
                dp[1].copy_(dp[1][inv])
        return dparts
