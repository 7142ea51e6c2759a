"""Text processing around the SMT system: Chinese word segmentation (jieba) and English
tokenization / detokenization (sacremoses), the same tools data_prep uses for ``tok/``."""
from __future__ import annotations

import functools
import logging
import unicodedata


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


def normalize(text: str, t2s: bool = False) -> str:
    """Raw input normalised as data_prep normalises its corpora (NFKC, control
    characters removed, spaces collapsed, optional Traditional->Simplified), so that
    ``translate`` sees the same kind of text the model was trained on."""
    try:
        from data_prep.cleaning import normalize as prep_normalize
    except ImportError:  # data_prep is part of this project; keep NFKC if it is absent
        return " ".join(unicodedata.normalize("NFKC", text).split())
    return prep_normalize(text, t2s=t2s)


def segment_zh(text: str) -> list[str]:
    """Chinese words of ``text`` (jieba, precise mode, HMM on), whitespace-only pieces dropped,
    as data_prep writes ``tok/*.zh``."""
    return [word for word in _jieba().cut(text.strip()) if word.strip()]


def tokenize_en(text: str) -> list[str]:
    """Moses tokens of an English sentence, cased, without XML escaping."""
    return _moses()[0].tokenize(text.strip(), escape=False)


def detokenize_en(tokens: list[str]) -> str:
    """Plain English text from Moses tokens (unescapes ``&apos;`` and friends)."""
    return _moses()[1].detokenize(list(tokens))
