"""The blocks' matrices as the fused wavefront uses them, and its GEMMs on them.

Every block's parameters travel through :func:`reencoder.grid.fused_wavefront.run_grid_fused`
as one flat list (:func:`block_params`, in :attr:`~reencoder.grid.grid_lstm.BlockLayout.param_names`
order); :class:`BlockWeights` reads one block's from it by its
:class:`~reencoder.grid.grid_lstm.BlockLayout`: the first (non-priority) transforms' rows
permuted gate-major (:func:`reencoder.grid.gate_math.gate_major`), everything in the GEMM
dtype.  The GEMM helpers take operands in that dtype (bf16 GEMMs) and accumulate into buffers
of the states' dtype (fp32).
"""

from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional, Sequence

import torch
import torch.nn as nn
from torch import Tensor

from .gate_math import gate_major
from .grid_lstm import BlockLayout


class Columns(NamedTuple):
    """A block's matrices split at input column ``K = (N - 1) n``: the columns that read the
    first ``N - 1`` sides of ``H`` (eq. 4) or ``H'`` (§3.5), and those that read the priority
    side (the additive input ``x``); the priority ones are ``None`` without priority."""

    first_h: Tensor
    first_x: Tensor
    prio_h: Optional[Tensor]
    prio_x: Optional[Tensor]


class BlockWeights:
    """One block's matrices in the GEMM dtype: ``W1``, ``b1`` for the first transforms (one
    GEMM, rows gate-major: ``perm``, ``None`` when that is the identity), ``Wp``, ``bp`` for the
    priority transform (the same matrix when it has none of its own).  ``F`` first dimensions,
    ``prio_act`` the non-LSTM priority transform's ``α`` (§3.6) or ``None``, ``acts_width`` the
    activations a cell saves per batch row; :meth:`columns` splits the matrices at column ``K``."""

    def __init__(self, layout: BlockLayout, params: Sequence[Tensor], dtype: torch.dtype):
        self.shared_dims, self.cell = layout.shared_dims, layout.cell
        self.prio = layout.priority is not None
        self.own_priority = layout.own_priority
        self.prio_act = layout.priority_activation
        self.F = len(layout.first_dims)
        n = layout.hidden_size
        sets = len(layout.first)  # gate sets of the first GEMM: one per dimension, or one if shared (§3.4)
        self.perm = gate_major(sets, n).to(params[0].device) if sets > 1 else None
        W1, b1 = (params[0], params[1]) if self.perm is None else (params[0][self.perm], params[1][self.perm])
        self.W1, self.b1 = W1.to(dtype), b1.to(dtype)
        self.Wp = self.bp = None
        if self.prio:
            self.Wp, self.bp = (params[2].to(dtype), params[3].to(dtype)) if self.own_priority else (self.W1, self.b1)
        # per cell and batch row: the first transform's activations and T, then the priority's
        # (gates and T of an LSTM, or the activation h' alone of a non-LSTM transform)
        prio_width = 0 if not self.prio else (n if self.prio_act else 5 * n)
        self.acts_width = self.W1.shape[0] + self.F * n + prio_width
        self._cols: Dict[int, Columns] = {}

    def columns(self, K: int) -> Columns:
        """The matrices split at input column ``K``, as contiguous matrices."""
        if K not in self._cols:
            split = lambda W: (W[:, :K].contiguous(), W[:, K:].contiguous())  # noqa: E731
            self._cols[K] = Columns(*split(self.W1), *(split(self.Wp) if self.prio else (None, None)))
        return self._cols[K]


class ParamGrads(NamedTuple):
    """The gradients of one transform's matrix and bias (views of a block's gradients)."""

    weight: Tensor
    bias: Tensor


def first_grads(dp: List[Tensor]) -> ParamGrads:
    """The gradients of the first transforms' ``weight`` and ``bias`` in a block's ``dp``."""
    return ParamGrads(dp[0], dp[1])


def priority_grads(w: BlockWeights, dp: List[Tensor]) -> ParamGrads:
    """The gradients of the priority transform's matrix and bias: its own, or (one matrix for
    both transforms) the first transforms'."""
    return ParamGrads(dp[2], dp[3]) if w.own_priority else ParamGrads(dp[0], dp[1])


def block_params(blocks: Sequence[nn.Module]) -> List[Tensor]:
    """Every block's parameters, flat, in the order :func:`split_block_params` undoes."""
    return [p for blk in blocks for p in blk.params()]


def split_block_params(blocks: Sequence[nn.Module], flat: Sequence[Tensor]) -> List[List[Tensor]]:
    """``flat`` (parameters, or tensors shaped like them) cut into one list per block."""
    out, i = [], 0
    for blk in blocks:
        k = len(blk.layout.param_names)
        out.append(list(flat[i : i + k]))
        i += k
    return out


def linear_into(out: Tensor, a: Tensor, weight: Tensor, bias: Tensor = None) -> Tensor:
    """``out = bias + a @ weight.T``, or ``out += a @ weight.T`` without bias; operands in the
    weight's (GEMM) dtype, ``out`` in its own."""
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
