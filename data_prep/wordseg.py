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
    from sacremoses import MosesDetokenizer, MosesTokenizer

    return MosesTokenizer(lang="en"), MosesDetokenizer(lang="en")


def zh_words(text: str) -> list[str]:
    """Chinese words of one sentence (jieba, precise mode, HMM on), whitespace pieces dropped."""
    return [word for word in _jieba().cut(text.strip()) if word.strip()]


def en_tokens(text: str) -> list[str]:
    """Moses tokens of one English sentence, cased, without XML escaping."""
    return _moses()[0].tokenize(text.strip(), escape=False) if text.strip() else []


def detokenize_en(tokens: Sequence[str]) -> str:
    """Plain English text from Moses tokens (unescapes ``&apos;`` and friends)."""
    return _moses()[1].detokenize(list(tokens))


def segment_zh(lines: Sequence[str], desc: str = "jieba") -> list[str]:
    """Chinese lines as space-separated jieba words (precise mode, HMM on)."""
    return [" ".join(zh_words(line)) for line in track(lines, desc)]


def tokenize_en(lines: Sequence[str], desc: str = "moses") -> list[str]:
    """English lines tokenized by sacremoses (no lowercasing, no escaping); "" stays ""."""
    return [" ".join(en_tokens(line)) for line in track(lines, desc)]


def segment_pairs(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``(jieba words, Moses tokens)`` of each ``(zh, en)`` pair: one chunk of work for
    :func:`data_prep.chunked.map_chunks` (module-level, so worker processes can run it)."""
    return [(" ".join(zh_words(zh)), " ".join(en_tokens(en))) for zh, en in pairs]


def warm_up() -> None:
    """Load jieba's dictionary and the Moses tokenizer now (once per worker process, before
    its first chunk)."""
    _jieba()
    _moses()
