"""One target row of the Reencoder's grid from the row before it: the incremental decoding step.

In row ``j`` of the 3D grid (:mod:`reencoder.grid.reencoder_grid`) the block of cell
``(i, j, d)`` reads ``H = [h_src; h_tgt; h_dep]`` (paper eq. 4): ``h_src`` from ``(i-1, j, d)``,
``h_tgt`` from ``(i, j-1, d)`` (the carried row state) and ``h_dep`` from below, the input
``x_ij = s_i + t_j`` at ``d = 0`` or the depth output of ``(i, j, d-1)``.  Only ``h_src`` is made
in the row itself, so with the first transforms' matrix split by the sides it reads,
``W = [W_src | W_tgt | W_dep]``:

* ``W_tgt h_tgt + W_dep h_dep + b`` runs for all ``S`` cells of a layer as one GEMM;
* the source recurrence is left with ``W_src h_src`` (a third of the columns) and the gates of
  eq. 3 per cell;
* the priority (depth) transform of a cell (§3.5, an LSTM or §3.6's ``h' = α(V H')``) is read by
  no other cell of its layer, so it too runs once for all cells after the layer's row.

The wavefront runners (:mod:`reencoder.grid.fused_wavefront`) instead walk the row's
``S + D - 1`` hyperplanes of one cell each, with a full gather, GEMM and priority GEMM per cell.
The function is the same (tested against them: ``tests/unit/test_row_step.py``); GEMM operands
are in ``compute_dtype`` as there, states and gate math in the inputs' dtype.  With bf16 operands
on a CPU with bf16 dot products the row's GEMMs run in :mod:`.bf16_gemm`'s kernel (fp32 sums;
torch's bf16 GEMM, slow at these small shapes, rounds its sums to bf16).  No autograd and
no dropout: :func:`row_step_applies` says when a grid may take this path.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from . import bf16_gemm
from .bf16_gemm import kernel_runs, pack_bf16
from .fused_memory import BlockWeights, linear_cast_into
from .gate_math import activation_forward, gates_forward

RowState = Tuple[Tensor, Tensor]  # (h, m), each [S * D, B, n] in (i, d) order


def row_step_applies(blocks: Sequence[nn.Module], depth_dropout: float) -> bool:
    """Whether :func:`run_row` computes these blocks now: 3D blocks whose priority dimension is
    depth (last) and whose first transforms are LSTMs, outside autograd, with no dropout in
    effect (evaluation, or none configured)."""
    if torch.is_grad_enabled() and any(p.requires_grad for blk in blocks for p in blk.parameters()):
        return False
    if depth_dropout > 0 and any(blk.training for blk in blocks):
        return False
    return all(blk.layout.num_dims == 3 and blk.layout.priority_dim == 2 and all(t.lstm for t in blk.layout.first)
               for blk in blocks)


@torch.no_grad()
def run_row(blocks: Sequence[nn.Module], src_in: Tensor, tgt_in: Tensor, row_state: RowState,
            compute_dtype: Optional[torch.dtype] = None, kernels: str = "cpp",
            src_lengths: Optional[Tensor] = None, copies: Optional[Dict[str, object]] = None
            ) -> Tuple[Tensor, RowState]:
    """One row: ``src_in`` ``[B, S, n]`` (the source half of the input projection), ``tgt_in``
    ``[B, 1, n]`` (this row's target half), ``row_state`` entering the row.  Returns the top
    depth's hidden vectors ``[B, 1, S, n]`` and the row state leaving it (as
    :meth:`reencoder.grid.reencoder_grid.ReencoderGrid.forward` for ``T = 1``).

    With ``src_lengths`` in non-increasing order (fairseq's batches and beams are), the row
    computes its real cells only (``i < |x|``, :class:`_RealCells`): the padding cells' states and
    outputs are zeros, not what the wavefront computes there, and no real cell reads them (right
    padding).  ``copies``: a
    dict kept for one decoding run (the weights cannot change inside it), where each block's
    matrices in the GEMM dtype (packed for the bf16 kernel) are made once instead of every row."""
    B, S, n = src_in.shape
    D = row_state[0].shape[0] // S
    dtype = compute_dtype or src_in.dtype
    counts = active_rows(src_lengths, S, B)
    cells = None if counts is None else _RealCells(counts, B, src_in.device)
    h_row, m_row = (t.view(S, D, B, n) for t in row_state)
    new_h, new_m = torch.empty_like(h_row), torch.empty_like(m_row)
    dep_h = src_in.transpose(0, 1) + tgt_in.transpose(0, 1)  # [S, B, n]: x_ij = s_i + t_j
    dep_m = None  # the depth memory entering layer 0: zeros
    for d in range(D):
        blk = blocks[min(d, len(blocks) - 1)]  # one block per layer, or one for all (tied depth)
        w = _row_weights(blk, dtype, dep_h, copies, f"grid_row_{min(d, len(blocks) - 1)}")
        H, M = _first_transforms(w, blk.layout.cell, h_row[:, d], m_row[:, d], dep_h, kernels, cells)
        new_h[:, d], new_m[:, d] = H[:, :, 1], M[:, :, 1]  # the target side: the next row's state
        dep_h, dep_m = _priority_transform(w, blk.layout.cell, H, dep_h, dep_m, kernels, cells)
    top = dep_h.view(S, B, n).permute(1, 0, 2).unsqueeze(1)  # [B, 1, S, n]
    return top, (new_h.view(S * D, B, n), new_m.view(S * D, B, n))


def active_rows(src_lengths: Optional[Tensor], S: int, B: int) -> Optional[List[int]]:
    """How many batch rows are real at each source position, ``[(|x_b| > i).sum() for i < S]``,
    when the rows are sorted by non-increasing length (the real rows of position ``i`` are then
    the first ones); ``None`` without lengths, for unsorted rows, or when no cell is padding."""
    if src_lengths is None or B < 2:
        return None
    lengths = src_lengths.to("cpu", torch.long)
    if bool((lengths[1:] > lengths[:-1]).any()) or int(lengths[-1]) >= S:
        return None
    return (lengths.unsqueeze(0) > torch.arange(S).unsqueeze(1)).sum(1).tolist()


class _RealCells:
    """The real cells of a row of a sorted, padded batch: ``counts[i]`` real rows at source
    position ``i`` (the first ones), ``index`` their places in the row's ``[S * B]`` cell order
    (``(i, b)``), ``offsets[i]`` where position ``i``'s rows start among them."""

    def __init__(self, counts: List[int], B: int, device: torch.device):
        self.counts = counts
        self.offsets = [sum(counts[:i]) for i in range(len(counts))]
        self.index = torch.cat([torch.arange(r) + i * B for i, r in enumerate(counts)]).to(device)

    def gather(self, t: Tensor) -> Tensor:
        """The real cells' rows of ``t`` ``[S * B, ...]``."""
        return t.index_select(0, self.index)

    def scatter(self, rows: Tensor, S: int, B: int) -> Tensor:
        """``[S * B, ...]``: ``rows`` at the real cells, zeros at the padding cells."""
        return rows.new_zeros(S * B, *rows.shape[1:]).index_copy_(0, self.index, rows)


class _Weight:
    """A GEMM's matrix for ``out``-like results: bf16 on a CPU with bf16 dot products also packed
    for :mod:`.bf16_gemm`'s kernel (fp32 sums; torch's bf16 GEMM, slow at the row's small shapes,
    rounds its sums to bf16)."""

    def __init__(self, matrix: Tensor, out: Tensor):
        self.matrix = matrix
        low = matrix.dtype == torch.bfloat16 and kernel_runs(out)
        self.packed = pack_bf16(matrix) if low else None


class _RowWeights:
    """One block's matrices as the row step multiplies them, split by the sides they read:
    ``known`` (``[W_tgt | W_dep]``) and ``src`` of the first transforms, ``prio_h`` (the
    ``[h'_src; h'_tgt]`` columns) and ``prio_dep`` of the priority transform."""

    def __init__(self, blk: nn.Module, dtype: torch.dtype, like: Tensor):
        w = BlockWeights(blk.layout, blk.params(), dtype)
        n = blk.layout.hidden_size
        self.b1, self.bp, self.prio_act = w.b1, w.bp, w.prio_act
        self.known, self.src = _Weight(w.W1[:, n:].contiguous(), like), _Weight(w.W1[:, :n].contiguous(), like)
        self.prio_h, self.prio_dep = _Weight(w.Wp[:, : 2 * n], like), _Weight(w.Wp[:, 2 * n :], like)


def _row_weights(blk: nn.Module, dtype: torch.dtype, like: Tensor, copies: Optional[Dict[str, object]],
                 key: str) -> _RowWeights:
    """``blk``'s :class:`_RowWeights`, made once per decoding run when ``copies`` is given."""
    if copies is None:
        return _RowWeights(blk, dtype, like)
    key = f"{key}_{dtype}_{like.dtype}"
    if key not in copies:
        copies[key] = _RowWeights(blk, dtype, like)
    return copies[key]  # type: ignore[return-value]


def _gemm(out: Tensor, a: Tensor, w: _Weight, bias: Optional[Tensor] = None) -> None:
    """``out = bias + a @ W.T``, or ``out += a @ W.T`` without bias: by :func:`linear_cast_into`, or
    with ``W`` packed by :func:`~reencoder.grid.bf16_gemm.linear_bf16_into`."""
    if w.packed is None:
        linear_cast_into(out, a, w.matrix, bias)
    else:
        bf16_gemm.linear_bf16_into(out, a, w.packed, bias)


def _first_transforms(w: _RowWeights, cell: str, h_tgt: Tensor, m_tgt: Tensor, dep_h: Tensor,
                      kernels: str, cells: Optional[_RealCells] = None) -> Tuple[Tensor, Tensor]:
    """The LSTM sides (source, target) of one layer's ``S`` cells: ``[S, B, 2, n]`` hidden and
    memory vectors, ``[..., 0, :]`` the source side, ``[..., 1, :]`` the target side (with
    ``cells``, the real cells only; zeros in the padding cells)."""
    S, B, n = dep_h.shape
    fdt = dep_h.dtype
    known = torch.cat([h_tgt, dep_h], dim=-1).view(S * B, 2 * n)  # [h_tgt; h_dep] of every cell
    if cells is not None:
        known = cells.gather(known)
    pre = torch.empty(known.shape[0], w.known.matrix.shape[0], dtype=fdt, device=dep_h.device)
    _gemm(pre, known, w.known, w.b1)
    new = torch.empty if cells is None else torch.zeros
    H = new(S, B, 2, n, dtype=fdt, device=dep_h.device)
    M = new(S, B, 2, n, dtype=fdt, device=dep_h.device)
    m_in = torch.zeros(B, 2, n, dtype=fdt, device=dep_h.device)  # source side: zeros at i = 0
    T = torch.empty(B, 2, n, dtype=fdt, device=dep_h.device)
    for i in range(S):
        r = B if cells is None else cells.counts[i]  # the real rows: the first r
        p = pre[i * B : (i + 1) * B] if cells is None else pre[cells.offsets[i] : cells.offsets[i] + r]
        if i > 0:  # the source recurrence: h_src, m_src from cell i - 1
            _gemm(p, H[i - 1, :r, 0], w.src)
            m_in[:r, 0] = M[i - 1, :r, 0]
        m_in[:r, 1] = m_tgt[i, :r]
        gates_forward(p, m_in[:r], cell, H[i, :r], M[i, :r], T[:r], kernels)
    return H, M


def _priority_transform(w: _RowWeights, cell: str, H: Tensor, dep_h: Tensor, dep_m: Optional[Tensor],
                        kernels: str, cells: Optional[_RealCells] = None) -> Tuple[Tensor, Optional[Tensor]]:
    """The depth outputs of one layer's cells on ``H' = [h'_src; h'_tgt; h_dep]`` (§3.5):
    ``[S, B, n]`` hidden vectors and memories (``None`` for §3.6's memoryless transform); with
    ``cells``, computed for the real cells only, zeros in the padding cells."""
    S, B, _, n = H.shape
    h_in, d_in = H.view(S * B, 2 * n), dep_h.reshape(S * B, n)
    m_in = None if dep_m is None else dep_m.reshape(S * B, 1, n)
    if cells is not None:
        h_in, d_in = cells.gather(h_in), cells.gather(d_in)
        m_in = None if m_in is None else cells.gather(m_in)
    C = h_in.shape[0]
    pre = torch.empty(C, w.prio_h.matrix.shape[0], dtype=H.dtype, device=H.device)
    _gemm(pre, h_in, w.prio_h, w.bp)
    _gemm(pre, d_in, w.prio_dep)
    full = (lambda t: t) if cells is None else (lambda t: cells.scatter(t, S, B))  # noqa: E731
    if w.prio_act:
        return full(activation_forward(pre, w.prio_act)).view(S, B, n), None
    m_in = torch.zeros(C, 1, n, dtype=H.dtype, device=H.device) if m_in is None else m_in
    h_out, m_out, T = (torch.empty(C, 1, n, dtype=H.dtype, device=H.device) for _ in range(3))
    gates_forward(pre, m_in, cell, h_out, m_out, T, kernels)
    return full(h_out).view(S, B, n), full(m_out).view(S, B, n)
