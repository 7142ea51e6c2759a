"""Word-level text for the phrase-based baseline: jieba for Chinese, Moses tokenizer for English.

English keeps its case (the baseline handles casing) and is not XML-escaped (``&`` stays
``&``; nothing downstream uses Moses factors).
"""
from __future__ import annotations

import functools
import logging
from typing import Sequence

from .progress import track


@functools.lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


@functools.lru_cache(maxsize=1)
def _moses():
    from sacremoses import MosesTokenizer

    return MosesTokenizer(lang="en")


def segment_zh(lines: Sequence[str], desc: str = "jieba") -> list[str]:
    """Chinese lines as space-separated jieba words (precise mode, HMM on)."""
    jieba = _jieba()
    return [" ".join(word for word in jieba.cut(line) if word.strip())
            for line in track(lines, desc)]


def tokenize_en(lines: Sequence[str], desc: str = "moses") -> list[str]:
    """English lines tokenized by sacremoses (no lowercasing, no escaping); "" stays ""."""
    moses = _moses()
    return [moses.tokenize(line, escape=False, return_str=True) if line else ""
            for line in track(lines, desc)]
