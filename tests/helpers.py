"""What the tests share besides fixtures: where the real data and the venv's console scripts
are, real Tatoeba pairs, and running a console script."""

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


def fairseq_preprocess(args) -> None:
    """``fairseq-preprocess ARGS`` in this process, for a fixture's binarized data
    (:mod:`data_prep.binarize` runs the same in a subprocess; in-process saves a fairseq import,
    seconds on a loaded machine)."""
    from fairseq import options
    from fairseq_cli import preprocess

    preprocess.main(options.get_preprocessing_parser().parse_args([str(a) for a in args]))


def make_set(root, n=3, refs=2):
    """A reference set of ``n`` items with ``refs`` references each (``test.zh``,
    ``test.en.K``) and a hypothesis file ``hyp.txt``, which it returns."""
    (root / "test.zh").write_text("".join(f"句子{i}\n" for i in range(n)), encoding="utf-8")
    for k in range(refs):
        (root / f"test.en.{k}").write_text("".join(f"sentence {i} ref {k}\n" for i in range(n)), encoding="utf-8")
    hyp = root / "hyp.txt"
    hyp.write_text("".join(f"sentence {i}\n" for i in range(n)), encoding="utf-8")
    return hyp


def expect_exit_2(args) -> None:
    """``reencoder-data ARGS`` (in this process) exits with status 2: bad input or usage."""
    from data_prep import cli

    with pytest.raises(SystemExit) as caught:
        cli.main([str(a) for a in args])
    assert caught.value.code == 2


def lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file written with a newline after every line."""
    return path.read_text(encoding="utf-8").split("\n")[:-1]
