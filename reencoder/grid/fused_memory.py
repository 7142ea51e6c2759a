"""What the fused wavefront (:mod:`reencoder.grid.fused_wavefront`) computes in: where every
vector of the grid lies (:class:`SlotPlan`), the blocks' matrices as its GEMMs take them
(:class:`BlockWeights`, and the GEMMs), and its large buffers, reused between calls
(:class:`Workspace`).

**Slots and lines.**  The pass keeps every hidden vector of the grid in one buffer and every
memory vector in another, ``[slots * B, n]`` each.  A *slot* is the ``[B, n]`` vector of one
side of one cell (or of one boundary position); a *line* is one batch element's ``n`` values of
a slot, one row of the buffer.  First come the near faces of every axis (the boundary, in face
order), then the outputs of every cell *in the order they are computed*: hyperplane by
hyperplane, group by group.  Boundary slots are stored slot-major (line ``s B + b``, so a face
is its ``[F_k, B, n]`` tensor); a group's outputs are stored ``[cells, B, N, n]`` (cell, batch
element, side), exactly the ``[R, N, n]`` layout its gate math writes and its priority GEMM
reads (``R = cells * B``).  So a group writes its outputs into one contiguous slice, and
reads its inputs with one gather that yields ``H = [h_1; ...; h_N]`` of eq. 4 as ``[R, N n]``
directly.  Every slot is written once.

**Weights.**  A block's first (non-priority) transforms run as one GEMM whose rows are permuted
gate-major (:func:`reencoder.grid.gate_math.gate_major`), every matrix in the GEMM dtype; the
GEMM helpers take operands in that dtype (bf16 GEMMs) and accumulate into buffers of the
states' dtype (fp32).

**The additive input.**  A priority-axis boundary given as an
:class:`~reencoder.grid.schedule.OuterSum` (the Reencoder's depth input ``x_ij = s_i + t_j``)
is never materialised: the priority side's share of both transforms is linear in it,
``W_x x_ij = W_x s_i + W_x t_j``, so :func:`project_parts` computes it once for the ``S + T``
parts (the bias added to the first part's, so that the per-cell sum carries it once) and
:func:`gather_parts` sums it per cell into a group's pre-activations; backwards,
:func:`scatter_parts` sums the pre-activations' gradients per part (folded into the parts' and
the matrices' gradients with one GEMM per part): the depth-0 GEMMs shrink by a third.

**Workspace.**  A training step needs a few buffers of hundreds of MB (the slots, their
gradients, the gate activations).  Freshly allocated memory is paged in on first touch, and on
the 2-core development VM that cost more than the arithmetic done in it; glibc returns such
blocks to the system on free, so every step paid it again (``make bench``'s row "same,
workspace not reused", ``recipes/RESULTS.md``, "Performance").  A :class:`Workspace` keeps
released flat tensors and lends views of them.  A tensor taken from it belongs to the caller
until given back; views of it must not outlive that (copy what leaves the caller).
"""

from __future__ import annotations

import atexit
import functools
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from . import gate_kernels
from .gate_math import gate_major
from .grid_lstm import BlockLayout
from .schedule import Shape, face_index, schedule

# ----------------------------------------------------------------------------- slots


@dataclass
class Group:
    """The cells of one hyperplane computed by one block, with one GEMM per transform."""

    block: int
    cells: int
    start: int  # its outputs are slots [start, start + N cells): slot start + c N + k is side k of cell c
    in_slots: Tensor  # [cells, N]: the slot side k of cell c reads
    part_idx: Optional[List[Tensor]] = None  # cells on the additive face: their face coordinates


@dataclass
class SlotPlan:
    """The slots of a grid shape (see the module docstring) and the groups that fill them."""

    shape: Shape
    size: int  # number of slots
    boundary: List[Tuple[int, int]]  # per axis: the slot range of its near face (face order)
    exits: List[Tensor]  # per axis, [F_k]: the output slots of its far face, in face order
    steps: List[List[Group]]  # the groups of every hyperplane
    # line of slot s, batch element b: first[s] * B + side[s] + stride[s] * b (boundary: s B + b;
    # side k of cell c of a group: (start + c N) B + k + N b)
    first: Tensor
    side: Tensor
    stride: Tensor

    def lines(self, slots: Tensor, B: int) -> Tensor:
        """The buffer lines of ``slots`` (any shape) for batch size ``B``: shape ``[..., B]``."""
        line0 = (self.first[slots] * B + self.side[slots]).unsqueeze(-1)
        return line0 + self.stride[slots].unsqueeze(-1) * torch.arange(B)

    def in_lines(self, g: Group, B: int) -> Tensor:
        """``[R * N]``: the lines a group's gather reads, ordered (cell, batch element, side)."""
        return self.lines(g.in_slots, B).transpose(1, 2).reshape(-1)

    @property
    def groups(self) -> List[Group]:
        return [g for groups in self.steps for g in groups]


def _runs(step, block_axis: Optional[int], shared: bool, additive_axis: Optional[int]) -> List[list]:
    """``[block, c0, c1, additive]`` per run of cells ``c0 .. c1 - 1`` of one schedule step that one
    block computes in one GEMM: adjacent runs of a block merged (a shared block computes all
    depths of a step at once), the cells on the additive face in runs of their own."""
    runs: List[list] = []
    for coord, c0, c1 in step.groups:
        block = 0 if shared or block_axis is None else coord
        additive = additive_axis is not None and coord == 0
        if runs and runs[-1][0] == block and not additive and not runs[-1][3]:
            runs[-1][2] = c1
        else:
            runs.append([block, c0, c1, additive])
    return runs


@functools.lru_cache(maxsize=512)
def slot_plan(shape: Shape, block_axis: Optional[int], shared: bool = False,
              additive_axis: Optional[int] = None) -> SlotPlan:
    """The slots of a grid, cached per shape.

    Args:
        block_axis: cells of a step are sorted along it; one block per coordinate unless
            ``shared`` (one block for all).
        additive_axis: the axis whose boundary is an :class:`~reencoder.grid.schedule.OuterSum`
            (must equal ``block_axis``): its near-face cells get groups of their own, which
            carry their face coordinates (``part_idx``).
    """
    if additive_axis is not None and additive_axis != block_axis:
        raise ValueError("an additive boundary needs its axis as the block axis")
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
    for st in schedule(shape, block_axis).steps:
        cells = [tuple(c) for c in st.coords.tolist()]
        groups = []
        for blk, c0, c1, additive in _runs(st, block_axis, shared, additive_axis):
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
            groups.append(Group(blk, count, off, torch.tensor(ins, dtype=torch.long).view(count, ndim), part_idx))
            off += ndim * count
        steps.append(groups)
    long = lambda v: torch.tensor(v, dtype=torch.long)  # noqa: E731
    return SlotPlan(tuple(shape), off, boundary, [long(e) for e in exits], steps, long(first), long(side), long(stride))


# ----------------------------------------------------------------------------- weights and GEMMs


class BlockWeights:
    """One block's matrices in the GEMM dtype: ``W1``, ``b1`` of the first transforms (one GEMM,
    rows gate-major: ``perm``, ``None`` when that is the identity), ``Wp``, ``bp`` of the
    priority transform (the first transforms' own when it has none: §3.4's shared dims).  ``F``
    first dimensions, ``prio_act`` the non-LSTM priority transform's ``α`` (§3.6) or ``None``,
    ``acts_width`` the activations a cell saves per batch element.  ``W1_h``, ``Wp_h``: a
    matrix's columns ``[:, :K]`` that read the first ``N - 1`` sides (``K = (N - 1) n``);
    ``W1_x``, ``Wp_x``: those that read the priority side (the input ``x`` at depth 0)."""

    def __init__(self, layout: BlockLayout, params: Sequence[Tensor], dtype: torch.dtype):
        self.shared_dims, self.cell = layout.shared_dims, layout.cell
        self.prio = layout.priority is not None
        self.prio_param = 2 if layout.own_priority else 0  # where Wp's gradient lies in a block's parameters
        self.prio_act = layout.priority_activation
        self.F = len(layout.first_dims)
        n = layout.hidden_size
        self.K = (layout.num_dims - 1) * n
        sets = len(layout.first)  # gate sets of the first GEMM: one per dimension, or one if shared (§3.4)
        self.perm = gate_major(sets, n).to(params[0].device) if sets > 1 else None
        W1, b1 = (params[0], params[1]) if self.perm is None else (params[0][self.perm], params[1][self.perm])
        self.W1, self.b1 = W1.to(dtype), b1.to(dtype)
        self.Wp = self.bp = None
        if self.prio:
            self.Wp, self.bp = (params[2].to(dtype), params[3].to(dtype)) if layout.own_priority else (self.W1, self.b1)
        # per cell and batch element: the first transform's activations and T, then the priority's
        # (gates and T of an LSTM, or the activation h' alone of a non-LSTM transform)
        prio_width = 0 if not self.prio else (n if self.prio_act else 5 * n)
        self.acts_width = self.W1.shape[0] + self.F * n + prio_width

    W1_h = functools.cached_property(lambda self: self.W1[:, : self.K].contiguous())
    W1_x = functools.cached_property(lambda self: self.W1[:, self.K :].contiguous())
    Wp_h = functools.cached_property(lambda self: self.Wp[:, : self.K].contiguous())
    Wp_x = functools.cached_property(lambda self: self.Wp[:, self.K :].contiguous())


def linear_cast_into(out: Tensor, a: Tensor, weight: Tensor, bias: Tensor = None) -> Tensor:
    """``out = bias + a @ weight.T``, or ``out += a @ weight.T`` without bias; ``a`` cast to the
    weight's (GEMM) dtype, the product added in ``out``'s own."""
    if weight.dtype == out.dtype:
        if bias is None:
            return out.addmm_(a, weight.t())
        return torch.addmm(bias, a, weight.t(), out=out)
    prod = torch.mm(a.to(weight.dtype), weight.t())
    return out.add_(prod) if bias is None else out.copy_(prod).add_(bias)


def mm_as(a: Tensor, b: Tensor, dtype: torch.dtype, out_dtype: torch.dtype, out: Tensor = None) -> Tensor:
    """``a @ b`` with operands in the GEMM dtype, the result in ``out_dtype`` (in ``out`` when
    given, a contiguous tensor of that dtype)."""
    if out is None:
        return torch.mm(a.to(dtype), b.to(dtype)).to(out_dtype)
    if out.dtype == dtype:
        return torch.mm(a.to(dtype), b.to(dtype), out=out)
    return out.copy_(torch.mm(a.to(dtype), b.to(dtype)))


def acc_mm(acc: Tensor, a: Tensor, b: Tensor, dtype: torch.dtype) -> None:
    """``acc += a @ b`` (a weight gradient) with operands in the GEMM dtype."""
    if dtype == acc.dtype:
        acc.addmm_(a, b)
    else:
        acc.add_(torch.mm(a.to(dtype), b.to(dtype)))


# ----------------------------------------------------------------------------- the additive input


def project_parts(weights: Sequence[BlockWeights], groups: Sequence[Group], parts: Sequence[Tensor],
                  dtype: torch.dtype) -> Dict[int, tuple]:
    """Per block that computes additive groups, ``(first, prio)``: for each transform the parts
    through its ``x`` columns, ``[L * B, rows]`` each (``W_x p + b`` for the first part, ``W_x p``
    for the others)."""
    proj: Dict[int, tuple] = {}
    for g in groups:
        if g.part_idx is None or g.block in proj:
            continue
        w, n = weights[g.block], parts[0].shape[-1]
        proj[g.block] = tuple([mm_as(p.reshape(-1, n), W.t(), dtype, parts[0].dtype) for p in parts]
                              for W in (w.W1_x, w.Wp_x))
        for first, b in zip(proj[g.block], (w.b1, w.bp)):
            first[0].add_(b)
    return proj


def gather_parts(out: Tensor, projected: Sequence[Tensor], g: Group, kernels: str) -> Tensor:
    """``out[(c, b)] = Σ_a projected[a][c_a, b]``: the additive input's share of a transform."""
    flat = out.view(g.cells, -1)  # [R, W] -> [cells, B * W]: one row per cell (R = cells * B, cell-major)
    rows = [p.view(-1, flat.shape[1]) for p in projected]  # [L * B, W] -> [L, B * W]
    idx = [i.to(out.device) for i in g.part_idx]
    if kernels == "cpp" and gate_kernels.rows_usable(flat, *rows):
        gate_kernels.gather_rows_sum(flat, rows, idx)
        return out
    torch.index_select(rows[0], 0, idx[0], out=flat)
    for p, i in zip(rows[1:], idx[1:]):
        flat.add_(p.index_select(0, i))
    return out


def scatter_parts(acc: Sequence[Tensor], dG: Tensor, g: Group, kernels: str) -> None:
    """``acc[a][c_a] += dG[c]``: the backward of :func:`gather_parts`."""
    rows = dG.view(g.cells, -1)  # [R, W] -> [cells, B * W]
    for a, i in zip(acc, g.part_idx):
        a = a.view(-1, rows.shape[1])
        if kernels == "cpp" and gate_kernels.rows_usable(a, rows):
            gate_kernels.scatter_rows_add(a, i, rows)
        else:
            a.index_add_(0, i.to(dG.device), rows)


# ----------------------------------------------------------------------------- reused memory


class Workspace:
    """A small pool of flat tensors per (device, dtype).

    Args:
        keep: how many released tensors to keep per (device, dtype); the smallest are dropped.
        slack: a request of ``numel`` values takes a kept tensor of at most ``slack * numel``
            values, so a small request does not pin a huge buffer.
    """

    def __init__(self, keep: int = 8, slack: float = 4.0):
        self.keep, self.slack = keep, slack
        self.free: Dict[Tuple[torch.device, torch.dtype], List[Tensor]] = {}

    def take(self, shape, like: Tensor) -> Tensor:
        """An uninitialised tensor of ``shape`` on ``like``'s device and dtype."""
        numel = math.prod(shape)
        pool = self.free.setdefault((like.device, like.dtype), [])
        fits = [t for t in pool if numel <= t.numel() <= self.slack * max(numel, 1)]
        if fits:
            flat = min(fits, key=Tensor.numel)
            del pool[next(i for i, t in enumerate(pool) if t is flat)]
        else:  # a little headroom, so slowly growing requests reuse it
            flat = like.new_empty(int(numel * 1.125) + 1024)
        return flat[:numel].view(shape)

    def give(self, *tensors: Tensor) -> None:
        """Return tensors obtained from :meth:`take` (or views of them): their whole storage is
        kept.  Inference tensors (made under ``torch.inference_mode``) are not kept, since
        autograd refuses to save them later."""
        for t in tensors:
            if t.is_inference():
                continue
            storage = t.untyped_storage()
            pool = self.free.setdefault((t.device, t.dtype), [])
            if any(p.untyped_storage().data_ptr() == storage.data_ptr() for p in pool):
                continue
            # made outside inference mode: a handle made inside it would be an inference tensor,
            # and every later take() outside it would hand out views that refuse in-place writes
            with torch.inference_mode(False):
                pool.append(t.new_empty(0).set_(storage, 0, (storage.nbytes() // t.element_size(),)))
            pool.sort(key=Tensor.numel, reverse=True)
            del pool[self.keep :]

    def clear(self) -> None:
        self.free.clear()


WORKSPACE = Workspace()
atexit.register(WORKSPACE.clear)  # let go of the kept buffers before the interpreter (and CUDA) shut down


class Scratch:
    """Named scratch buffers carved from one tensor of ``workspace``, each as large as its largest
    use: a loop that needs a fresh ``[R, W]`` temporary per iteration takes ``scratch("name", R,
    W)`` instead, already paged in.  A view is valid until the next call with the same name;
    :meth:`release` gives the memory back."""

    def __init__(self, like: Tensor, workspace: Workspace, **numels: int):
        self.workspace = workspace
        self.flat = workspace.take((sum(numels.values()),), like)
        self.bufs, off = {}, 0
        for name, size in numels.items():
            self.bufs[name] = self.flat[off : off + size]
            off += size

    def __call__(self, name: str, *shape: int) -> Tensor:
        return self.bufs[name][: math.prod(shape)].view(shape)

    def release(self) -> None:
        self.workspace.give(self.flat)
        self.flat, self.bufs = None, {}
