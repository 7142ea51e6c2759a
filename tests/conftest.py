"""Shared fixtures: the real data in ../shared/data and small binarized corpora built from it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
TATOEBA_TSV = SHARED_DATA / "tatoeba-cmn-eng" / "cmn-eng.tsv"
BIN = Path(sys.executable).parent



@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real data not found at {SHARED_DATA} (the tests read ../shared/data)")
    return SHARED_DATA


def tatoeba_pairs(start: int, count: int):
    """(zh, en) pairs from lines [start, start+count) of the real Tatoeba file."""
    pairs = []
    with open(TATOEBA_TSV, encoding="utf-8") as f:
        for lineno, line in enumerate(f):
            if lineno >= start + count:
                break
            if lineno >= start:
                en, zh, _ = line.rstrip("\n").split("\t")
                pairs.append((zh, en))
    return pairs


def char_tokenize_zh(text: str) -> str:
    return " ".join(ch for ch in text if not ch.isspace())


def word_tokenize_en(text: str) -> str:
    return " ".join(re.findall(r"\w+|[^\w\s]", text.lower()))


def write_tokenized(prefix: Path, pairs) -> None:
    prefix.with_suffix(".zh").write_text("".join(char_tokenize_zh(zh) + "\n" for zh, _ in pairs), encoding="utf-8")
    prefix.with_suffix(".en").write_text("".join(word_tokenize_en(en) + "\n" for _, en in pairs), encoding="utf-8")


def run_cli(args, **kwargs) -> subprocess.CompletedProcess:
    """Run a console script of the venv; fail the test with its output if it fails."""
    check = kwargs.pop("check", True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.update(kwargs.pop("env", {}))
    proc = subprocess.run([str(BIN / args[0])] + [str(a) for a in args[1:]], capture_output=True, text=True, env=env, **kwargs)
    if check and proc.returncode != 0:
        pytest.fail(f"{args[0]} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="session")
def tiny_bin(tmp_path_factory, shared_data) -> Path:
    """A few hundred real Tatoeba pairs (Chinese by character, English by word), binarized
    with fairseq-preprocess: train 400 short pairs, valid 60, test 40."""
    root = tmp_path_factory.mktemp("tiny_tatoeba")
    pairs = tatoeba_pairs(2000, 500)
    write_tokenized(root / "train", pairs[:400])
    write_tokenized(root / "valid", pairs[400:460])
    write_tokenized(root / "test", pairs[460:])
    run_cli(
        ["fairseq-preprocess", "--source-lang", "zh", "--target-lang", "en",
         "--trainpref", root / "train", "--validpref", root / "valid", "--testpref", root / "test",
         "--destdir", root / "bin", "--workers", "1"]
    )
    return root
