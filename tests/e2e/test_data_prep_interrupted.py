"""Interrupted data preparation: ``kill -9`` in the middle of a real ``reencoder-data`` run
never leaves anything that looks complete, and the re-run cleans up and finishes."""
from __future__ import annotations

import os
import signal
import subprocess
import time

from tests.helpers import BIN

SUBSET_LINES = 3000
SMALL = ["--dev-size", "30", "--test-size", "60", "--spm-vocab-zh", "1500", "--spm-vocab-en", "1000", "--quiet"]


def _wait_for(predicate, proc, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def test_kill_9_mid_run_then_rerun_finishes(shared_data, tmp_path):
    tsv = tmp_path / "subset.tsv"
    with open(shared_data / "tatoeba-cmn-eng" / "cmn-eng.tsv", encoding="utf-8") as f:
        tsv.write_text("".join(next(f) for _ in range(SUBSET_LINES)), encoding="utf-8")
    out = tmp_path / "data"
    cmd = [str(BIN / "reencoder-data"), "--tatoeba", str(tsv), "--out", str(out), *SMALL]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # kill it once the split is written and sentencepiece is under way: well inside the run
    reached = _wait_for(lambda: list(tmp_path.glob("data.tmp-*/split/test.en.1")), proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert reached, "reencoder-data finished or failed before it could be interrupted"
    assert proc.returncode == -signal.SIGKILL
    # nothing is taken as complete: no output folder, the partial one is a temp sibling
    assert not out.exists()
    leftovers = list(tmp_path.glob("data.tmp-*"))
    assert len(leftovers) == 1 and not (leftovers[0] / "manifest.json").exists()

    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (out / "manifest.json").is_file() and (out / "bin" / "train.zh-en.zh.bin").is_file()
    assert not list(tmp_path.glob("data.tmp-*")), "the killed run's temp folder was not cleaned up"
    again = subprocess.run(cmd[:-1], capture_output=True, text=True)  # without --quiet
    assert again.returncode == 0 and f"up to date: {out}" in again.stdout + again.stderr
