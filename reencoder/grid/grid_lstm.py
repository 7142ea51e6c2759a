"""The N-dimensional Grid LSTM block (Kalchbrenner, Danihelka & Graves, ICLR 2016, §3).

A block has N sides. It receives N hidden vectors ``h_1..h_N`` and N memory vectors
``m_1..m_N`` and concatenates the hidden vectors (paper eq. 4)::

    H = [h_1; ...; h_N]

Each dimension ``k`` then applies its own LSTM transform (paper eq. 5)::

    (h'_k, m'_k) = LSTM(H, m_k, W_k)

with the LSTM of paper eq. 3 (``u`` input, ``f`` forget, ``o`` output, ``c`` candidate)::

    g^u = σ(W^u H)   g^f = σ(W^f H)   g^o = σ(W^o H)   g^c = tanh(W^c H)
    m' = g^f ⊙ m + g^u ⊙ g^c
    h' = tanh(g^o ⊙ m')              (output gate before the tanh, ``cell="gate-then-tanh"``)
    h' = g^o ⊙ tanh(m')              (standard LSTM, ``cell="standard"``)

Options from the paper:

* **Weight sharing** (§3.4): ``shared_dims=True`` makes every dimension use the same ``W``.
  Since all non-priority dimensions see the same ``H``, non-priority dimensions sharing ``W``
  share one set of gates and differ only through their memory vectors; the block computes the
  gates once.  A non-LSTM priority dimension next to LSTM dimensions sharing ``W`` keeps its
  own ``V``.
* **Priority dimensions** (§3.5): the other dimensions are computed first; the priority
  dimension then sees their *updated* hidden vectors, ``H' = [h'_1; ...; h_p; ...; h'_N]``.
* **Priority gate bias** (ours, a conditioning fix; see ``recipes/RESULTS.md``, "The LSTM depth"):
  a priority LSTM that receives a zero memory (the depth LSTM at the bottom of a grid) is, at
  initialisation, a gated feed-forward layer ``h' = σ(u)·tanh(σ(u')·tanh(c))`` whose gain is
  ``σ(b_u)·σ(b_o)`` = 1/4 with zero biases.  Its output feeds the softmax, so the first plateau
  of training lasts far longer than with a tanh depth (measured there).  ``priority_gate_bias`` initialises the
  input and output gate biases of the priority LSTM open (2.0: gain σ(2)² ≈ 0.78).
* **Non-LSTM dimensions** (§3.6): ``h'_k = α(V_k H)`` with no memory (``α`` = tanh or ReLU);
  their memory output is returned as zeros so every side keeps the same interface.

A block's transforms, which dimensions each computes and where its rows lie in the parameters,
are described once by its :attr:`GridLSTMBlock.layout` (:class:`BlockLayout`), which the fused
runner and the visualisation read.  All non-priority transforms are computed by **one** matmul
``H @ [W_1 | W_2 | ...]``; the
priority transform is a second matmul, as it must wait for the others.  The block works on
flat ``[M, n]`` tensors (any number of cells times batch), so a wavefront scheduler can feed a
whole hyperplane of grid cells to it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

CELL_TYPES = ("standard", "gate-then-tanh")
ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


def lstm_pointwise(gates: Tensor, m: Tensor, cell: str) -> Tuple[Tensor, Tensor]:
    """Paper eq. 3 given the pre-activations ``gates = W H + b`` laid out as ``[u | f | o | c]``.

    ``gates`` may carry extra leading sides (``[..., 4n]``) broadcast against ``m``.  The three
    sigmoid gates are contiguous, so one sigmoid call covers them (fewer, larger kernels).
    """
    n = gates.shape[-1] // 4
    sig = torch.sigmoid(gates[..., : 3 * n])
    u, f, o = sig[..., :n], sig[..., n : 2 * n], sig[..., 2 * n :]
    m_new = torch.addcmul(f * m, u, torch.tanh(gates[..., 3 * n :]))
    if cell == "gate-then-tanh":
        h_new = torch.tanh(o * m_new)
    else:
        h_new = o * torch.tanh(m_new)
    return h_new, m_new


@dataclass(frozen=True)
class Transform:
    """One transform of a block: which dimensions it computes and where its rows lie.

    ``dims`` share it (one dimension, or every non-priority dimension of §3.4's shared dims, which
    then share one set of gates and differ only through their memories); ``lstm`` says whether it
    is the LSTM of eq. 3 or §3.6's ``h' = α(V H)``; its rows are ``rows[0]:rows[1]`` of the
    block's parameters named ``weight`` and ``bias`` (``[u | f | o | c]`` per LSTM, ``4n``
    rows, or ``n`` rows of ``V``)."""

    dims: Tuple[int, ...]
    lstm: bool
    weight: str
    bias: str
    rows: Tuple[int, int]


@dataclass(frozen=True)
class BlockLayout:
    """What a :class:`GridLSTMBlock` computes, in one place: its first (non-priority)
    transforms, computed by one GEMM on ``H`` (eq. 4), and the priority transform (§3.5),
    computed after them on ``H'``; the fused runner, its gate math and the visualisation read
    it instead of re-deriving it."""

    num_dims: int
    hidden_size: int
    cell: str
    activation: str
    shared_dims: bool
    priority_dim: Optional[int]
    first: Tuple[Transform, ...]
    priority: Optional[Transform]

    @property
    def first_dims(self) -> Tuple[int, ...]:
        return tuple(k for t in self.first for k in t.dims)

    @property
    def lstm_dims(self) -> Tuple[int, ...]:
        return tuple(sorted(k for t in self.transforms for k in t.dims if t.lstm))

    @property
    def transforms(self) -> Tuple[Transform, ...]:
        return self.first + ((self.priority,) if self.priority is not None else ())

    @property
    def own_priority(self) -> bool:
        """Whether the priority transform has a matrix of its own (``priority_weight``)."""
        return self.priority is not None and self.priority.weight == "priority_weight"

    @property
    def priority_activation(self) -> Optional[str]:
        """``α`` of a non-LSTM priority transform (§3.6), or ``None``."""
        return None if self.priority is None or self.priority.lstm else self.activation

    @property
    def param_names(self) -> Tuple[str, ...]:
        """The block's parameters in the order the fused runner passes them."""
        return ("weight", "bias") + (("priority_weight", "priority_bias") if self.own_priority else ())

    def transform_of(self, k: int) -> Transform:
        """The transform that computes dimension ``k``."""
        return next(t for t in self.transforms if k in t.dims)


def block_layout(num_dims: int, n: int, priority_dim: Optional[int], shared_dims: bool, non_lstm: Sequence[int],
                 cell: str, activation: str) -> BlockLayout:
    """The transforms of a block with these options (see :class:`GridLSTMBlock`)."""
    first_dims = [k for k in range(num_dims) if k != priority_dim]
    width = lambda k: n if k in non_lstm else 4 * n  # noqa: E731
    groups = [tuple(first_dims)] if shared_dims and first_dims else [(k,) for k in first_dims]
    first, off = [], 0
    for dims in groups:
        first.append(Transform(dims, dims[0] not in non_lstm, "weight", "bias", (off, off + width(dims[0]))))
        off += width(dims[0])
    priority = None
    if priority_dim is not None:
        lstm = priority_dim not in non_lstm
        # its own matrix unless it shares the first transforms' (of its kind, or there are none)
        shared = shared_dims and (not first or first[0].lstm == lstm)
        names = ("weight", "bias") if shared else ("priority_weight", "priority_bias")
        priority = Transform((priority_dim,), lstm, *names, (0, width(priority_dim)))
    return BlockLayout(num_dims, n, cell, activation, shared_dims, priority_dim, tuple(first), priority)


class GemmOperands:
    """The blocks' GEMMs with their operands in ``dtype`` (``None``: as they are), for one grid
    run: each parameter is cast once and reused by every call, as ``torch.autocast``'s weight
    cache did when the models wrapped the grid in it, so a parameter's gradient is summed over
    its uses in ``dtype`` before it is cast back (the bf16 numerics of that path, kept)."""

    def __init__(self, dtype: Optional[torch.dtype] = None):
        self.dtype = dtype
        self._cast: Dict[int, Tensor] = {}

    def param(self, p: Tensor) -> Tensor:
        if self.dtype is None or p.dtype == self.dtype:
            return p
        if id(p) not in self._cast:
            self._cast[id(p)] = p.to(self.dtype)
        return self._cast[id(p)]

    def linear(self, x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        """``F.linear`` on the operands in ``dtype``: the result is in ``dtype`` too."""
        if self.dtype is None:
            return F.linear(x, weight, bias)
        return F.linear(x.to(self.dtype), self.param(weight), self.param(bias))


class GridLSTMBlock(nn.Module):
    """One N-dimensional Grid LSTM block (paper §3), see the module docstring.

    Args:
        num_dims: N, the number of sides of the block.
        hidden_size: n, the size of every hidden and memory vector.
        priority_dim: index of the priority dimension, or ``None``.
        shared_dims: share one weight matrix across all dimensions (§3.4).
        non_lstm_dims: dimensions that use ``h' = α(V H)`` instead of an LSTM (§3.6).
        cell: ``"standard"`` (``o ⊙ tanh(m)``) or ``"gate-then-tanh"`` (``tanh(o ⊙ m)``).
        activation: ``α`` for non-LSTM dimensions, ``"tanh"`` or ``"relu"``.
        forget_bias: initial forget-gate bias (1.0 helps long grids train).
        init_scale: weights are drawn from U(-init_scale, init_scale).
        priority_gate_bias: initial input- and output-gate bias of an LSTM priority transform
            with its own weights (0.0: all gates but the forget gate start half open).
    """

    def __init__(
        self,
        num_dims: int,
        hidden_size: int,
        priority_dim: Optional[int] = None,
        shared_dims: bool = False,
        non_lstm_dims: Sequence[int] = (),
        cell: str = "standard",
        activation: str = "tanh",
        forget_bias: float = 1.0,
        init_scale: float = 0.1,
        priority_gate_bias: float = 0.0,
    ):
        super().__init__()
        if cell not in CELL_TYPES:
            raise ValueError(f"cell must be one of {CELL_TYPES}, got {cell!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if priority_dim is not None and not 0 <= priority_dim < num_dims:
            raise ValueError(f"priority_dim {priority_dim} out of range for {num_dims} dims")
        non_lstm = sorted(set(non_lstm_dims))
        if any(not 0 <= k < num_dims for k in non_lstm):
            raise ValueError(f"non_lstm_dims {non_lstm} out of range for {num_dims} dims")
        first_dims = [k for k in range(num_dims) if k != priority_dim]
        if shared_dims and len({k in non_lstm for k in first_dims}) > 1:
            raise ValueError("shared dims need every non-priority dimension to be of the same kind")
        self.num_dims = num_dims
        self.hidden_size = n = hidden_size
        self.priority_dim = priority_dim
        self.shared_dims = shared_dims
        self.non_lstm_dims = tuple(non_lstm)
        self.cell = cell
        self.activation = activation
        self.forget_bias = forget_bias
        self.init_scale = init_scale
        self.priority_gate_bias = priority_gate_bias
        self.layout = block_layout(num_dims, n, priority_dim, shared_dims, non_lstm, cell, activation)
        self.first_dims = list(self.layout.first_dims)
        self.first_widths = [t.rows[1] - t.rows[0] for t in self.layout.first]
        self.own_priority = self.layout.own_priority
        for name, bias in (("weight", "bias"), ("priority_weight", "priority_bias")):
            rows = [t.rows[1] for t in self.layout.transforms if t.weight == name]
            if rows or name == "weight":
                setattr(self, name, nn.Parameter(torch.empty(max(rows, default=0), num_dims * n)))
                setattr(self, bias, nn.Parameter(torch.empty(max(rows, default=0))))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for name, p in self.named_parameters():
            if "weight" in name:
                nn.init.uniform_(p, -self.init_scale, self.init_scale)
            else:
                nn.init.zeros_(p)
        n = self.hidden_size
        with torch.no_grad():
            for t in self.layout.transforms:
                if t.lstm:
                    b = self.transform_params(t)[1]
                    b[n : 2 * n].fill_(self.forget_bias)  # forget gate f
            prio = self.layout.priority
            if self.own_priority and prio.lstm:
                self.priority_bias[:n].fill_(self.priority_gate_bias)  # input gate u
                self.priority_bias[2 * n : 3 * n].fill_(self.priority_gate_bias)  # output gate o

    def transform_params(self, t: Transform) -> Tuple[Tensor, Tensor]:
        """The rows of ``weight`` and ``bias`` of transform ``t`` (views of the parameters)."""
        a, b = t.rows
        return getattr(self, t.weight)[a:b], getattr(self, t.bias)[a:b]

    def params(self) -> List[Tensor]:
        """The parameters in :attr:`BlockLayout.param_names` order (the fused runner's)."""
        return [getattr(self, name) for name in self.layout.param_names]

    def _transform(self, k: int, pre: Tensor, m: Tensor) -> Tuple[Tensor, Tensor]:
        """Apply dimension k's nonlinearity to its pre-activation ``pre``."""
        if k in self.non_lstm_dims:
            return ACTIVATIONS[self.activation](pre), torch.zeros_like(m)
        return lstm_pointwise(pre, m, self.cell)

    def forward(self, hs: Sequence[Tensor], ms: Sequence[Tensor],
                gemm: Optional[GemmOperands] = None) -> Tuple[List[Tensor], List[Tensor]]:
        """Compute one block for a batch of cells.

        Args:
            hs, ms: N tensors each, ``[M, n]``: the incoming hidden and memory vector of every
                side, for M cells at once.
            gemm: the GEMMs' operand dtype (default: the inputs'); see :meth:`forward_concat`.
        Returns:
            (hs', ms'): N tensors each, ``[M, n]``, the outgoing vectors of every side.
        """
        H = torch.cat(list(hs), dim=-1)
        return self.forward_concat(H, ms, gemm)

    def forward_concat(self, H: Tensor, ms: Sequence[Tensor],
                       gemm: Optional[GemmOperands] = None) -> Tuple[List[Tensor], List[Tensor]]:
        """``forward`` with the hidden vectors already concatenated: ``H = [h_1; ...; h_N]``.
        With ``gemm`` in bf16 the two GEMMs take their operands, bias included, in bf16 and
        return bf16 pre-activations; the gate math then mixes them with the memories in their
        own dtype (fp32) by type promotion."""
        n, N = self.hidden_size, self.num_dims
        gemm = GemmOperands() if gemm is None else gemm
        h_out: List[Optional[Tensor]] = [None] * N
        m_out: List[Optional[Tensor]] = [None] * N
        if self.first_dims:
            pre = gemm.linear(H, self.weight, self.bias)  # one matmul for all non-priority dims
            if self.shared_dims:
                k0 = self.first_dims[0]
                if k0 in self.non_lstm_dims:
                    h_shared = ACTIVATIONS[self.activation](pre)
                    for k in self.first_dims:
                        h_out[k], m_out[k] = h_shared, torch.zeros_like(ms[k])
                else:
                    # shared gates, per-dimension memories: one pointwise call over a stack
                    mem = torch.stack([ms[k] for k in self.first_dims])
                    hh, mm = lstm_pointwise(pre.unsqueeze(0), mem, self.cell)
                    for idx, k in enumerate(self.first_dims):
                        h_out[k], m_out[k] = hh[idx], mm[idx]
            else:
                for k, chunk in zip(self.first_dims, pre.split(self.first_widths, dim=-1)):
                    h_out[k], m_out[k] = self._transform(k, chunk, ms[k])
        p = self.priority_dim
        if p is not None:
            if self.first_dims:
                parts = [h_out[k] if k != p else H[:, p * n : (p + 1) * n] for k in range(N)]
                H = torch.cat(parts, dim=-1)
            prio = self.layout.priority  # its rows are the whole of its parameters
            h_out[p], m_out[p] = self._transform(p, gemm.linear(H, getattr(self, prio.weight), getattr(self, prio.bias)), ms[p])
        return h_out, m_out  # type: ignore[return-value]

    def extra_repr(self) -> str:
        return (
            f"num_dims={self.num_dims}, hidden_size={self.hidden_size}, priority_dim={self.priority_dim}, "
            f"shared_dims={self.shared_dims}, non_lstm_dims={self.non_lstm_dims}, cell={self.cell!r}, "
            f"priority_gate_bias={self.priority_gate_bias}"
        )
