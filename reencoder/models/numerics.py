"""Detect non-finite values early and say which sentences of the batch produced them.

fairseq notices NaN/inf *gradients* (``FloatingPointError: gradients are Nan/Inf``), saves
``crash.pt`` and re-runs the batch under its ``NanDetector``, but never says which batch.  The
models call :func:`check_finite` on their training output: a ``FloatingPointError`` raised here
goes through the same fairseq path (crash.pt, NanDetector) and its message names the rows, their
lengths and the first bad row's tokens, so the offending data can be found.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor


def check_finite(logits: Tensor, src_tokens: Optional[Tensor], prev_output_tokens: Tensor, pad: int) -> None:
    """Raise ``FloatingPointError`` naming the batch rows whose logits hold NaN or inf."""
    if bool(torch.isfinite(logits.detach().sum())):  # one read of the logits: any NaN or inf makes the sum so
        return
    finite = torch.isfinite(logits.detach()).flatten(1).all(dim=1)
    if bool(finite.all()):  # finite logits whose sum overflowed
        return
    rows = (~finite).nonzero().flatten().tolist()
    tgt_len = prev_output_tokens.ne(pad).sum(dim=1)
    parts = [f"non-finite logits (NaN/inf, dtype {logits.dtype}) for {len(rows)} of {logits.shape[0]} "
             f"sentences of this batch: rows {rows[:10]}{' ...' if len(rows) > 10 else ''}",
             f"target lengths {tgt_len[rows[:10]].tolist()}"]
    if src_tokens is not None:
        src_len = src_tokens.ne(pad).sum(dim=1)
        first = src_tokens[rows[0]]
        parts.append(f"source lengths {src_len[rows[:10]].tolist()}")
        parts.append(f"source token ids of row {rows[0]}: {first[first.ne(pad)].tolist()}")
    raise FloatingPointError("; ".join(parts))
