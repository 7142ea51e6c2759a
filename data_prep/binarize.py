"""Binarization with ``fairseq-preprocess`` (run as a subprocess of this interpreter)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .errors import DataError
from .progress import step


def fairseq_preprocess(destdir: str | Path, srcdict: str | Path, tgtdict: str | Path,
                       trainpref: str | Path | None = None, validpref: str | Path | None = None,
                       testpref: str | Path | None = None, workers: int = 1) -> Path:
    """Run ``fairseq-preprocess --source-lang zh --target-lang en`` with fixed dictionaries.

    Its log goes to ``destdir/preprocess.log``; a failure raises :class:`DataError` quoting
    the last line of fairseq's output.
    """
    destdir = Path(destdir)
    command = [sys.executable, "-m", "fairseq_cli.preprocess", "--source-lang", "zh",
               "--target-lang", "en", "--destdir", str(destdir), "--srcdict", str(srcdict),
               "--tgtdict", str(tgtdict), "--workers", str(workers)]
    for flag, prefix in (("--trainpref", trainpref), ("--validpref", validpref),
                         ("--testpref", testpref)):
        if prefix is not None:
            command += [flag, str(prefix)]
    step("fairseq-preprocess " + " ".join(command[3:]))
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["(no output)"]
        raise DataError(f"fairseq-preprocess failed (exit {result.returncode}): {lines[-1]}")
    return destdir
