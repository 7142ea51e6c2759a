"""The wavefront with a hand-written backward pass: the fast path for all-LSTM grids.

:func:`reencoder.grid.wavefront.run_grid` runs the hyperplanes through autograd: every gather,
concatenation and gate nonlinearity of every step becomes graph nodes, and the backward of each
``index_select`` zero-fills a full-size gradient.  :func:`run_grid_fused` computes the same
function (same arguments, same exits, paper §4's hyperplanes) as one
:class:`torch.autograd.Function` whose backward is written out:

* **Slot buffers** (:mod:`reencoder.grid.fused_plan`): every hidden and memory vector of the grid
  has one slot, outputs in the order they are computed, so a block writes its outputs in place
  into one contiguous slice and reads its inputs with one gather.  The buffers are also the
  saved activations, and come from a reused :data:`~reencoder.grid.workspace.WORKSPACE`.
* **Forward** per hyperplane and block: ``H = [h_1; ...; h_N]`` (paper eq. 4) by one row gather,
  one GEMM for all non-priority transforms, the gates of eq. 3 in place
  (:mod:`reencoder.grid.gate_math`), then the priority GEMM on ``H' = [h'_1; ...; h_p]`` (§3.5),
  whose ``h'`` it reads where the gates wrote them (a strided view, no copy).
* **Backward** walks the hyperplanes in reverse with the derivatives of eq. 3 in closed form.
  A block's output gradients are the same contiguous slice of the gradient buffers, and each
  input slot has exactly one reader, so input gradients are *copied* into their slots, never
  accumulated or zero-filled.
* **Additive input**: when the priority axis' boundary is an
  :class:`~reencoder.grid.schedule.OuterSum` (the Reencoder's ``x_ij = s_i + t_j``), its share of
  both transforms, ``W_x x_ij = W_x s_i + W_x t_j``, is computed once for the ``S + T`` parts
  and gathered per cell, and its gradients are summed per part before one GEMM: the depth-0
  layer's GEMMs shrink by a third.
* Optional **bf16 GEMMs** (``compute_dtype``, or the dtype of an enclosing ``torch.autocast``)
  with fp32 states and gate math.

Supported: LSTM dimensions, except that the priority dimension may be a non-LSTM transform
(§3.6, ``h' = α(V H')``); priority dimension last or none, tied or untied weights,
standard or paper cell, dropout on the priority axis (or, without priority, on any axis).
:func:`fused_supported` says whether blocks qualify; :func:`reencoder.grid.wavefront.run_grid`
runs the others.  Index ops move whole rows of ``n`` values (plain ``memcpy``s).

Shapes in the comments: ``N`` grid axes (= block sides), ``B`` batch, ``n`` hidden size, a group
of ``cells`` cells computed by one block, ``R = cells * B`` rows of its GEMMs (one per cell and
batch row), ``F`` first (non-priority) transforms, ``K = (N - 1) n`` the non-priority columns of
``H``; the buffers ``Hb``, ``Mb`` are ``[slots * B, n]`` rows (:mod:`reencoder.grid.fused_plan`).
"""

from __future__ import annotations

import weakref
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from . import gate_kernels
from .fused_plan import FusedGroup, fused_plan
from .gate_math import (BlockWeights, BufferRows, acc_mm, activation_backward, activation_forward, block_params,
                        gates_backward, gates_forward, linear_into, mm_as, split_block_params)
from .schedule import Observer, OuterSum, Shape
from .workspace import WORKSPACE, Scratch


def fused_supported(blocks: Sequence[nn.Module], dropout: Optional[Sequence[float]]) -> bool:
    """Whether :func:`run_grid_fused` implements these blocks (see the module docstring)."""
    for blk in blocks:
        N = blk.num_dims
        if blk.priority_dim not in (None, N - 1):
            return False
        if blk.non_lstm_dims and (blk.priority_dim is None or blk.non_lstm_dims != (N - 1,)):
            return False  # only the priority dimension may be non-LSTM (§3.6)
        if dropout is not None and blk.priority_dim is not None and any(dropout[:-1]):
            return False
    return True


def _gather_parts(out: Tensor, projected: Sequence[Tensor], g: FusedGroup) -> Tensor:
    """``out[(c, b)] = Σ_a projected[a][c_a, b]``: the additive input's share of a transform."""
    flat = out.view(g.cells, -1)  # [R, W] -> [cells, B * W]: one row per cell (R = cells * B, cell-major)
    rows = [p.view(-1, flat.shape[1]) for p in projected]  # [L_a * B, W] -> [L_a, B * W]
    idx = [i.to(out.device) for i in g.part_idx]
    if gate_kernels.rows_usable(flat, *rows):
        gate_kernels.gather_rows_sum(flat, rows, idx)
        return out
    torch.index_select(rows[0], 0, idx[0], out=flat)
    for p, i in zip(rows[1:], idx[1:]):
        flat.add_(p.index_select(0, i))
    return out


def _scatter_parts(acc: Sequence[Tensor], dG: Tensor, g: FusedGroup) -> None:
    """``acc[a][c_a] += dG[c]``: the backward of :func:`_gather_parts`."""
    rows = dG.view(g.cells, -1)  # [R, W] -> [cells, B * W]
    for a, i in zip(acc, g.part_idx):
        a = a.view(-1, rows.shape[1])
        if gate_kernels.rows_usable(a, rows):
            gate_kernels.scatter_rows_add(a, i, rows)
        else:
            a.index_add_(0, i.to(dG.device), rows)


def _face(buf: Tensor, span: Tuple[int, int], B: int) -> Tensor:
    """The rows of a boundary face's slots ``span = (a, b)`` in a ``[slots * B, n]`` buffer, as
    ``[b - a, B, n]`` (a view)."""
    a, b = span
    return buf[a * B : b * B].view(b - a, B, buf.shape[1])


def _priority_grads(w: BlockWeights, dp: List[Tensor]) -> Tuple[Tensor, Tensor]:
    """The gradients of the priority transform's weight and bias: its own, or (one matrix for
    both transforms) the first transform's."""
    return (dp[2], dp[3]) if w.own_priority else (dp[0], dp[1])


class _FusedGrid(torch.autograd.Function):
    @staticmethod
    def forward(ctx, meta, *tensors):
        blocks, plan, B, n, dtype, dropout, observer, training, n_parts = meta
        N = len(plan.shape)
        bh, bm = tensors[:N], tensors[N : 2 * N]
        parts, flat = tensors[2 * N : 2 * N + n_parts], tensors[2 * N + n_parts :]
        like = next(t for t in list(bh) + list(parts) if t is not None)
        dev, fdt = like.device, like.dtype
        weights = [BlockWeights(blk, ps, dtype) for blk, ps in zip(blocks, split_block_params(blocks, flat))]
        K = (N - 1) * n  # additive input: columns of H that are not the priority side
        proj = {}  # block -> the parts through its priority-side columns, (first, priority)
        for g in plan.groups:
            if g.part_idx is not None and g.block not in proj:
                _, W1k, _, Wpk = weights[g.block].columns(K)
                # part [L_a, B, n] -> [L_a * B, n] @ W[:, K:].T -> [L_a * B, 4gn]: W_x s_i, W_x t_j once,
                # the transform's bias added to the first part's (so once per cell, by the gather)
                proj[g.block] = [[mm_as(p.reshape(-1, n), W.t(), dtype, fdt) for p in parts] for W in (W1k, Wpk)]
                for first, b in zip(proj[g.block], (weights[g.block].b1, weights[g.block].bp)):
                    first[0].add_(b)
        Hb, Mb = WORKSPACE.take((plan.size * B, n), like), WORKSPACE.take((plan.size * B, n), like)  # rows
        acts_buf = WORKSPACE.take((sum(B * g.cells * weights[g.block].acts_width for g in plan.groups),), like)
        used = 0

        def act(R: int, width: int) -> Tensor:
            nonlocal used
            used += R * width
            return acts_buf[used - R * width : used].view(R, width)

        for k, span in enumerate(plan.boundary):
            if bh[k] is not None or not (n_parts and k == N - 1):  # an additive face is read by observers only
                _face(Hb, span, B).copy_(0.0 if bh[k] is None else bh[k])
            _face(Mb, span, B).copy_(0.0 if bm[k] is None else bm[k])
        drop = [p if training and p > 0 else 0.0 for p in (dropout or [0.0] * N)]
        rows_max = B * max(g.cells for g in plan.groups) * N * n
        scratch = Scratch(like, H=rows_max)  # the gather of H (an observer keeps its H: fresh)
        acts = []
        for coords, groups in plan.steps:
            step_acts, seen = [], []
            for g in groups:
                w, R = weights[g.block], B * g.cells
                F_, additive = w.F, g.part_idx is not None
                rows = plan.in_rows(g, B).to(dev)  # [R * N]: the input rows, (cell, batch row, side)
                # additive: the priority side's input is the OuterSum, so H' columns K: are never read
                rows_h = rows.view(R, N)[:, :F_].reshape(-1) if additive else rows
                # H of eq. 4, [R, N * n] (additive: its first K columns), and m of every side, [R, N, n]
                if observer is not None:
                    H = Hb.index_select(0, rows).view(R, -1)
                else:
                    H = torch.index_select(Hb, 0, rows_h, out=scratch("H", rows_h.numel(), n)).view(R, -1)
                m_in = BufferRows(Mb, rows, N)  # m of every side, read by the gate math where it lies
                # the group's own output rows, written in place: [cells, B, N, n] = [R, N, n]
                out = slice(g.base * B, (g.base + N * g.cells) * B)
                h_out, m_out = Hb[out].view(R, N, n), Mb[out].view(R, N, n)
                G1, T1 = act(R, w.W1.shape[0]), act(R, F_ * n).view(R, F_, n)  # [R, 4gn] gates, [R, F, n]
                if not additive:
                    linear_into(G1, H, w.W1, w.b1)
                else:
                    linear_into(_gather_parts(G1, proj[g.block][0], g), H[:, :K], w.columns(K)[0])
                gates_forward(G1, m_in.sides(0, F_), w.cell, h_out[:, :F_], m_out[:, :F_], T1)
                G2 = T2 = None
                if w.prio:
                    # the priority transform's [R, 4n] gates and [R, 1, n] T, or its [R, n] activation (§3.6),
                    # on H' = [h'_1; ...; h'_F; h_p] (§3.5): the h' are this group's own outputs, [R, K] in place
                    G2 = act(R, w.Wp.shape[0])
                    T2 = None if w.prio_act else act(R, n).view(R, 1, n)
                    h_first = h_out.view(R, N * n)[:, :K]
                    _, _, WpK, Wpp = w.columns(K)
                    if not additive:
                        linear_into(G2, h_first, WpK, w.bp)
                        linear_into(G2, H[:, K:], Wpp)
                    else:
                        linear_into(_gather_parts(G2, proj[g.block][1], g), h_first, WpK)
                    if w.prio_act:  # h' = α(V H'), no memory: its m' slot holds zeros
                        h_out[:, F_] = activation_forward(G2, w.prio_act)
                        m_out[:, F_] = 0.0
                    else:
                        gates_forward(G2, m_in.sides(F_, 1), w.cell, h_out[:, F_:], m_out[:, F_:], T2)
                keep = [None] * N
                for k, p in enumerate(drop):
                    if p > 0:
                        keep[k] = torch.empty(R, n, dtype=fdt, device=dev).bernoulli_(1 - p).div_(1 - p)
                        h_out[:, k].mul_(keep[k])
                step_acts.append((G1, T1, G2, T2, keep, rows, rows_h))
                if observer is not None:
                    seen.append([t.reshape(g.cells, B, N, n) for t in (H, h_out, m_out)])  # [R, N(*)n] -> per cell
            if observer is not None:
                hs_in, hs_out, ms_out = (torch.cat([s[i] for s in seen]).unbind(2) for i in range(3))
                observer(coords, list(hs_in), list(hs_out), list(ms_out))
            acts.append(step_acts)
        scratch.release()
        exit_rows = [plan.rows(e, B).view(-1).to(dev) for e in plan.exits]  # [F_k * B] per axis
        exits = [buf.index_select(0, r).view(-1, B, n) for buf in (Hb, Mb) for r in exit_rows]
        ctx.meta = (blocks, plan, B, n, dtype, n_parts)
        ctx.exit_rows = exit_rows
        ctx.acts = acts
        ctx.bnd_given = [t is not None for t in tensors[: 2 * N]]
        ctx.save_for_backward(Hb, Mb, *parts, *flat)
        if any(ctx.needs_input_grad):  # reusable once autograd has dropped this node
            weakref.finalize(ctx, WORKSPACE.give, Hb, Mb, acts_buf).atexit = False
        else:
            WORKSPACE.give(Hb, Mb, acts_buf)
        return tuple(exits)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, *grads):
        blocks, plan, B, n, dtype, n_parts = ctx.meta
        N = len(plan.shape)
        Hb, Mb, *rest = ctx.saved_tensors
        parts, flat = rest[:n_parts], rest[n_parts:]
        dev, fdt = Hb.device, Hb.dtype
        K = (N - 1) * n
        weights = [BlockWeights(blk, ps, dtype) for blk, ps in zip(blocks, split_block_params(blocks, flat))]
        dflat = [torch.zeros_like(p) for p in flat]
        dparams = split_block_params(blocks, dflat)
        # additive groups: gradients of the parts' projections, and of the non-priority columns
        # (one entry per block: built per group, they would be zero-filled once per hyperplane)
        additive_blocks = sorted({g.block for g in plan.groups if g.part_idx is not None})
        dproj = {b: [[torch.zeros(p.shape[0] * B, W.shape[0], dtype=fdt, device=dev) for p in parts]
                     for W in (weights[b].W1, weights[b].Wp)]
                 for b in additive_blocks}
        dcols = {b: [torch.zeros(weights[b].W1.shape[0], K, dtype=fdt, device=dev),
                     torch.zeros(weights[b].Wp.shape[0], K, dtype=fdt, device=dev)] for b in dproj}
        # every slot's gradient is written once: by its exit or by the one cell that read it
        dHb, dMb = WORKSPACE.take(Hb.shape, Hb), WORKSPACE.take(Mb.shape, Mb)
        for buf, gs in ((dHb, grads[:N]), (dMb, grads[N:])):
            for rows, g in zip(ctx.exit_rows, gs):
                if g is None:
                    buf.index_fill_(0, rows, 0.0)
                else:
                    buf.index_copy_(0, rows, g.to(fdt).reshape(-1, n))
        rows_max = B * max(g.cells for g in plan.groups)
        scratch = Scratch(Hb, H=rows_max * N * n, dx=rows_max * N * n, dG1=rows_max * max(w.W1.shape[0] for w in weights),
                          dG2=rows_max * max(4 * n if w.prio else 0 for w in weights))
        if n_parts and ctx.bnd_given[N - 1]:  # the additive face, materialised for an observer, gets none
            _face(dHb, plan.boundary[N - 1], B).fill_(0.0)
        for (_, groups), step_acts in zip(reversed(plan.steps), reversed(ctx.acts)):
            for g, (G1, T1, G2, T2, keep, rows, rows_h) in zip(groups, step_acts):
                w, dp, R = weights[g.block], dparams[g.block], B * g.cells
                F_, additive = w.F, g.part_idx is not None
                out = slice(g.base * B, (g.base + N * g.cells) * B)
                # gradients of the group's outputs, [R, N, n] like h_out in forward (each read only here)
                dh, dm = dHb[out].view(R, N, n), dMb[out].view(R, N, n)
                for k, mask in enumerate(keep):
                    if mask is not None:
                        dh[:, k].mul_(mask)
                H = torch.index_select(Hb, 0, rows_h, out=scratch("H", rows_h.numel(), n)).view(R, -1)  # eq. 4, as in forward
                # m of every side and its gradient, read and written where they lie (one writer per row)
                m_in, dm_in = BufferRows(Mb, rows, N), BufferRows(dMb, rows, N)
                m_out = Mb[out].view(R, N, n)
                if w.prio:  # the priority transform came last, so its backward comes first
                    if w.prio_act:  # G2 holds h' = α(V H'); no memory, so no gradient into m_p
                        dG2 = activation_backward(G2, dh[:, F_], w.prio_act)
                        dm_in.sides(F_, 1).fill_(0.0)
                    else:
                        dG2 = gates_backward(G2, T2, m_in.sides(F_, 1), m_out[:, F_:], dh[:, F_:], dm[:, F_:], w.cell,
                                             dm_in.sides(F_, 1), scratch("dG2", R, G2.shape[1]))
                    gW, gb = _priority_grads(w, dp)
                    h_first = Hb[out].view(R, N * n)[:, :K]  # the updated h'_1..h'_F, [R, K]
                    _, _, WpK, WpP = w.columns(K)
                    # dh'_1..F += dG2 @ Wp[:, :K], accumulated by the GEMM into the [R, K] view in place
                    acc_mm(dh.view(R, N * n)[:, :K], dG2, WpK, dtype)
                    if additive:  # the bias is in part 0's projection: its gradient is summed there
                        acc_mm(dcols[g.block][1], dG2.t(), h_first, dtype)
                        _scatter_parts(dproj[g.block][1], dG2, g)
                    else:
                        gb.add_(dG2.sum(0))
                        acc_mm(gW[:, :K], dG2.t(), h_first, dtype)
                        acc_mm(gW[:, K:], dG2.t(), H[:, K:], dtype)
                dG1 = gates_backward(G1, T1, m_in.sides(0, F_), m_out[:, :F_], dh[:, :F_], dm[:, :F_], w.cell,
                                     dm_in.sides(0, F_), scratch("dG1", R, G1.shape[1]))
                if additive:  # the priority side's input is the OuterSum: its rows are never read
                    dx = mm_as(dG1, w.columns(K)[0], dtype, fdt, scratch("dx", R, K))  # [R, 4gn] @ [4gn, K] -> [R, K]
                    acc_mm(dcols[g.block][0], dG1.t(), H, dtype)
                    _scatter_parts(dproj[g.block][0], dG1, g)
                else:
                    dp[1].add_(dG1.sum(0))
                    dx = mm_as(dG1, w.W1, dtype, fdt, scratch("dx", R, N * n))  # [R, 4gn] @ [4gn, N n] -> [R, N n]
                    acc_mm(dp[0], dG1.t(), H, dtype)
                    if w.prio:  # h_p's gradient from the priority transform
                        acc_mm(dx[:, K:], dG2, WpP, dtype)
                # back to the input rows, one writer per row
                dHb.index_copy_(0, rows_h, dx.view(-1, n))
        scratch.release()
        dparts = [p.new_zeros(p.shape) for p in parts]
        for b, (dP1, dP2) in dproj.items():  # W_x x_ij = W_x s_i + W_x t_j, backwards
            w, dp = weights[b], dparams[b]
            _, W1k, _, Wpk = w.columns(K)
            gW, gb = _priority_grads(w, dp)
            dp[0][:, :K] += dcols[b][0]
            gW[:, :K] += dcols[b][1]
            dp[1].add_(dP1[0].sum(0))  # the biases were added to part 0's projections
            gb.add_(dP2[0].sum(0))
            for part, dpart, d1, d2 in zip(parts, dparts, dP1, dP2):
                x = part.reshape(-1, n)  # [L_a, B, n] -> [L_a * B, n]
                dpart.view(-1, n).add_(mm_as(d1, W1k, dtype, fdt)).add_(mm_as(d2, Wpk, dtype, fdt))
                dp[0][:, K:] += mm_as(d1.t(), x, dtype, fdt)
                gW[:, K:] += mm_as(d2.t(), x, dtype, fdt)
        for w, dp in zip(weights, dparams):  # first-transform gradients back to the blocks' row order
            if w.perm is not None:
                inv = torch.argsort(w.perm)
                dp[0].copy_(dp[0][inv])
                dp[1].copy_(dp[1][inv])
        dbnd = [_face(buf, span, B).clone() if given else None
                for buf, given_k in ((dHb, ctx.bnd_given[:N]), (dMb, ctx.bnd_given[N:]))
                for span, given in zip(plan.boundary, given_k)]
        WORKSPACE.give(dHb, dMb)
        return (None, *dbnd, *dparts, *dflat)


def run_grid_fused(
    blocks: nn.ModuleList,
    shape: Shape,
    boundary_h: Sequence,
    boundary_m: Sequence[Optional[Tensor]],
    block_axis: Optional[int] = None,
    dropout: Optional[Sequence[float]] = None,
    observer: Optional[Observer] = None,
    compute_dtype: Optional[torch.dtype] = None,
) -> Tuple[List[Tensor], List[Tensor]]:
    """:func:`reencoder.grid.wavefront.run_grid` with the hand-written backward (same arguments and
    results).  ``compute_dtype`` is the dtype of the GEMM operands (default: that of the
    boundary tensors, or the autocast dtype inside ``torch.autocast``); states and gate math
    stay in the boundary dtype.  An :class:`~reencoder.grid.schedule.OuterSum` boundary on the
    priority axis, with one block per coordinate of it or a shared block, takes the additive
    path (materialised as well for an observer, which sees every input); any other is
    materialised."""
    if not fused_supported(blocks, dropout):
        raise ValueError("run_grid_fused supports LSTM dimensions with the priority dimension last or none")
    N = len(shape)
    bh, parts, additive = list(boundary_h), [], None
    for k, b in enumerate(bh):
        if isinstance(b, OuterSum):
            if additive is None and k == N - 1 and block_axis == k and all(blk.priority_dim == k for blk in blocks):
                additive, parts = k, list(b.parts)
                bh[k] = b.face() if observer is not None else None  # observers see the input itself
            else:
                bh[k] = b.face()
    template = next(t for t in bh + parts if t is not None)
    B, n = template.shape[1], template.shape[2]
    device = template.device.type
    if compute_dtype is None and torch.is_autocast_enabled(device):
        compute_dtype = torch.get_autocast_dtype(device)
    shared = len(blocks) == 1
    plan = fused_plan(tuple(shape), block_axis if not shared or additive is not None else None, shared, additive)
    dtype = compute_dtype or template.dtype
    meta = (list(blocks), plan, B, n, dtype, dropout, observer, blocks.training, len(parts))
    with torch.autocast(device, enabled=False):  # the dtypes are chosen explicitly inside
        outs = _FusedGrid.apply(meta, *bh, *boundary_m, *parts, *block_params(blocks))
    return list(outs[:N]), list(outs[N:])
