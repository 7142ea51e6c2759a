"""Which of a model's GEMMs run in bf16, and bf16 linear layers with fp32 results.

Four flags choose, each ``auto`` / ``always`` / ``never``: ``--grid-bf16`` for the grid's GEMMs,
``--output-layer-bf16`` for the layers after the grid (the row readout and the output layer
over the vocabulary), ``--output-layer-bf16-grads`` for the output layer's backward alone
(:func:`linear`'s ``grad_dtype``: its forward, and so the logits, stay in fp32) and
``--output-layer-bf16-inputs`` for its forward on bf16 inputs with fp32 sums (``sums_fp32``:
:func:`reencoder.grid.bf16_gemm.linear_bf16_operands`).  ``auto`` is bf16
where bf16 matmuls are native (:func:`reencoder.grid.hardware.native_bf16`) and the model runs
in fp32 (for ``--output-layer-bf16-inputs``: where its kernel beats fp32,
:func:`reencoder.grid.hardware.bf16_dot_kernel_pays`).  At equal wall clock torch's bf16
forward of the output layer, whose logits come out rounded to bf16, cost dev loss; a bf16
backward, and a forward with fp32 sums, did not
(``recipes/RESULTS.md``, "Single changes at equal wall clock").

Only the GEMM operands are bf16: parameters, their gradients and the optimizer stay fp32, and
every result comes back in the input's dtype, so the softmax and the loss see fp32 logits (as
mixed-precision training does on GPUs).  On a CPU with AVX512-BF16 the 512-wide output layer
over 4,001 pieces costs about a third of its fp32 time (``recipes/RESULTS.md``, "Performance").
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..grid.bf16_gemm import linear_bf16_operands, pack_bf16
from ..grid.hardware import native_bf16

BF16_CHOICES = ("auto", "always", "never")
logger = logging.getLogger(__name__)


class Bf16Choice:
    """One ``auto|always|never`` flag (``flag`` and ``what`` it covers name it in the log): :meth:`dtype` is the GEMM
    dtype for inputs like a tensor; the first decision per (device, dtype) is logged with its
    reason, so a training log says which path ran.  ``decide``: what ``auto`` asks of the device,
    ``(use bf16, why)`` (default :func:`~reencoder.grid.hardware.native_bf16`; a CPU kernel's
    choice passes :func:`~reencoder.grid.hardware.bf16_dot_kernel_pays`)."""

    def __init__(self, setting: str, flag: str, what: str,
                 decide: Optional[Callable[[torch.device], Tuple[bool, str]]] = None):
        if setting not in BF16_CHOICES:
            raise ValueError(f"{flag} must be one of {BF16_CHOICES}, got {setting!r}")
        self.setting, self.flag, self.what, self.decide = setting, flag, what, decide
        self._said = set()

    def use(self, like: Tensor) -> bool:
        if self.setting == "auto":
            native, why = (self.decide or native_bf16)(like.device)
            use = like.dtype == torch.float32 and native
        else:
            use, why = self.setting == "always", "as asked"
        if (like.device, like.dtype) not in self._said:
            self._said.add((like.device, like.dtype))
            logger.info(f"{self.what} GEMMs in {'bf16' if use else str(like.dtype).split('.')[-1]} on {like.device} "
                        f"({self.flag} {self.setting}: {why})")
        return use

    def dtype(self, like: Tensor) -> torch.dtype:
        """bf16 if this choice says so for ``like``, else ``like``'s own dtype."""
        return torch.bfloat16 if self.use(like) else like.dtype


#: bf16 copies of weights for one decoding run, by name (also the Reencoder grid's row-step
#: matrices: :func:`reencoder.grid.row_step.run_row`; kept in fairseq's incremental state, so
#: they live exactly as long as one beam search: the weights cannot change inside it, and
#: training and validation never see a stale copy)
WeightCopies = Dict[str, Any]


def linear(x: Tensor, weight: Tensor, bias: Optional[Tensor], dtype: torch.dtype,
           copies: Optional[WeightCopies] = None, name: str = "", grad_dtype: Optional[torch.dtype] = None,
           sums_fp32: bool = False) -> Tensor:
    """``F.linear(x, weight, bias)`` with its operands in ``dtype`` and the result in ``x``'s dtype
    (plain ``F.linear`` when ``dtype`` is ``x``'s).  With ``copies`` (decoding), the weights'
    ``dtype`` copies are made once, under ``name``, and reused.  ``grad_dtype`` (only with
    ``dtype`` = ``x``'s): the operand dtype of the backward's two GEMMs (:class:`GradCastLinear`).
    ``sums_fp32`` (only with ``dtype`` = ``x``'s = fp32): bf16 operands, fp32 sums and results
    (:func:`reencoder.grid.bf16_gemm.linear_bf16_operands`)."""
    if dtype == x.dtype:
        if sums_fp32:
            if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad):
                return Bf16OperandLinear.apply(x, weight, bias, grad_dtype or x.dtype)
            packed = None if copies is None else _once(copies, name + ".packed", lambda: pack_bf16(weight.detach()))
            return linear_bf16_operands(x, weight, bias, packed)
        if grad_dtype is not None and grad_dtype != x.dtype and torch.is_grad_enabled():
            return GradCastLinear.apply(x, weight, bias, grad_dtype)
        return F.linear(x, weight, bias)

    def cast(t: Optional[Tensor], key: str) -> Optional[Tensor]:
        if t is None or copies is None:
            return None if t is None else t.to(dtype)
        return _once(copies, key, lambda: t.detach().to(dtype))

    return F.linear(x.to(dtype), cast(weight, name + ".weight"), cast(bias, name + ".bias")).to(x.dtype)


def _once(copies: WeightCopies, key: str, make) -> Tensor:
    """``copies[key]``, made by ``make()`` the first time it is asked for in a decoding run."""
    if key not in copies:
        copies[key] = make()
    return copies[key]


def _save(ctx, x: Tensor, weight: Tensor, bias: Optional[Tensor], grad_dtype: torch.dtype) -> None:
    """What the backward of :class:`GradCastLinear` (and of its subclass) reads."""
    ctx.save_for_backward(x, weight)
    ctx.grad_dtype, ctx.has_bias = grad_dtype, bias is not None


class GradCastLinear(torch.autograd.Function):
    """``F.linear`` whose backward GEMMs take their operands in another dtype: the forward (and so
    every logit) is exactly ``F.linear``'s; the input's gradient ``dY W`` and the weight's ``dYᵀ X``
    are bf16 GEMMs with results cast back to the parameters' dtype, the bias's gradient a sum."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Optional[Tensor], grad_dtype: torch.dtype) -> Tensor:
        _save(ctx, x, weight, bias, grad_dtype)
        return F.linear(x, weight, bias)

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, weight = ctx.saved_tensors
        g = grad.reshape(-1, grad.shape[-1])
        low = g.to(ctx.grad_dtype)
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            dx = torch.mm(low, weight.to(ctx.grad_dtype)).to(x.dtype).view(x.shape)
        if ctx.needs_input_grad[1]:
            dw = torch.mm(low.t(), x.reshape(-1, x.shape[-1]).to(ctx.grad_dtype)).to(weight.dtype)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            db = g.sum(0)
        return dx, dw, db, None


class Bf16OperandLinear(GradCastLinear):
    """:func:`linear_bf16_operands` forward (bf16 operands, fp32 sums and logits), the backward of
    :class:`GradCastLinear` (its GEMMs' operands in ``grad_dtype``)."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Optional[Tensor], grad_dtype: torch.dtype) -> Tensor:
        _save(ctx, x, weight, bias, grad_dtype)
        return linear_bf16_operands(x, weight, bias)
