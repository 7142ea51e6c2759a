"""BLEU on tokenized, lowercased text (the TVsub paper's way) and detokenized references.

The TVsub references (``test_trg.sgm``) are Moses-tokenized with aggressive hyphen splitting
(``woo @-@ hoo``) and lowercased, and the paper (Wang et al., AAAI 2018) scores
case-insensitive BLEU on tokens.  Here a system's detokenized hypotheses are tokenized the same
way (sacremoses, ``aggressive_dash_splits``, no XML escaping), then lowercased, and scored
against the references as they are with sacrebleu ``--tokenize none --lowercase``
(:data:`TOKENIZED_BLEU`).  For sacrebleu's standard (13a, mixed case) scores the references are
detokenized with sacremoses instead (:func:`detokenize_references`).
"""
from __future__ import annotations

import functools
from typing import Sequence

from sacrebleu.metrics import BLEU

from data_prep.references import RefStreams


def tokenized_bleu() -> BLEU:
    """sacrebleu's BLEU on given tokens, case-insensitive (``--tokenize none -lc``; ``force``: tokenized
    input is the point, no warning about it)."""
    return BLEU(tokenize="none", lowercase=True, force=True)


@functools.lru_cache(maxsize=1)
def _moses():
    from sacremoses import MosesDetokenizer, MosesTokenizer

    return MosesTokenizer(lang="en"), MosesDetokenizer(lang="en")


def tokenize_lower(lines: Sequence[str]) -> list[str]:
    """Moses tokens of each detokenized (cased) line, ``@-@`` hyphens, then lowercased: the
    case is used for tokenizing first (``walk. It`` splits the period, ``walk. it`` does not)."""
    tokenizer = _moses()[0]
    return [tokenizer.tokenize(line, escape=False, aggressive_dash_splits=True, return_str=True).lower()
            if line.strip() else "" for line in lines]


def detokenize_references(refs: RefStreams) -> RefStreams:
    """Every reference detokenized (sacremoses: ``it 's`` -> ``it's``, ``@-@`` undone);
    missing references (``None``) stay missing."""
    detokenizer = _moses()[1]
    return [[None if ref is None else detokenizer.detokenize(ref.split()) for ref in stream]
            for stream in refs]
