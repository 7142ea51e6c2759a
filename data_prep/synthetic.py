"""Synthetic seq2seq data for a quick learning check: *copy* and *reverse* of random token
sequences, made on the fly from a seed and binarized for ``fairseq-train --task translation``.

Every example is a random sequence of ``min_len``–``max_len`` symbols (length uniform, each
symbol uniform over ``symbols`` names ``s0 s1 …``); the target is the same sequence (copy) or
the same sequence backwards (reverse).  The held-out sets are drawn first, all distinct; the
training set is then drawn by rejection from the rest of the sequence space, so **no valid or
test source occurs in training** (and no example occurs twice).  The same seed gives the same
sources for both tasks.

The output folder, written whole or not at all (``data_prep.staging``)::

    OUT/train.zh OUT/train.en  valid.*  test.*   plain text, one whitespace-separated token per
                                                 symbol, one example per line (zh = source side,
                                                 en = target side, as the recipes expect)
    OUT/dict.txt                                 the joined dictionary: every symbol, in order
    OUT/bin/                                     fairseq-preprocess output (same dict both sides)
    OUT/manifest.json                            settings and counts; written last

Usage: ``python -m data_prep.synthetic --task reverse --out work/synthetic/data/reverse
[--seed 1] [--train 20000] [--valid 200] [--test 500] [--min-len 3] [--max-len 15]
[--symbols 30]`` or :func:`build` from a recipe.  A folder built with the same settings is left
as it is.  Bad settings print one ``error: ...`` line and exit 2.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Set, Tuple

from .binarize import fairseq_preprocess
from .errors import DataError
from .foundation import run_main
from .manifest import MANIFEST
from .staging import staged_folder

TASKS = ("copy", "reverse")
SPLITS = ("train", "valid", "test")
SRC, TGT = "zh", "en"  # the language suffixes fairseq_preprocess and the recipes use

Example = Tuple[Tuple[str, ...], Tuple[str, ...]]


@dataclass(frozen=True)
class Settings:
    """Everything that determines a synthetic data folder."""

    task: str = "copy"
    seed: int = 1
    train: int = 20000
    valid: int = 200
    test: int = 500
    min_len: int = 3
    max_len: int = 15
    symbols: int = 30

    def check(self) -> None:
        """Raise :class:`DataError` (one line) for settings that cannot be honoured."""
        if self.task not in TASKS:
            raise DataError(f"unknown task {self.task!r} (choose from {', '.join(TASKS)})")
        for name in ("train", "valid", "test", "min_len", "symbols"):
            if getattr(self, name) < 1:
                raise DataError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.max_len < self.min_len:
            raise DataError(f"max-len ({self.max_len}) is below min-len ({self.min_len})")
        wanted, space = self.train + self.valid + self.test, space_size(self)
        if wanted > space // 2:  # rejection sampling stays fast while half the space is free
            raise DataError(f"{wanted} distinct examples asked for, but only {space} sequences of "
                            f"{self.min_len}-{self.max_len} symbols over {self.symbols} exist "
                            "(at most half of them can be drawn)")


def space_size(settings: Settings) -> int:
    """How many distinct sequences the settings allow."""
    return sum(settings.symbols ** n for n in range(settings.min_len, settings.max_len + 1))


def symbol_names(symbols: int) -> List[str]:
    return [f"s{i}" for i in range(symbols)]


def target_of(task: str, source: Sequence[str]) -> Tuple[str, ...]:
    """The output the task asks for: the source itself (copy) or backwards (reverse)."""
    return tuple(source) if task == "copy" else tuple(reversed(source))


def draw(rng: random.Random, count: int, settings: Settings, taken: Set[Tuple[str, ...]]) -> List[Tuple[str, ...]]:
    """``count`` new distinct random sequences, none of them in ``taken`` (which grows)."""
    names, out = symbol_names(settings.symbols), []
    while len(out) < count:
        length = rng.randint(settings.min_len, settings.max_len)
        seq = tuple(rng.choice(names) for _ in range(length))
        if seq not in taken:
            taken.add(seq)
            out.append(seq)
    return out


def make_splits(settings: Settings) -> Dict[str, List[Example]]:
    """``{split: [(source, target), ...]}``: held-out sets first, then training from the rest."""
    settings.check()
    rng, taken = random.Random(settings.seed), set()
    splits = {}
    for split in ("test", "valid", "train"):
        sources = draw(rng, getattr(settings, split), settings, taken)
        splits[split] = [(s, target_of(settings.task, s)) for s in sources]
    return {split: splits[split] for split in SPLITS}


def write_text(folder: Path, splits: Dict[str, List[Example]], symbols: int) -> Path:
    """The plain parallel files and the joined dictionary (symbol counts of the training set)."""
    for split, examples in splits.items():
        for side, suffix in enumerate((SRC, TGT)):
            lines = "".join(" ".join(ex[side]) + "\n" for ex in examples)
            (folder / f"{split}.{suffix}").write_text(lines, encoding="utf-8")
    counts = dict.fromkeys(symbol_names(symbols), 0)
    for src, tgt in splits["train"]:
        for token in src + tgt:
            counts[token] += 1
    dict_path = folder / "dict.txt"
    dict_path.write_text("".join(f"{name} {max(n, 1)}\n" for name, n in counts.items()), encoding="utf-8")
    return dict_path


def build(out: str | Path, settings: Settings = Settings()) -> Path:
    """Make, write and binarize one task's data into ``out`` (unless it holds the same settings
    already); returns ``out``."""
    out = Path(out)
    settings.check()
    manifest = out / MANIFEST
    if manifest.is_file() and json.loads(manifest.read_text(encoding="utf-8")).get("settings") == asdict(settings):
        return out
    splits = make_splits(settings)
    with staged_folder(out, marker=MANIFEST, what="a synthetic data folder") as tmp:
        dict_path = write_text(tmp, splits, settings.symbols)
        fairseq_preprocess(tmp / "bin", dict_path, dict_path, *(tmp / split for split in SPLITS))
        info = {"settings": asdict(settings), "examples": {s: len(e) for s, e in splits.items()},
                "tokens": {s: sum(len(src) for src, _ in e) for s, e in splits.items()}}
        (tmp / MANIFEST).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return out


def _main(argv: List[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m data_prep.synthetic", description=__doc__.split("\n\n")[0])
    p.add_argument("--task", choices=TASKS, required=True)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    defaults = Settings()
    for name in ("seed", "train", "valid", "test", "min_len", "max_len", "symbols"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(defaults, name),
                       help="default %(default)s")
    args = p.parse_args(argv)
    settings = Settings(**{k: v for k, v in vars(args).items() if k != "out"})
    build(args.out, settings)
    print(f"{args.out}: {settings.task}, {settings.train}/{settings.valid}/{settings.test} examples")
    return 0


def main(argv: List[str] | None = None) -> int:
    """``python -m data_prep.synthetic``; returns 0, or 2 after one ``error: ...`` line."""
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
