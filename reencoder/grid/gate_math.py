"""LSTM gate math of the fused wavefront and the row step (paper eq. 3), written out for forward
and backward.

The fused wavefront (:mod:`reencoder.grid.fused_wavefront`) keeps the pre-activations of ``g`` gate
sets *gate-major*, ``[(u, f, o) of every set | c of every set]``, so that one ``sigmoid_`` and
one ``tanh_`` cover a whole GEMM output; :func:`gate_major` is the row permutation of a block's
``[u, f, o, c]``-per-set weights into that layout (:mod:`reencoder.grid.fused_memory` applies
it).  The gate math runs in the states' dtype (fp32 under bf16 GEMMs).

:func:`gates_forward` and :func:`gates_backward` run the C++ kernels of
:mod:`reencoder.grid.gate_kernels` where they apply (CPU, float32/64) and ``kernels="cpp"``
(the default) asks for them, and otherwise (``kernels="torch"``: a benchmark's comparison, the
tests) the torch ops of :func:`gates_forward_torch` / :func:`gates_backward_torch`, which are
also the kernels' test oracle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple, Union

import torch
from torch import Tensor

from . import gate_kernels


@dataclass
class BufferLines:
    """Sides ``k0 .. k0 + F - 1`` of ``R`` rows whose vectors are lines of a ``[lines, n]`` buffer:
    side ``k`` of row ``r`` is ``buf[idx[r N + k0 + k]]`` (the fused wavefront's memory slots and
    its gather index).  The kernels read and write such lines where they lie; the torch ops
    gather them."""

    buf: Tensor
    idx: Tensor  # [R * N], int64
    N: int
    k0: int = 0
    F: int = None

    def sides(self, k0: int, F: int) -> "BufferLines":
        return BufferLines(self.buf, self.idx, self.N, self.k0 + k0, F)

    def _lines(self) -> Tensor:
        return self.idx.view(-1, self.N)[:, self.k0 : self.k0 + self.F].reshape(-1)

    def gather(self) -> Tensor:
        """The lines as a ``[R, F, n]`` tensor (a copy)."""
        return self.buf.index_select(0, self._lines()).view(-1, self.F, self.buf.shape[1])

    def write(self, src: Tensor) -> None:
        """Store ``[R, F, n]`` values in the lines."""
        self.buf.index_copy_(0, self._lines(), src.reshape(-1, self.buf.shape[1]))

    def fill_(self, value: float) -> None:
        self.buf.index_fill_(0, self._lines(), value)


Memory = Union[Tensor, BufferLines]


def _kernel_memory(m: Memory) -> Tuple[Tensor, Optional[Tensor], int, int]:
    """A memory argument as the kernels take it, ``(buf, idx, N, k0)``: a ``[R, F, n]`` tensor
    (``idx`` None), or a ``[lines, n]`` buffer whose line ``idx[r N + k0 + k]`` is side ``k`` of row ``r``."""
    return (m.buf, m.idx, m.N, m.k0) if isinstance(m, BufferLines) else (m, None, 0, 0)


def use_kernels(kernels: str, *tensors: Tensor) -> bool:
    """Whether the C++ kernels run on these tensors: asked for (``kernels``, one of
    :data:`~reencoder.grid.gate_kernels.CHOICES`) and able to take them."""
    if kernels not in gate_kernels.CHOICES:
        raise ValueError(f"kernels must be one of {gate_kernels.CHOICES}, got {kernels!r}")
    return kernels == "cpp" and gate_kernels.usable(*tensors)


def gates_forward(G: Tensor, m_in: Memory, cell: str, h_out: Tensor, m_out: Tensor, T: Tensor,
                  kernels: str = "cpp") -> None:
    """:func:`gates_forward_torch`'s results, by the C++ kernel where it applies (see
    :func:`use_kernels`); ``m_in`` may be :class:`BufferLines`."""
    buf, idx, N, k0 = _kernel_memory(m_in)
    if use_kernels(kernels, G, buf, h_out, m_out, T):
        gate_kernels.lstm_forward(G, buf, idx, N, k0, h_out, m_out, T, cell == "gate-then-tanh")
    else:
        gates_forward_torch(G, m_in.gather() if isinstance(m_in, BufferLines) else m_in, cell, h_out, m_out, T)


def gates_backward(G: Tensor, T: Tensor, m_in: Memory, m_new: Tensor, dh: Tensor, dm: Tensor, cell: str,
                   dm_in: Memory, dG: Tensor = None, kernels: str = "cpp") -> Tensor:
    """:func:`gates_backward_torch`'s results, by the C++ kernel where it applies (see
    :func:`use_kernels`); ``m_in`` and ``dm_in`` may be :class:`BufferLines` (both, with one
    index)."""
    (buf, idx, N, k0), dmem = _kernel_memory(m_in), _kernel_memory(dm_in)
    dbuf = dmem[0]
    if dmem[1] is not idx or dmem[2:] != (N, k0):
        raise ValueError("gates_backward: m_in and dm_in must be tensors or lines picked by one index")
    if use_kernels(kernels, G, T, buf, m_new, dh, dm, dbuf):
        dG = torch.empty(G.shape[0], G.shape[1], dtype=dm.dtype, device=dm.device) if dG is None else dG
        gate_kernels.lstm_backward(G, T, buf, m_new, dh, dm, idx, N, k0, cell == "gate-then-tanh", dG, dbuf)
        return dG
    if not isinstance(m_in, BufferLines):
        return gates_backward_torch(G, T, m_in, m_new, dh, dm, cell, dm_in, dG)
    dm_rows = torch.empty_like(dm)
    dG = gates_backward_torch(G, T, m_in.gather(), m_new, dh, dm, cell, dm_rows, dG)
    dm_in.write(dm_rows)
    return dG


def gates_forward_torch(G: Tensor, m_in: Tensor, cell: str, h_out: Tensor, m_out: Tensor, T: Tensor) -> None:
    """Paper eq. 3 in place on the pre-activations ``G = [R, 4gn]`` of ``g`` gate sets laid out
    gate-major, ``[(u, f, o) of every set | c of every set]`` (``g = 1`` for a single transform
    or the gates of §3.4's shared dims), so one ``sigmoid_`` and one ``tanh_`` cover them.
    ``G`` becomes the activations; ``(h', m')`` of ``m_in = [R, F, n]`` go to ``h_out`` and
    ``m_out``, and ``T`` gets ``tanh(m')`` (standard cell) or ``h' = tanh(o m')``
    (gate-then-tanh cell), which the backward pass reuses."""
    R, F, n = m_in.shape
    g = G.shape[1] // (4 * n)
    G[:, : 3 * g * n].sigmoid_()
    G[:, 3 * g * n :].tanh_()
    u, f, o = G[:, : 3 * g * n].view(R, g, 3, n).unbind(2)
    c = G[:, 3 * g * n :].view(R, g, n)
    torch.mul(f, m_in, out=m_out)
    m_out.addcmul_(u, c)
    if cell == "gate-then-tanh":
        torch.mul(o, m_out, out=T).tanh_()
        h_out.copy_(T)
    else:
        torch.tanh(m_out, out=T)
        torch.mul(o, T, out=h_out)


def gates_backward_torch(G: Tensor, T: Tensor, m_in: Tensor, m_new: Tensor, dh: Tensor, dm: Tensor, cell: str,
                         dm_in: Tensor, dG: Tensor = None) -> Tensor:
    """Derivatives of eq. 3, with ``G`` the activations and ``T`` what :func:`gates_forward`
    returned: from ``dh'``, ``dm'`` (``[R, F, n]``) returns the gradient of the pre-activations
    (``[R, 4gn]``, same layout; summed over shared dimensions; in ``dG`` when given) and writes
    that of ``m_in`` to ``dm_in``.  σ' = σ(1 − σ), tanh' = 1 − tanh²."""
    R, F, n = dm.shape
    g = G.shape[1] // (4 * n)
    S = G[:, : 3 * g * n].view(R, g, 3, n)
    u, f, o = S.unbind(2)
    c = G[:, 3 * g * n :].view(R, g, n)
    if cell == "gate-then-tanh":  # h' = tanh(o m')
        dpre = dh - dh * T * T
        dm = torch.addcmul(dm, dpre, o)
        do = dpre * m_new
    else:  # h' = o tanh(m')
        dm = torch.addcmul(dm, dh * o, 1 - T * T)
        do = dh * T
    dsig = S - S * S
    dG = torch.empty(R, 4 * g * n, dtype=dm.dtype, device=dm.device) if dG is None else dG
    shared = g == 1 and F > 1  # shared dims: per-dimension gradients, summed below
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


def activation_forward(G: Tensor, activation: str) -> Tensor:
    """§3.6's non-LSTM transform ``h' = α(V H)`` in place on the pre-activations ``G``."""
    return G.tanh_() if activation == "tanh" else G.relu_()


def activation_backward(h: Tensor, dh: Tensor, activation: str) -> Tensor:
    """The gradient of :func:`activation_forward`'s pre-activations from its output ``h``:
    tanh' = 1 − h², relu' = [h > 0]."""
    if activation == "tanh":
        return dh - dh * h * h
    return dh * (h > 0)


def gate_major(num_sets: int, n: int) -> Tensor:
    """Row permutation from the blocks' ``[u, f, o, c]`` per gate set to the gate-major layout
    of :func:`gates_forward` (the identity for one set)."""
    rows = torch.arange(4 * num_sets * n).view(num_sets, 4, n)
    return torch.cat([rows[:, :3].reshape(-1), rows[:, 3].reshape(-1)])

