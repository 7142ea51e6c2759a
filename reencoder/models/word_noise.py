"""Noise on the previous target words a decoder is trained on (pure torch).

Under teacher forcing a decoder always reads the right previous words; in beam search it reads
its own, wrong ones included.  Replacing a fraction of the teacher-forced words during training
(target-side word dropout: Gal & Ghahramani, NeurIPS 2016; Sennrich, Haddow & Birch, WMT 2016)
makes it rely less on a perfect prefix.  Three kinds of replacement:

* ``unk``    — the dictionary's ``<unk>`` (word dropout);
* ``random`` — a word drawn uniformly from the dictionary's real words;
* ``predicted`` — the decoder's own most likely word at that position, from a first pass over
  the teacher-forced words without gradients (scheduled sampling made parallel: Bengio et al.,
  NeurIPS 2015; Duckworth et al., 2019; Mihaylova & Martins, ACL SRW 2019): the errors a decoder
  meets in its own output.

The first position (the start symbol) and padding are never replaced, and nothing changes
outside training.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

WORD_NOISE: Tuple[str, ...] = ("unk", "random", "predicted")


def replace_words(tokens: Tensor, p: float, kind: str, unk: int, pad: int, nspecial: int, vocab_size: int,
                  predicted: Optional[Tensor] = None, generator: Optional[torch.Generator] = None) -> Tensor:
    """``[B, T]`` token ids with each real word after position 0 replaced with probability ``p``
    (``kind``: one of :data:`WORD_NOISE`); ids below ``nspecial`` (start, end, padding, unknown)
    are never replaced, ``random`` draws from ``nspecial .. vocab_size - 1``, and ``predicted``
    takes the ``[B, T]`` ``predicted`` ids (the decoder's guess of each input word)."""
    if kind not in WORD_NOISE:
        raise ValueError(f"word noise must be one of {WORD_NOISE}, got {kind!r}")
    if kind == "predicted" and (predicted is None or predicted.shape != tokens.shape):
        raise ValueError("word noise 'predicted' needs the predicted ids, one per input token")
    if p <= 0.0 or tokens.shape[1] < 2:
        return tokens
    draw = torch.rand(tokens.shape, generator=generator, device=tokens.device)
    hit = (draw < p) & (tokens >= nspecial) & (tokens != pad)
    hit[:, 0] = False
    if kind == "unk":
        new = torch.full_like(tokens, unk)
    elif kind == "predicted":
        new = predicted
    else:
        new = torch.randint(nspecial, vocab_size, tokens.shape, generator=generator, device=tokens.device)
    return torch.where(hit, new, tokens)
