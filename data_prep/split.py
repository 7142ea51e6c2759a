"""Leak-free, multi-reference train/dev/test splits.

Pairs are grouped by their Chinese side: a group is one evaluation item whose English sides
are its references. Dev and test items are drawn (seeded) from groups with at least
``min_refs`` references. Then every training pair whose Chinese *or* English side matches a
dev/test sentence is removed. Matching uses :func:`leak_key` (case-folded, letters and digits
only), which is stricter than exact equality: ``Hi!`` in test also keeps ``hi.`` out of train.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from .errors import DataError
from .readers import Pair


@dataclass(frozen=True)
class Item:
    """One evaluation item: a Chinese sentence and its English references (>= 1)."""

    zh: str
    refs: tuple[str, ...]


@dataclass
class Splits:
    """Training pairs, dev and test items, and counts for the manifest."""

    train: list[Pair]
    dev: list[Item]
    test: list[Item]
    stats: dict = field(default_factory=dict)


def leak_key(text: str) -> str:
    """Key under which two sentences count as the same for leakage: case and punctuation
    and spacing ignored (falls back to the text itself if it has no letters or digits)."""
    key = "".join(char for char in text.casefold() if char.isalnum())
    return key or text


@dataclass
class HeldOut:
    """The leak keys of the dev and test sentences (Chinese sources, English references):
    a training pair :meth:`leaks` if either of its sides matches one."""

    zh: set[str] = field(default_factory=set)
    en: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, items, extra_en=()) -> "HeldOut":
        """Keys of ``items`` (their sources and every reference) and of ``extra_en``."""
        held = cls()
        for item in items:
            held.zh.add(leak_key(item.zh))
            held.en.update(leak_key(ref) for ref in item.refs if ref)
        held.en.update(leak_key(text) for text in extra_en if text)
        return held

    def leaks(self, zh: str, en: str) -> bool:
        """Whether the pair ``(zh, en)`` shares a side with a held-out sentence."""
        return leak_key(zh) in self.zh or leak_key(en) in self.en


def group_by_source(pairs: list[Pair]) -> list[Item]:
    """Items in order of first appearance; references in corpus order, without repeats."""
    groups: dict[str, list[str]] = {}
    for zh, en in pairs:
        refs = groups.setdefault(zh, [])
        if en not in refs:
            refs.append(en)
    return [Item(zh, tuple(refs)) for zh, refs in groups.items()]


def refs_histogram(items: list[Item]) -> dict[str, int]:
    """``{"number of references": number of items}``, sorted by number of references."""
    counts = Counter(len(item.refs) for item in items)
    return {str(n): counts[n] for n in sorted(counts)}


def _keys(item: Item) -> tuple[str, set[str]]:
    return leak_key(item.zh), {leak_key(ref) for ref in item.refs}


def make_splits(pairs: list[Pair], dev_size: int, test_size: int, seed: int,
                min_refs: int = 2) -> Splits:
    """Split cleaned ``pairs`` into leak-free train / dev / test (see module docstring).

    Test is filled first, then dev; a candidate is skipped when its Chinese key is already
    used by a chosen item, or (for dev) when one of its references matches a test sentence,
    so dev and test are disjoint on both sides. Raises :class:`DataError` when there are not
    enough multi-reference groups.
    """
    if dev_size < 1 or test_size < 1:
        raise DataError(f"dev and test sizes must be >= 1 (got {dev_size}, {test_size})")
    items = group_by_source(pairs)
    order = {item.zh: index for index, item in enumerate(items)}
    candidates = [item for item in items if len(item.refs) >= min_refs]
    random.Random(seed).shuffle(candidates)

    chosen: dict[str, list[Item]] = {"test": [], "dev": []}
    used_zh: set[str] = set()
    en_keys: dict[str, set[str]] = {"test": set(), "dev": set()}
    zh_keys: dict[str, set[str]] = {"test": set(), "dev": set()}
    wanted = {"test": test_size, "dev": dev_size}
    pool = iter(candidates)
    for name, other in (("test", "dev"), ("dev", "test")):
        while len(chosen[name]) < wanted[name]:
            item = next(pool, None)
            if item is None:
                break
            zh_key, ref_keys = _keys(item)
            if zh_key in used_zh or ref_keys & en_keys[other] or zh_key in zh_keys[other]:
                continue
            chosen[name].append(item)
            used_zh.add(zh_key)
            zh_keys[name].add(zh_key)
            en_keys[name] |= ref_keys
    short = {name: len(chosen[name]) for name in chosen if len(chosen[name]) < wanted[name]}
    if short:
        raise DataError(
            f"only {len(candidates)} Chinese sentences have >= {min_refs} distinct English "
            f"translations, not enough for dev {dev_size} + test {test_size} items "
            f"(got {short}); lower --dev-size/--test-size or pass --min-refs 1")

    held = HeldOut(zh_keys["test"] | zh_keys["dev"], en_keys["test"] | en_keys["dev"])
    train = [(zh, en) for zh, en in pairs if not held.leaks(zh, en)]
    dev = sorted(chosen["dev"], key=lambda item: order[item.zh])
    test = sorted(chosen["test"], key=lambda item: order[item.zh])
    in_eval = sum(len(item.refs) for item in dev + test)
    stats = {
        "seed": seed, "min_refs": min_refs, "groups": len(items),
        "multi_ref_groups": len(candidates),
        "train_pairs": len(train), "dev_items": len(dev), "test_items": len(test),
        "dev_refs_histogram": refs_histogram(dev), "test_refs_histogram": refs_histogram(test),
        "pairs_in_dev_test": in_eval,
        "train_removed_for_overlap": len(pairs) - len(train) - in_eval,
    }
    return Splits(train, dev, test, stats)
