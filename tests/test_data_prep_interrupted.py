"""Interrupted data preparation: ``kill -9`` in the middle of a real ``reencoder-data`` run
never leaves anything that looks complete, and the re-run cleans up and finishes."""
from __future__ import annotations

import os
import signal
import subprocess
import time

from conftest import BIN
from data_prep.staging import recover_stale, staged_folder

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


def test_a_kill_between_the_two_renames_restores_the_previous_output(tmp_path):
    """The one non-atomic moment of an update: the complete old output was moved aside and the
    new one not yet moved in. The next run puts the old one back before doing anything."""
    out = tmp_path / "out"
    dead = subprocess.Popen(["true"])
    dead.wait()
    aside = tmp_path / f"out.old-{dead.pid}-abcd"
    (aside / "out").mkdir(parents=True)
    (aside / "out" / "manifest.json").write_text("{}")
    half = tmp_path / f"out.tmp-{dead.pid}-efgh"
    (half / "split").mkdir(parents=True)
    live = tmp_path / f"out.tmp-{os.getpid()}-ijkl"  # a concurrent run (this process): untouched
    live.mkdir()
    recover_stale(out)
    assert (out / "manifest.json").is_file()
    assert not aside.exists() and not half.exists() and live.is_dir()


def test_staged_folder_names_its_temp_after_the_process(tmp_path):
    with staged_folder(tmp_path / "x") as tmp:
        assert tmp.name.startswith(f"x.tmp-{os.getpid()}-")
        (tmp / "manifest.json").write_text("{}")
    assert (tmp_path / "x" / "manifest.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["x"]
