"""Which of a model's GEMMs run in bf16, and bf16 linear layers with fp32 results.

Two flags choose, each ``auto`` / ``always`` / ``never``: ``--grid-bf16`` for the grid's GEMMs
and ``--output-layer-bf16`` for the layers after the grid (the row readout and the output
layer over the vocabulary).  ``auto`` is bf16 where bf16 matmuls are native
(:func:`reencoder.grid.hardware.native_bf16`) and the model runs in fp32.

Only the GEMM operands are bf16: parameters, their gradients and the optimizer stay fp32, and
every result comes back in the input's dtype, so the softmax and the loss see fp32 logits (as
mixed-precision training does on GPUs).  On a CPU with AVX512-BF16 the 512-wide output layer
over 4,001 pieces costs about a third of its fp32 time (``recipes/RESULTS.md``, "Performance").
"""

from __future__ import annotations

import logging
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ..grid.hardware import native_bf16

BF16_CHOICES = ("auto", "always", "never")
logger = logging.getLogger(__name__)


class Bf16Choice:
    """One ``auto|always|never`` flag (``flag`` and ``what`` it covers name it in the log): :meth:`dtype` is the GEMM
    dtype for inputs like a tensor; the first decision per (device, dtype) is logged with its
    reason, so a training log says which path ran."""

    def __init__(self, setting: str, flag: str, what: str):
        if setting not in BF16_CHOICES:
            raise ValueError(f"{flag} must be one of {BF16_CHOICES}, got {setting!r}")
        self.setting, self.flag, self.what = setting, flag, what
        self._said = set()

    def use(self, like: Tensor) -> bool:
        if self.setting == "auto":
            native, why = native_bf16(like.device)
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


#: bf16 copies of weights for one decoding run, by name (kept in fairseq's incremental state, so
#: they live exactly as long as one beam search: the weights cannot change inside it, and
#: training and validation never see a stale copy)
WeightCopies = Dict[str, Tensor]


def linear(x: Tensor, weight: Tensor, bias: Optional[Tensor], dtype: torch.dtype,
           copies: Optional[WeightCopies] = None, name: str = "") -> Tensor:
    """``F.linear(x, weight, bias)`` with its operands in ``dtype`` and the result in ``x``'s dtype
    (plain ``F.linear`` when ``dtype`` is ``x``'s).  With ``copies`` (decoding), the weights'
    ``dtype`` copies are made once, under ``name``, and reused."""
    if dtype == x.dtype:
        return F.linear(x, weight, bias)

    def cast(t: Optional[Tensor], key: str) -> Optional[Tensor]:
        if t is None or copies is None:
            return None if t is None else t.to(dtype)
        if key not in copies:
            copies[key] = t.detach().to(dtype)
        return copies[key]

    return F.linear(x.to(dtype), cast(weight, name + ".weight"), cast(bias, name + ".bias")).to(x.dtype)
