"""The wavefront with a hand-written backward pass: the fast path for all-LSTM grids.

:func:`reencoder.wavefront.run_grid` runs the hyperplanes through autograd: every gather,
concatenation and gate nonlinearity of every step becomes graph nodes, and the backward of each
``index_select`` zero-fills a full-size gradient.  :func:`run_grid_fused` computes the same
function (same arguments, same exits, same hyperplane order, paper §4) as one
:class:`torch.autograd.Function` whose backward is written out:

* **One slot buffer** for hidden and one for memory vectors, ``[slots, B, n]``: first the
  boundary faces, then the outputs of every cell *in the order they are computed* (per step,
  per block, axis-major).  A block writes its outputs in place into one contiguous slice (no
  scatter), and a cell's inputs are the slots of its predecessors (one ``index_select`` per
  block and step).  Every slot is written once, so the buffers are also the saved activations.
* **Forward** per hyperplane and block: ``H = [h_1; ...; h_N]`` (paper eq. 4), one GEMM for all
  non-priority transforms, the gates of eq. 3 in place, then the priority GEMM on
  ``H' = [h'_1; ...; h_p]`` (§3.5).
* **Backward** walks the hyperplanes in reverse with the derivatives of eq. 3 in closed form.
  The gradient of a block's outputs is the same contiguous slice of the gradient buffers, and
  each input slot has exactly one reader, so input gradients are *copied* into their slots
  (``index_copy_``), never accumulated or zero-filled.
* Optional **bf16 GEMMs** (``compute_dtype``) with fp32 states and gate math: the mixed
  precision that ``--grid-bf16-autocast`` asks for.

Supported: LSTM dimensions only, priority dimension last or none, tied or untied weights,
standard or paper cell, dropout on the priority axis (or, without priority, on any axis).
:func:`fused_supported` says whether blocks qualify; :func:`reencoder.wavefront.run_grid`
runs the others.  Index ops work on 2D views ``[slots, B * n]``, whose copies are plain
``memcpy``s of ``B * n`` values.
"""

from __future__ import annotations

import functools
import math
import weakref
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from .wavefront import Observer, Shape, face_index, schedule
from .workspace import WORKSPACE


@dataclass
class FusedGroup:
    """The cells of one step that one block computes."""

    block: int
    cells: int
    base: int  # first output slot: outputs are slots [base, base + N * cells), axis-major
    in_slots: Tensor  # [N * cells], axis-major: the slot each side of each cell reads


@dataclass
class FusedPlan:
    shape: Shape
    size: int  # number of slots
    boundary: List[Tuple[int, int]]  # per axis: the slot range of its near face (face order)
    exits: List[Tensor]  # per axis, [F_k]: the output slots of its far face, in face order
    steps: List[Tuple[Tensor, List[FusedGroup]]]  # (coords, groups) per hyperplane


@functools.lru_cache(maxsize=512)
def fused_plan(shape: Shape, block_axis: Optional[int]) -> FusedPlan:
    """Slot layout and indices of a grid (cached per grid shape, like :func:`schedule`)."""
    sched = schedule(shape, block_axis)
    ndim = len(shape)
    boundary, off = [], 0
    for k in range(ndim):
        face = math.prod(s for a, s in enumerate(shape) if a != k)
        boundary.append((off, off + face))
        off += face
    out_slot = {}  # (cell, axis) -> slot
    exits: List[List[int]] = [[0] * (boundary[k][1] - boundary[k][0]) for k in range(ndim)]
    steps = []
    for st in sched.steps:
        cells = [tuple(c) for c in st.coords.tolist()]
        groups = []
        for blk, c0, c1 in st.groups:
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
            groups.append(FusedGroup(blk, count, off, torch.tensor(ins, dtype=torch.long)))
            off += ndim * count
        steps.append((st.coords, groups))
    return FusedPlan(tuple(shape), off, boundary, [torch.tensor(e, dtype=torch.long) for e in exits], steps)


def fused_supported(blocks: Sequence[nn.Module], dropout: Optional[Sequence[float]]) -> bool:
    """Whether :func:`run_grid_fused` implements these blocks (see the module docstring)."""
    for blk in blocks:
        N = blk.num_dims
        if blk.non_lstm_dims or blk.priority_dim not in (None, N - 1):
            return False
        if dropout is not None and blk.priority_dim is not None and any(dropout[:-1]):
            return False
    return True


def _gates_forward(G: Tensor, m_in: Tensor, cell: str, h_out: Tensor, m_out: Tensor, T: Tensor) -> None:
    """Paper eq. 3 in place on the pre-activations ``G = [R, 4gn]`` of ``g`` gate sets laid out
    gate-major, ``[(u, f, o) of every set | c of every set]`` (``g = 1`` for a single transform
    or gates shared by tied dimensions), so one ``sigmoid_`` and one ``tanh_`` cover them.
    ``G`` becomes the activations; ``(h', m')`` of ``m_in = [R, F, n]`` go to ``h_out`` and
    ``m_out``, and ``T`` gets ``tanh(m')`` (standard cell) or ``h' = tanh(o m')`` (paper cell),
    which the backward pass reuses."""
    R, F, n = m_in.shape
    g = G.shape[1] // (4 * n)
    G[:, : 3 * g * n].sigmoid_()
    G[:, 3 * g * n :].tanh_()
    u, f, o = G[:, : 3 * g * n].view(R, g, 3, n).unbind(2)
    c = G[:, 3 * g * n :].view(R, g, n)
    torch.mul(f, m_in, out=m_out)
    m_out.addcmul_(u, c)
    if cell == "paper":
        torch.mul(o, m_out, out=T).tanh_()
        h_out.copy_(T)
    else:
        torch.tanh(m_out, out=T)
        torch.mul(o, T, out=h_out)


def _gates_backward(G: Tensor, T: Tensor, m_in: Tensor, m_new: Tensor, dh: Tensor, dm: Tensor, cell: str,
                    dm_in: Tensor) -> Tensor:
    """Derivatives of eq. 3, with ``G`` the activations and ``T`` what :func:`_gates_forward`
    returned: from ``dh'``, ``dm'`` (``[R, F, n]``) returns the gradient of the pre-activations
    (``[R, 4gn]``, same layout; summed over tied dimensions) and writes that of ``m_in`` to
    ``dm_in``.  σ' = σ(1 − σ), tanh' = 1 − tanh²."""
    R, F, n = dm.shape
    g = G.shape[1] // (4 * n)
    S = G[:, : 3 * g * n].view(R, g, 3, n)
    u, f, o = S.unbind(2)
    c = G[:, 3 * g * n :].view(R, g, n)
    if cell == "paper":  # h' = tanh(o m')
        dpre = dh - dh * T * T
        dm = torch.addcmul(dm, dpre, o)
        do = dpre * m_new
    else:  # h' = o tanh(m')
        dm = torch.addcmul(dm, dh * o, 1 - T * T)
        do = dh * T
    dsig = S - S * S
    dG = torch.empty(R, 4 * g * n, dtype=dm.dtype, device=dm.device)
    shared = g == 1 and F > 1  # tied: per-dimension gradients, summed below
    dS = torch.empty(R, F, 3, n, dtype=dm.dtype, device=dm.device) if shared else dG[:, : 3 * g * n].view(R, g, 3, n)
    dC = torch.empty(R, F, n, dtype=dm.dtype, device=dm.device) if shared else dG[:, 3 * g * n :].view(R, g, n)
    torch.mul(dm, c, out=dS[:, :, 0]).mul_(dsig[:, :, 0])
    torch.mul(dm, m_in, out=dS[:, :, 1]).mul_(dsig[:, :, 1])
    torch.mul(do, dsig[:, :, 2], out=dS[:, :, 2])
    torch.mul(dm, u, out=dC).mul_(1 - c * c)
    torch.mul(dm, f, out=dm_in)
    if shared:
        torch.sum(dS, 1, keepdim=True, out=dG[:, : 3 * n].view(R, 1, 3, n))
        torch.sum(dC, 1, keepdim=True, out=dG[:, 3 * n :].view(R, 1, n))
    return dG


def gate_major(num_sets: int, n: int) -> Tensor:
    """Row permutation from the blocks' ``[u, f, o, c]`` per gate set to the gate-major layout
    of :func:`_gates_forward` (the identity for one set)."""
    rows = torch.arange(4 * num_sets * n).view(num_sets, 4, n)
    return torch.cat([rows[:, :3].reshape(-1), rows[:, 3].reshape(-1)])


class _BlockWeights:
    """The matrices of one block as the fused passes use them: GEMM dtype, gate-major rows
    (``perm``) for the first transform; tied blocks use one matrix for both transforms."""

    def __init__(self, blk: nn.Module, params: Sequence[Tensor], dtype: torch.dtype):
        self.tied, self.cell = blk.tied, blk.cell
        self.prio = blk.priority_dim is not None
        self.F = blk.num_dims - 1 if self.prio else blk.num_dims
        n = blk.hidden_size
        sets = 1 if self.tied else self.F
        self.perm = gate_major(sets, n).to(params[0].device) if sets > 1 else None
        W1, b1 = (params[0], params[1]) if self.perm is None else (params[0][self.perm], params[1][self.perm])
        self.W1, self.b1 = W1.to(dtype), b1.to(dtype)
        if self.prio:
            self.Wp, self.bp = (self.W1, self.b1) if self.tied else (params[2].to(dtype), params[3].to(dtype))
        # per row: first-transform activations and T, then the priority transform's
        self.acts_width = self.W1.shape[0] + self.F * n + (5 * n if self.prio else 0)


def _param_list(blocks) -> List[Tensor]:
    out = []
    for blk in blocks:
        out += [blk.weight, blk.bias]
        if blk.priority_dim is not None and not blk.tied:
            out += [blk.priority_weight, blk.priority_bias]
    return out


def _split_params(blocks, flat: Sequence[Tensor]) -> List[List[Tensor]]:
    out, i = [], 0
    for blk in blocks:
        k = 4 if blk.priority_dim is not None and not blk.tied else 2
        out.append(list(flat[i : i + k]))
        i += k
    return out


def _addmm(bias: Tensor, a: Tensor, weight: Tensor, out: Tensor) -> Tensor:
    """``out = bias + a @ weight.T`` with operands in the weight's (GEMM) dtype."""
    if weight.dtype == out.dtype:
        return torch.addmm(bias, a, weight.t(), out=out)
    return out.copy_(torch.addmm(bias, a.to(weight.dtype), weight.t()))


def _mm(a: Tensor, b: Tensor, dtype: torch.dtype, out_dtype: torch.dtype) -> Tensor:
    """``a @ b`` with operands in the GEMM dtype, the result in ``out_dtype``."""
    return torch.mm(a.to(dtype), b.to(dtype)).to(out_dtype)


def _acc_mm(acc: Tensor, a: Tensor, b: Tensor, dtype: torch.dtype) -> None:
    """``acc += a @ b`` (a weight gradient) with operands in the GEMM dtype."""
    if dtype == acc.dtype:
        acc.addmm_(a, b)
    else:
        acc.add_(torch.mm(a.to(dtype), b.to(dtype)))


def _priority_input(H: Tensor, h_first: Tensor, F: int) -> Tensor:
    """``H' = [h'_1; ...; h'_F; h_p]`` (§3.5) as ``[R, N * n]``, from ``H`` and ``[F, R, n]``."""
    R, n = H.shape[0], h_first.shape[-1]
    H2 = torch.empty_like(H).view(R, -1, n)
    H2[:, :F] = h_first.transpose(0, 1)
    H2[:, F:] = H.view(R, -1, n)[:, F:]
    return H2.view(R, -1)


class _FusedGrid(torch.autograd.Function):
    @staticmethod
    def forward(ctx, meta, *tensors):
        blocks, plan, B, n, dtype, dropout, observer, training = meta
        N = len(plan.shape)
        bh, bm, flat = tensors[:N], tensors[N : 2 * N], tensors[2 * N :]
        like = next(t for t in bh if t is not None)
        dev = like.device
        weights = [_BlockWeights(blk, ps, dtype) for blk, ps in zip(blocks, _split_params(blocks, flat))]
        Hb, Mb = WORKSPACE.take((plan.size, B, n), like), WORKSPACE.take((plan.size, B, n), like)
        acts_buf = WORKSPACE.take((sum(B * g.cells * weights[g.block].acts_width for _, gs in plan.steps for g in gs),), like)
        used = 0

        def act(R: int, width: int) -> Tensor:
            nonlocal used
            used += R * width
            return acts_buf[used - R * width : used].view(R, width)

        for buf, bnds in ((Hb, bh), (Mb, bm)):
            for (a, b), bnd in zip(plan.boundary, bnds):
                buf[a:b] = 0.0 if bnd is None else bnd
        H2d, M2d = Hb.view(plan.size, B * n), Mb.view(plan.size, B * n)
        drop = [p if training and p > 0 else 0.0 for p in (dropout or [0.0] * N)]
        acts = []
        for coords, groups in plan.steps:
            step_acts, seen = [], []
            for g in groups:
                w, R = weights[g.block], B * g.cells
                F_ = w.F
                ins = g.in_slots.to(dev)
                H = H2d.index_select(0, ins).view(N, R, n).transpose(0, 1).reshape(R, N * n)
                m_in = M2d.index_select(0, ins).view(N, R, n).transpose(0, 1)
                h_out = Hb[g.base : g.base + N * g.cells].view(N, R, n).transpose(0, 1)
                m_out = Mb[g.base : g.base + N * g.cells].view(N, R, n).transpose(0, 1)
                G1, T1 = _addmm(w.b1, H, w.W1, act(R, w.W1.shape[0])), act(R, F_ * n).view(R, F_, n)
                _gates_forward(G1, m_in[:, :F_], w.cell, h_out[:, :F_], m_out[:, :F_], T1)
                G2 = T2 = None
                if w.prio:
                    H2 = _priority_input(H, h_out[:, :F_].transpose(0, 1), F_)
                    G2, T2 = _addmm(w.bp, H2, w.Wp, act(R, 4 * n)), act(R, n).view(R, 1, n)
                    _gates_forward(G2, m_in[:, F_:], w.cell, h_out[:, F_:], m_out[:, F_:], T2)
                keep = [None] * N
                for k, p in enumerate(drop):
                    if p > 0:
                        keep[k] = torch.empty(R, n, dtype=like.dtype, device=dev).bernoulli_(1 - p).div_(1 - p)
                        h_out[:, k].mul_(keep[k])
                step_acts.append((G1, T1, G2, T2, keep))
                if observer is not None:
                    seen.append([t.reshape(g.cells, B, N, n) for t in (H, h_out, m_out)])
            if observer is not None:
                hs_in, hs_out, ms_out = (torch.cat([s[i] for s in seen]).unbind(2) for i in range(3))
                observer(coords, list(hs_in), list(hs_out), list(ms_out))
            acts.append(step_acts)
        exits = [buf.index_select(0, plan.exits[k].to(dev)) for buf in (Hb, Mb) for k in range(N)]
        ctx.meta = (blocks, plan, B, n, dtype)
        ctx.acts = acts
        ctx.bnd_given = [t is not None for t in tensors[: 2 * N]]
        ctx.save_for_backward(Hb, Mb, *flat)
        if any(ctx.needs_input_grad):  # reusable once autograd has dropped this node
            weakref.finalize(ctx, WORKSPACE.give, Hb, Mb, acts_buf)
        else:
            WORKSPACE.give(Hb, Mb, acts_buf)
        return tuple(exits)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, *grads):
        blocks, plan, B, n, dtype = ctx.meta
        N = len(plan.shape)
        Hb, Mb, *flat = ctx.saved_tensors
        dev, fdt = Hb.device, Hb.dtype
        weights = [_BlockWeights(blk, ps, dtype) for blk, ps in zip(blocks, _split_params(blocks, flat))]
        dflat = [torch.zeros_like(p) for p in flat]
        dparams = _split_params(blocks, dflat)
        # every slot's gradient is written once: by its exit or by the one cell that read it
        dHb, dMb = WORKSPACE.take(Hb.shape, Hb), WORKSPACE.take(Mb.shape, Mb)
        for buf, gs in ((dHb, grads[:N]), (dMb, grads[N:])):
            for k, g in enumerate(gs):
                if g is None:
                    buf.index_fill_(0, plan.exits[k].to(dev), 0.0)
                else:
                    buf.index_copy_(0, plan.exits[k].to(dev), g.to(fdt))
        H2d, M2d = Hb.view(plan.size, B * n), Mb.view(plan.size, B * n)
        dH2d, dM2d = dHb.view(plan.size, B * n), dMb.view(plan.size, B * n)
        for (_, groups), step_acts in zip(reversed(plan.steps), reversed(ctx.acts)):
            for g, (G1, T1, G2, T2, keep) in zip(groups, step_acts):
                w, dp, R = weights[g.block], dparams[g.block], B * g.cells
                F_ = w.F
                ins = g.in_slots.to(dev)
                out = slice(g.base, g.base + N * g.cells)
                dh, dm = dHb[out].view(N, R, n).transpose(0, 1), dMb[out].view(N, R, n).transpose(0, 1)
                for k, mask in enumerate(keep):
                    if mask is not None:
                        dh[:, k].mul_(mask)
                H = H2d.index_select(0, ins).view(N, R, n).transpose(0, 1).reshape(R, N * n)
                m_in = M2d.index_select(0, ins).view(N, R, n).transpose(0, 1)
                m_out = Mb[out].view(N, R, n).transpose(0, 1)
                dmin = Hb.new_empty(N, R, n)
                dmin_t = dmin.transpose(0, 1)
                dh_first = dh[:, :F_]
                if w.prio:  # the priority transform came last, so its backward comes first
                    dG2 = _gates_backward(G2, T2, m_in[:, F_:], m_out[:, F_:], dh[:, F_:], dm[:, F_:], w.cell, dmin_t[:, F_:])
                    dH2 = _mm(dG2, w.Wp, dtype, fdt).view(R, N, n)
                    H2 = _priority_input(H, Hb[out].view(N, R, n)[:F_], F_)
                    gW, gb = (dp[0], dp[1]) if w.tied else (dp[2], dp[3])
                    _acc_mm(gW, dG2.t(), H2, dtype)
                    gb.add_(dG2.sum(0))
                    dh_first = dh_first + dH2[:, :F_]
                dG1 = _gates_backward(G1, T1, m_in[:, :F_], m_out[:, :F_], dh_first, dm[:, :F_], w.cell, dmin_t[:, :F_])
                dx = _mm(dG1, w.W1, dtype, fdt).view(R, N, n)
                if w.prio:
                    dx[:, F_:] += dH2[:, F_:]
                _acc_mm(dp[0], dG1.t(), H, dtype)
                dp[1].add_(dG1.sum(0))
                dH2d.index_copy_(0, ins, dx.transpose(0, 1).reshape(N * g.cells, B * n))
                dM2d.index_copy_(0, ins, dmin.view(N * g.cells, B * n))
        for w, dp in zip(weights, dparams):  # first-transform gradients back to the blocks' row order
            if w.perm is not None:
                inv = torch.argsort(w.perm)
                dp[0].copy_(dp[0][inv])
                dp[1].copy_(dp[1][inv])
        dbnd = [buf[a:b].clone() if given else None
                for buf, given_k in ((dHb, ctx.bnd_given[:N]), (dMb, ctx.bnd_given[N:]))
                for (a, b), given in zip(plan.boundary, given_k)]
        WORKSPACE.give(dHb, dMb)
        return (None, *dbnd, *dflat)


def run_grid_fused(
    blocks: nn.ModuleList,
    shape: Shape,
    boundary_h: Sequence[Optional[Tensor]],
    boundary_m: Sequence[Optional[Tensor]],
    block_axis: Optional[int] = None,
    dropout: Optional[Sequence[float]] = None,
    observer: Optional[Observer] = None,
    compute_dtype: Optional[torch.dtype] = None,
) -> Tuple[List[Tensor], List[Tensor]]:
    """:func:`reencoder.wavefront.run_grid` with the hand-written backward (same arguments and
    results).  ``compute_dtype`` is the dtype of the GEMM operands (default: that of the
    boundary tensors, or the autocast dtype inside ``torch.autocast``); states and gate math
    stay in the boundary dtype."""
    if not fused_supported(blocks, dropout):
        raise ValueError("run_grid_fused supports LSTM dimensions with the priority dimension last or none")
    N = len(shape)
    template = next(t for t in boundary_h if t is not None)
    B, n = template.shape[1], template.shape[2]
    device = template.device.type
    if compute_dtype is None and torch.is_autocast_enabled(device):
        compute_dtype = torch.get_autocast_dtype(device)
    plan = fused_plan(tuple(shape), block_axis if len(blocks) > 1 else None)
    dtype = compute_dtype or template.dtype
    meta = (list(blocks), plan, B, n, dtype, dropout, observer, blocks.training)
    with torch.autocast(device, enabled=False):  # the dtypes are chosen explicitly inside
        outs = _FusedGrid.apply(meta, *boundary_h, *boundary_m, *_param_list(blocks))
    return list(outs[:N]), list(outs[N:])
