"""A small, self-contained Tatoeba split in the data_prep layout, for tests and smoke runs.

data_prep (``make data``) is the real producer of ``work/data/tatoeba``; this module only
exists so that the scorer and the phrase-based baseline can be exercised on real text when
that folder is absent. It writes ``split/`` (raw text: ``train.zh train.en dev.zh
dev.en.0..K test.zh test.en.0..K``, missing extra references as empty lines) and ``tok/``
(jieba-segmented Chinese, sacremoses-tokenized cased English), plus ``manifest.json``.

Dev and test items are Chinese sentences with at least two distinct English translations;
every pair whose Chinese side is in dev or test is kept out of train.

Usage: ``python -m eval.tatoeba_split TSV OUT [--train N] [--dev N] [--test N]``.
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from .phrase_based.text import normalize, segment_zh, tokenize_en
from .textio import read_lines, write_lines


def read_tatoeba(tsv: str | Path) -> list[tuple[str, str]]:
    """``(zh, en)`` pairs of an ``English<TAB>Chinese<TAB>attribution`` file, normalised
    as data_prep normalises (NFKC, controls removed, spaces collapsed)."""
    pairs = []
    for line in read_lines(tsv):
        en, zh = line.split("\t")[:2]
        pairs.append((normalize(zh), normalize(en)))
    return pairs


def _write_multi_ref(root: Path, name: str, items: list[tuple[str, list[str]]]) -> None:
    k = max(len(refs) for _, refs in items)
    write_lines(root / "split" / f"{name}.zh", [zh for zh, _ in items])
    write_lines(root / "tok" / f"{name}.zh", [" ".join(segment_zh(zh)) for zh, _ in items])
    for index in range(k):
        refs = [refs[index] if index < len(refs) else "" for _, refs in items]
        write_lines(root / "split" / f"{name}.en.{index}", refs)
        write_lines(root / "tok" / f"{name}.en.{index}", [" ".join(tokenize_en(r)) for r in refs])


def build_split(tsv: str | Path, out: str | Path, n_train: int | None = None, n_dev: int = 200,
                n_test: int = 200, max_refs: int = 4, seed: int = 1) -> Path:
    """Write the split described in the module docstring to ``out``; return ``out``."""
    out = Path(out)
    pairs = read_tatoeba(tsv)
    groups: dict[str, list[str]] = {}
    for zh, en in pairs:
        refs = groups.setdefault(zh, [])
        if en not in refs:
            refs.append(en)
    multi = [zh for zh, refs in groups.items() if len(refs) >= 2]
    rng = random.Random(seed)
    rng.shuffle(multi)
    if len(multi) < n_dev + n_test:
        raise ValueError(f"only {len(multi)} multi-reference items, asked for {n_dev}+{n_test}")
    test, dev = multi[:n_test], multi[n_test:n_test + n_dev]
    held_out = set(test) | set(dev)
    train = [(zh, en) for zh, en in pairs if zh not in held_out]
    if n_train is not None and n_train < len(train):
        keep = set(rng.sample(range(len(train)), n_train))
        train = [pair for i, pair in enumerate(train) if i in keep]
    write_lines(out / "split" / "train.zh", [zh for zh, _ in train])
    write_lines(out / "split" / "train.en", [en for _, en in train])
    write_lines(out / "tok" / "train.zh", [" ".join(segment_zh(zh)) for zh, _ in train])
    write_lines(out / "tok" / "train.en", [" ".join(tokenize_en(en)) for _, en in train])
    _write_multi_ref(out, "dev", [(zh, groups[zh][:max_refs]) for zh in dev])
    _write_multi_ref(out, "test", [(zh, groups[zh][:max_refs]) for zh in test])
    manifest = {"producer": "eval.tatoeba_split (stand-in for data_prep)", "source": str(tsv),
                "seed": seed, "sizes": {"train": len(train), "dev": len(dev), "test": len(test)}}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tsv")
    parser.add_argument("out")
    parser.add_argument("--train", type=int, default=None, help="sample this many training pairs")
    parser.add_argument("--dev", type=int, default=500)
    parser.add_argument("--test", type=int, default=500)
    args = parser.parse_args(argv)
    print(build_split(args.tsv, args.out, args.train, args.dev, args.test))


if __name__ == "__main__":
    main()
