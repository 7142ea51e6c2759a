"""The wavefront with a hand-written backward pass: the fast path for all-LSTM grids.

:func:`reencoder.grid.wavefront.run_grid` runs the hyperplanes through autograd: every gather,
concatenation and gate nonlinearity of every step becomes graph nodes, and the backward of each
``index_select`` zero-fills a full-size gradient.  :func:`run_grid_fused` computes the same
function (same grid arguments, same exits, paper §4's hyperplanes) as one
:class:`torch.autograd.Function` whose backward is written out:

* **Slot buffers** (:mod:`reencoder.grid.fused_plan`): every hidden and memory vector of the grid
  has one slot, outputs in the order they are computed, so a block writes its outputs in place
  into one contiguous slice and reads its inputs with one gather.  The buffers are also the
  saved activations, and come from a reused :class:`~reencoder.grid.workspace.Workspace`.
* **Forward** per hyperplane and block group (:func:`reencoder.grid.fused_steps.forward_group`):
  ``H = [h_1; ...; h_N]`` (paper eq. 4) by one row gather, one GEMM for all non-priority
  transforms, the gates of eq. 3 in place (:mod:`reencoder.grid.gate_math`), then the priority
  GEMM on ``H' = [h'_1; ...; h_p]`` (§3.5), whose ``h'`` it reads where the gates wrote them.
* **Backward** (:func:`reencoder.grid.fused_steps.backward_group`) walks the hyperplanes in
  reverse with the derivatives of eq. 3 in closed form.  A block's output gradients are the
  same contiguous slice of the gradient buffers, and each input slot has exactly one reader, so
  input gradients are *copied* into their slots, never accumulated or zero-filled.
* **Additive input** (:mod:`reencoder.grid.fused_additive`): when the priority axis' boundary is
  an :class:`~reencoder.grid.schedule.OuterSum` (the Reencoder's ``x_ij = s_i + t_j``), its
  share of both transforms is computed once for the ``S + T`` parts and gathered per cell.
* **Explicit precision**: ``compute_dtype`` is the dtype of the GEMM operands (bf16 GEMMs,
  chosen by the model: ``--grid-bf16``); states and gate math stay in the boundary dtype.  See
  ``recipes/RESULTS.md``, "Performance", for what each of these buys.

Supported: LSTM dimensions, except that the priority dimension may be a non-LSTM transform
(§3.6, ``h' = α(V H')``); priority dimension last or none, shared dims (§3.4) or not,
standard or gate-then-tanh cell, dropout on the priority axis (or, without priority, on any axis).
:func:`fused_supported` says whether blocks qualify; :func:`reencoder.grid.wavefront.run_grid`
runs the others, and every grid with an observer (the fused pass has no observer hook).  Index
ops move whole rows of ``n`` values (plain ``memcpy``s).

Shapes in the comments: ``N`` grid axes (= block sides), ``B`` batch, ``n`` hidden size, a group
of ``cells`` cells computed by one block, ``R = cells * B`` rows of its GEMMs (one per cell and
batch row), ``F`` first (non-priority) transforms, ``K = (N - 1) n`` the non-priority columns of
``H``; the buffers are ``[slots * B, n]`` rows (:mod:`reencoder.grid.fused_plan`).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from .fused_additive import AdditiveGrads, project
from .fused_plan import FusedPlan, fused_plan
from .fused_steps import BackwardState, FusedRun, GroupActs, Slots, backward_group, forward_group
from .fused_weights import BlockWeights, block_params, split_block_params
from .gate_kernels import CHOICES
from .schedule import OuterSum, Shape
from .workspace import WORKSPACE, Scratch, Workspace


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


class FusedInputs(NamedTuple):
    """The tensors of one call, as :meth:`_FusedGrid.apply` takes them flat."""

    bh: List[Optional[Tensor]]  # per axis, [F_k, B, n] hidden boundary (None: zeros, or additive)
    bm: List[Optional[Tensor]]  # per axis, memory boundary
    parts: List[Tensor]  # the additive input's parts, [L_a, B, n] each
    flat: List[Tensor]  # every block's parameters (:func:`~reencoder.grid.fused_weights.block_params`)

    @staticmethod
    def split(run: FusedRun, tensors: Sequence[Optional[Tensor]]) -> "FusedInputs":
        N, P = run.N, run.n_parts
        return FusedInputs(list(tensors[:N]), list(tensors[N : 2 * N]), list(tensors[2 * N : 2 * N + P]),
                           list(tensors[2 * N + P :]))


@dataclass
class _Saved:
    """What the forward leaves for the backward besides the saved tensors."""

    run: FusedRun
    exit_rows: List[Tensor]  # per axis, [F_k * B]: the buffer rows of its exits
    acts: List[List[GroupActs]]  # per hyperplane, per group
    given: List[bool]  # per boundary tensor (h of every axis, then m): whether it was a tensor


def _face(buf: Tensor, span: Tuple[int, int], B: int) -> Tensor:
    """The rows of a boundary face's slots ``span = (a, b)`` in a ``[slots * B, n]`` buffer, as
    ``[b - a, B, n]`` (a view)."""
    a, b = span
    return buf[a * B : b * B].view(b - a, B, buf.shape[1])


def _boundary_into(run: FusedRun, slots: Slots, inputs: FusedInputs) -> None:
    """The near faces' slots: the boundary tensors, or zeros (the additive face's slots are
    never read: its groups gather the parts instead)."""
    for k, span in enumerate(run.plan.boundary):
        if not (run.n_parts and k == run.N - 1):
            _face(slots.H, span, run.batch).copy_(0.0 if inputs.bh[k] is None else inputs.bh[k])
        _face(slots.M, span, run.batch).copy_(0.0 if inputs.bm[k] is None else inputs.bm[k])


def _forward_steps(run: FusedRun, weights: Sequence[BlockWeights], slots: Slots, inputs: FusedInputs,
                   acts_buf: Tensor) -> List[List[GroupActs]]:
    """Every hyperplane's groups in order (:func:`~reencoder.grid.fused_steps.forward_group`),
    their saved activations carved from ``acts_buf`` one after the other."""
    proj = project(weights, run.plan.groups, inputs.parts, run.K, run.dtype)
    used = 0

    def arena(R: int, width: int) -> Tensor:
        nonlocal used
        used += R * width
        return acts_buf[used - R * width : used].view(R, width)

    scratch = Scratch(slots.H, workspace=run.workspace, H=run.batch * max(g.cells for g in run.plan.groups) * run.N * run.n)
    acts = [[forward_group(run, g, weights[g.block], proj, slots, arena, scratch) for g in groups]
            for _, groups in run.plan.steps]
    scratch.release()
    return acts


def _exit_grads_into(saved: _Saved, grads: Slots, exit_grads: Sequence[Optional[Tensor]]) -> None:
    """Every exit slot's gradient: the incoming gradient of its exit, or zero."""
    N, n = saved.run.N, saved.run.n
    for buf, gs in ((grads.H, exit_grads[:N]), (grads.M, exit_grads[N:])):
        for rows, g in zip(saved.exit_rows, gs):
            if g is None:
                buf.index_fill_(0, rows, 0.0)
            else:
                buf.index_copy_(0, rows, g.to(buf.dtype).reshape(-1, n))


def _backward_scratch(run: FusedRun, like: Tensor, weights: Sequence[BlockWeights]) -> Scratch:
    rows_max = run.batch * max(g.cells for g in run.plan.groups)
    return Scratch(like, workspace=run.workspace, H=rows_max * run.N * run.n, dx=rows_max * run.N * run.n,
                   dG1=rows_max * max(w.W1.shape[0] for w in weights),
                   dG2=rows_max * max(4 * run.n if w.prio else 0 for w in weights))


def _restore_row_order(weights: Sequence[BlockWeights], dparams: List[List[Tensor]]) -> None:
    """The first transforms' gradients back from the gate-major GEMM rows to the blocks' order."""
    for w, dp in zip(weights, dparams):
        if w.perm is not None:
            inv = torch.argsort(w.perm)
            dp[0].copy_(dp[0][inv])
            dp[1].copy_(dp[1][inv])


class _FusedGrid(torch.autograd.Function):
    @staticmethod
    def forward(ctx, run: FusedRun, *tensors):
        inputs = FusedInputs.split(run, tensors)
        like = next(t for t in inputs.bh + inputs.parts if t is not None)
        plan, B, n, ws = run.plan, run.batch, run.n, run.workspace
        slots = Slots(ws.take((plan.size * B, n), like), ws.take((plan.size * B, n), like))  # rows
        weights = run.weights(inputs.flat)
        acts_buf = ws.take((sum(B * g.cells * weights[g.block].acts_width for g in plan.groups),), like)
        _boundary_into(run, slots, inputs)
        acts = _forward_steps(run, weights, slots, inputs, acts_buf)
        exit_rows = [plan.rows(e, B).view(-1).to(like.device) for e in plan.exits]  # [F_k * B] per axis
        exits = [buf.index_select(0, r).view(-1, B, n) for buf in slots for r in exit_rows]
        ctx.state = _Saved(run, exit_rows, acts, [t is not None for t in inputs.bh + inputs.bm])
        ctx.save_for_backward(*slots, *inputs.parts, *inputs.flat)
        if any(ctx.needs_input_grad):  # reusable once autograd has dropped this node
            weakref.finalize(ctx, ws.give, *slots, acts_buf).atexit = False
        else:
            ws.give(*slots, acts_buf)
        return tuple(exits)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, *exit_grads):
        saved = ctx.state
        run, plan, B = saved.run, saved.run.plan, saved.run.batch
        Hb, Mb, *rest = ctx.saved_tensors
        parts, flat = rest[: run.n_parts], rest[run.n_parts :]
        weights = run.weights(flat)
        dflat = [torch.zeros_like(p) for p in flat]
        dparams = split_block_params(run.blocks, dflat)
        additive = AdditiveGrads(weights, plan.groups, parts, B, run.K, Hb)
        # every slot's gradient is written once: by its exit or by the one cell that read it
        grads = Slots(run.workspace.take(Hb.shape, Hb), run.workspace.take(Mb.shape, Mb))
        _exit_grads_into(saved, grads, exit_grads)
        st = BackwardState(Slots(Hb, Mb), grads, weights, dparams, additive, _backward_scratch(run, Hb, weights))
        for (_, groups), step_acts in zip(reversed(plan.steps), reversed(saved.acts)):
            for g, acts in zip(groups, step_acts):
                backward_group(run, g, acts, st)
        st.scratch.release()
        dparts = additive.fold(weights, dparams, parts, run.K, run.dtype)
        _restore_row_order(weights, dparams)
        dbnd = [_face(buf, span, B).clone() if given else None
                for buf, given_k in ((grads.H, saved.given[: run.N]), (grads.M, saved.given[run.N :]))
                for span, given in zip(plan.boundary, given_k)]
        run.workspace.give(*grads)
        return (None, *dbnd, *dparts, *dflat)


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


def run_grid_fused(
    blocks: nn.ModuleList,
    shape: Shape,
    boundary_h: Sequence,
    boundary_m: Sequence[Optional[Tensor]],
    block_axis: Optional[int] = None,
    dropout: Optional[Sequence[float]] = None,
    compute_dtype: Optional[torch.dtype] = None,
    kernels: str = "fused",
    workspace: Workspace = WORKSPACE,
) -> Tuple[List[Tensor], List[Tensor]]:
    """:func:`reencoder.grid.wavefront.run_grid` with the hand-written backward (same grid
    arguments and results; no observer: observed grids run through ``run_grid``).

    ``compute_dtype`` is the dtype of the GEMM operands (default: that of the boundary
    tensors); states and gate math stay in the boundary dtype.  ``kernels``: ``"fused"`` runs
    the C++ gate and row kernels where they apply, ``"eager"`` the torch ops they replace.
    ``workspace`` lends the large buffers (a ``Workspace(keep=0)`` allocates them afresh).
    An :class:`~reencoder.grid.schedule.OuterSum` boundary on the priority axis, with one
    block per coordinate of it or a shared block, takes the additive path; any other is
    materialised."""
    if not fused_supported(blocks, dropout):
        raise ValueError("run_grid_fused supports LSTM dimensions with the priority dimension last or none")
    if kernels not in CHOICES:
        raise ValueError(f"kernels must be one of {CHOICES}, got {kernels!r}")
    N = len(shape)
    bh, parts = _additive_split(blocks, boundary_h, block_axis)
    template = next(t for t in bh + parts if t is not None)
    shared, additive = len(blocks) == 1, (N - 1 if parts else None)
    plan: FusedPlan = fused_plan(tuple(shape), block_axis if not shared or additive is not None else None, shared,
                                 additive)
    run = FusedRun(tuple(blocks), plan, template.shape[1], template.shape[2], compute_dtype or template.dtype,
                   tuple(dropout or [0.0] * N), blocks.training, len(parts), kernels, workspace)
    outs = _FusedGrid.apply(run, *bh, *boundary_m, *parts, *block_params(blocks))
    return list(outs[:N]), list(outs[N:])
