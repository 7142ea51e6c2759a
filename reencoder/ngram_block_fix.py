"""A fix for fairseq 0.12's ``--no-repeat-ngram-size`` on CPUs (and GPUs without its CUDA extension).

fairseq's ``SequenceGenerator`` hands :class:`fairseq.ngram_repeat_block.NGramRepeatBlock` the whole
``[bsz * beam, max_len + 2]`` token buffer, padding included, and the Python path compares the
buffer's *last* ``n - 1`` entries — padding — with the n-grams generated so far, so it never
blocks anything: decoding with and without the flag gives identical output (fairseq issues
#4709 and #5206, both open).  :func:`install` replaces that path with one that compares the last
``n - 1`` *generated* tokens (positions ``step + 2 - n .. step``), the flag's documented meaning;
the CUDA extension, where fairseq has one, is left alone.
"""

from __future__ import annotations

import math

import torch
from fairseq.ngram_repeat_block import NGramRepeatBlock
from torch import Tensor


def banned_tokens(row: list, n: int, step: int) -> list:
    """The tokens that would repeat an ``n``-gram of ``row[: step + 1]`` (the tokens so far,
    the start symbol first) if generated at position ``step + 1``."""
    start = step + 2 - n  # where the last n - 1 tokens begin
    if start < 0:
        return []
    prefix = row[start: step + 1]
    return [row[i + n - 1] for i in range(start) if row[i: i + n - 1] == prefix]


def no_repeat_ngram(self: NGramRepeatBlock, tokens: Tensor, lprobs: Tensor, bsz: int, beam_size: int,
                    step: int) -> Tensor:
    """``NGramRepeatBlock._no_repeat_ngram`` with the generated tokens read where they are."""
    rows = tokens[:, : step + 1].cpu().tolist()
    for b, row in enumerate(rows):
        banned = banned_tokens(row, self.no_repeat_ngram_size, step)
        if banned:
            lprobs[b, torch.tensor(banned, dtype=torch.long, device=lprobs.device)] = -math.inf
    return lprobs


def install() -> None:
    """Make fairseq's Python n-gram blocking read the generated tokens (idempotent)."""
    NGramRepeatBlock._no_repeat_ngram = no_repeat_ngram
