"""Cleaning: one normalisation for every raw input, then filter rules with a removal report.

:func:`normalize` is the single place that turns raw text into the form the models see
(training data here, and raw user input in the translation CLI). :func:`clean` applies it to
pairs and then the rules of :data:`RULES`, in that order; each pair is charged to the first
rule that removes it, so the report's counts add up.
"""
from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable

from .progress import track
from .readers import Pair

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
_HAN_RE = re.compile(f"[{HAN}]")
_ZH_UNIT_RE = re.compile(f"[{HAN}]|[^\\s{HAN}]+")
_SPACE_RE = re.compile(r"\s+")

#: Rule names in the order they are applied (each pair is charged to the first that fires).
RULES = ("empty", "untranslated", "too_long", "length_ratio", "duplicate")

DEFAULT_MAX_LEN = 100
DEFAULT_MAX_RATIO = 9.0


@functools.lru_cache(maxsize=1)
def _t2s_converter():
    from opencc import OpenCC  # opencc-python-reimplemented

    return OpenCC("t2s")


def _strip_controls(text: str) -> str:
    """Whitespace controls (tab, newline, ...) become spaces; other Cc/Cf characters go."""
    out = []
    for char in text:
        if char.isspace():
            out.append(" ")
        elif unicodedata.category(char) not in ("Cc", "Cf"):
            out.append(char)
    return "".join(out)


def normalize(text: str, t2s: bool = False) -> str:
    """Normalise one raw sentence the way all training and input text is normalised.

    NFKC (full-width ASCII letters, digits and punctuation become ASCII, e.g. ``！`` -> ``!``),
    optional Traditional -> Simplified Chinese (OpenCC ``t2s``), control and format characters
    (C0/C1 controls, zero-width spaces, BOMs, bidi marks) removed, whitespace runs collapsed
    to one space, ends stripped.
    """
    text = unicodedata.normalize("NFKC", text)
    if t2s:
        text = _t2s_converter().convert(text)
    text = _strip_controls(text)
    return _SPACE_RE.sub(" ", text).strip()


def zh_length(text: str) -> int:
    """Length of Chinese text: one per Han character plus one per run of other non-spaces."""
    return len(_ZH_UNIT_RE.findall(text))


def en_length(text: str) -> int:
    """Length of English text in whitespace-separated words."""
    return len(text.split())


@dataclass
class CleaningReport:
    """How many pairs came in, how many each rule removed, and how many are left."""

    input: int = 0
    normalized_changed: int = 0
    removed: dict = field(default_factory=lambda: {rule: 0 for rule in RULES})
    kept: int = 0
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"input": self.input, "normalized_changed": self.normalized_changed,
                "removed": dict(self.removed), "kept": self.kept, "settings": self.settings}


def _first_failing_rule(zh: str, en: str, max_len: int, max_ratio: float) -> str | None:
    if not zh or not en:
        return "empty"
    if zh == en or not _HAN_RE.search(zh):
        return "untranslated"
    len_zh, len_en = zh_length(zh), en_length(en)
    if len_zh > max_len or len_en > max_len:
        return "too_long"
    if max(len_zh, len_en) / min(len_zh, len_en) > max_ratio:
        return "length_ratio"
    return None


def pair_key(zh: str, en: str) -> int:
    """A 64-bit BLAKE2b digest of a normalised pair: what de-duplication remembers, so that the
    memory for "seen" grows by a small int per pair, not by the pair's text (two million pairs
    take ~150 MB; a false duplicate among them has a probability of about 1e-7)."""
    digest = hashlib.blake2b(f"{zh}\n{en}".encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class PairCleaner:
    """:func:`clean` one pair at a time: call it on each raw pair, in corpus order, to get the
    normalised pair or ``None`` (removed); :attr:`report` counts as it goes. This is the form
    the streaming preparation of large corpora uses (:mod:`data_prep.streaming`)."""

    def __init__(self, t2s: bool = False, max_len: int = DEFAULT_MAX_LEN,
                 max_ratio: float = DEFAULT_MAX_RATIO, dedupe: bool = True):
        self.t2s, self.max_len, self.max_ratio, self.dedupe = t2s, max_len, max_ratio, dedupe
        self.report = CleaningReport(settings={"t2s": t2s, "max_len": max_len,
                                               "max_ratio": max_ratio, "dedupe": dedupe,
                                               "rules": list(RULES)})
        self._seen: set[int] = set()

    def __call__(self, raw_zh: str, raw_en: str) -> Pair | None:
        report = self.report
        report.input += 1
        zh, en = normalize(raw_zh, t2s=self.t2s), normalize(raw_en)
        report.normalized_changed += (zh, en) != (raw_zh, raw_en)
        rule = _first_failing_rule(zh, en, self.max_len, self.max_ratio)
        if rule is None and self.dedupe:
            key = pair_key(zh, en)
            rule = "duplicate" if key in self._seen else None
            self._seen.add(key)
        if rule is not None:
            report.removed[rule] += 1
            return None
        report.kept += 1
        return zh, en


def clean(pairs: Iterable[Pair], t2s: bool = False, max_len: int = DEFAULT_MAX_LEN,
          max_ratio: float = DEFAULT_MAX_RATIO, dedupe: bool = True,
          total: int | None = None) -> tuple[list[Pair], CleaningReport]:
    """Normalise ``pairs`` and drop those that break a rule; return kept pairs and report.

    Rules: ``empty`` (either side empty after normalisation), ``untranslated`` (no Han
    character on the Chinese side, or both sides identical), ``too_long`` (more than
    ``max_len`` units on a side: Han characters / other tokens for Chinese, words for
    English), ``length_ratio`` (longer side over ``max_ratio`` times the shorter),
    ``duplicate`` (same normalised pair seen before, by :func:`pair_key`; the first is kept).
    """
    cleaner = PairCleaner(t2s=t2s, max_len=max_len, max_ratio=max_ratio, dedupe=dedupe)
    kept = [pair for raw_zh, raw_en in track(pairs, "clean", total)
            if (pair := cleaner(raw_zh, raw_en)) is not None]
    return kept, cleaner.report
