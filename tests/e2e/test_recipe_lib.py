"""recipes/lib.sh's train_nmt: a real fairseq-train run records how it was trained
(training.json, for the results tables), and a finished run re-entered records nothing new."""
from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

from tests.helpers import BIN

REPO = Path(__file__).resolve().parents[2]


def train_nmt(tiny_bin, runs):
    script = (f"source recipes/lib.sh; BIN={shlex.quote(str(BIN))}; RUNS={shlex.quote(str(runs))}; "
              f"OMP_NUM_THREADS=1 train_nmt tiny {shlex.quote(str(tiny_bin / 'bin'))} 6 --arch reencoder_tiny "
              "--optimizer adam --lr 0.01 --max-tokens 300 --no-progress-bar")
    return subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True)


def test_train_nmt_records_the_training(tiny_bin, tmp_path):
    proc = train_nmt(tiny_bin, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    info = json.loads((tmp_path / "tiny" / "training.json").read_text(encoding="utf-8"))
    assert info["updates"] == 6 and info["threads"] == "1" and info["params"] > 0
    assert info["train_seconds"] >= 1 and info["last_dev_loss"] > 0
    # the exact command, quoted for a shell: it names the data, the arch and the update limit
    words = shlex.split(info["command"])
    assert words[0] == "OMP_NUM_THREADS=1" and words[1].endswith("fairseq-train")
    assert words[2] == str(tiny_bin / "bin") and "reencoder_tiny" in words and words[words.index("--max-update") + 1] == "6"
    seconds = (tmp_path / "tiny" / "train_seconds").read_text(encoding="utf-8")
    again = train_nmt(tiny_bin, tmp_path)  # finished: not started again (fairseq would add an update)
    assert again.returncode == 0 and "already trained for 6 updates" in again.stderr
    assert (tmp_path / "tiny" / "train_seconds").read_text(encoding="utf-8") == seconds
