"""A GEMM on bf16 operands with fp32 sums and results (``bf16_gemm.cpp``, built with the gate
kernels by :mod:`.gate_kernels`), for CPUs with bf16 dot products (AVX512-BF16, AMX CPUs too).

torch's bf16 GEMMs on a CPU round their results to bf16; these keep the sums in fp32, so only
the operands are rounded.  The output layer's ``--output-layer-bf16-inputs``
(:mod:`reencoder.models.low_precision`) and the decoding row step's source recurrence
(:mod:`.row_step`) use them.  Where the kernel does not run (:func:`kernel_runs`),
:func:`linear_bf16_operands` does the same arithmetic in an fp32 GEMM.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from . import gate_kernels


def kernel_runs(t: Tensor, dtypes=(torch.float32,)) -> bool:
    """Whether the compiled kernel runs for tensors like ``t``: fp32 (or one of ``dtypes``) on a CPU
    with bf16 dot products, the kernels built (elsewhere :func:`linear_bf16_operands` rounds the
    operands and sums in an fp32 GEMM, the same arithmetic at fp32's cost)."""
    return (t.device.type == "cpu" and t.dtype in dtypes and gate_kernels.available()
            and torch.ops.reencoder_gemm.hardware_dot())


def pack_bf16(weight: Tensor) -> Optional[Tensor]:
    """``weight`` ``[N, K]`` (fp32, or bf16 already) rounded to bf16 in the kernel's layout
    (``None`` where the kernel does not run: :func:`kernel_runs`)."""
    if not kernel_runs(weight, (torch.float32, torch.bfloat16)) or weight.shape[1] % 2:
        return None
    return torch.ops.reencoder_gemm.pack_bf16(weight)


def linear_bf16_operands(x: Tensor, weight: Tensor, bias: Optional[Tensor], packed: Optional[Tensor] = None) -> Tensor:
    """``F.linear`` on bf16-rounded ``x`` and ``weight``, the products summed and returned in fp32
    (``bf16_gemm.cpp``; ``packed``: :func:`pack_bf16` of ``weight``, made here if not given).
    torch's own bf16 GEMMs on a CPU round their results to bf16 too, which cost dev loss in the
    output layer (``recipes/RESULTS.md``, "Single changes at equal wall clock")."""
    if packed is None:
        packed = pack_bf16(weight)
    if packed is None:  # no kernel here: the same arithmetic in an fp32 GEMM
        low = torch.bfloat16
        return F.linear(x.to(low).to(x.dtype), weight.to(low).to(x.dtype), bias)
    N, K = weight.shape
    out = torch.ops.reencoder_gemm.mm_bf16(x.reshape(-1, K), packed, N, bias)
    return out.view(*x.shape[:-1], N)


def linear_bf16_into(out: Tensor, a: Tensor, packed: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """``out = bias + a @ W.T``, or ``out += a @ W.T`` without bias, for ``W`` given
    :func:`pack_bf16`-packed: ``a`` rounded to bf16, the sums in fp32 (``out``: a contiguous fp32
    matrix).  :func:`reencoder.grid.fused_memory.linear_cast_into` is its twin on a plain ``W``
    (``a`` cast to ``W``'s dtype, the sums in it)."""
    torch.ops.reencoder_gemm.mm_bf16_into_(out, a, packed, bias)
    return out
