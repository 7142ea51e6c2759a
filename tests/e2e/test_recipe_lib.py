"""recipes/lib.sh's train_nmt: a real fairseq-train run records how it was trained
(training.json, for the results tables), and a finished run re-entered records nothing new;
a run on a wall-clock budget (--stop-time-hours with --lr-scheduler wallclock_linear) stops at
its budget with its learning rate annealed, and is not started again."""
from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import torch

from tests.helpers import BIN

REPO = Path(__file__).resolve().parents[2]


def train_nmt(tiny_bin, runs, limit="6 --lr 0.01"):
    script = (f"source recipes/lib.sh; BIN={shlex.quote(str(BIN))}; RUNS={shlex.quote(str(runs))}; "
              f"OMP_NUM_THREADS=1 train_nmt tiny {shlex.quote(str(tiny_bin / 'bin'))} {limit} --arch reencoder_tiny "
              "--optimizer adam --max-tokens 300 --no-progress-bar")
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


def test_a_time_budget_stops_the_run_with_the_learning_rate_annealed(tiny_bin, tmp_path):
    # 7.2 s
    budget = "0 --lr 0.01 --stop-time-hours 0.002 --time-budget-hours 0.002 --lr-scheduler wallclock_linear --warmup-updates 2"
    proc = train_nmt(tiny_bin, tmp_path, budget)
    assert proc.returncode == 0, proc.stderr[-2000:]
    log = (tmp_path / "tiny" / "train.log").read_text(encoding="utf-8")
    assert "Stopping training due to cumulative_training_time" in log
    info = json.loads((tmp_path / "tiny" / "training.json").read_text(encoding="utf-8"))
    assert info["updates"] > 2
    last = torch.load(tmp_path / "tiny" / "ckpt" / "checkpoint_last.pt", weights_only=True)
    lr = last["last_optimizer_state"]["param_groups"][0]["lr"]
    assert 0 <= lr < 0.001, lr  # decayed to (nearly) zero at the budget, from a peak of 0.01
    again = train_nmt(tiny_bin, tmp_path, budget)  # used its budget: not started again
    assert again.returncode == 0 and "already stopped" in again.stderr
    assert json.loads((tmp_path / "tiny" / "training.json").read_text(encoding="utf-8")) == info


def test_budget_stops_at_its_minutes_and_decays_at_the_schedules():
    def budget(*minutes):
        script = f"source recipes/lib.sh; BIN={shlex.quote(str(BIN))}; budget {' '.join(minutes)}"
        proc = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        words = proc.stdout.split()
        return float(words[words.index("--stop-time-hours") + 1]), float(words[words.index("--time-budget-hours") + 1])

    assert budget("30") == (0.5, 0.5)
    assert budget("10", "60") == (10 / 60, 1.0)  # the first 10 minutes of a 60-minute run


def test_in_lanes_runs_every_entry_once_and_reports_a_failed_lane(tmp_path):
    script = ("source recipes/lib.sh; work() { sleep 0.$((RANDOM % 3)); echo \"$1 $BASHPID\" >> \"$OUT/$1\"; "
              "[ \"$1\" != bad ]; }; OUT=" + shlex.quote(str(tmp_path)) + "; in_lanes 2 \"$OUT\" work a b $EXTRA c d")
    ok = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True,
                        env={"EXTRA": "", "PATH": "/usr/bin:/bin"})
    assert ok.returncode == 0, ok.stderr
    pids = {e: (tmp_path / e).read_text().split()[1] for e in "abcd"}  # each entry ran exactly once
    assert all(len((tmp_path / e).read_text().splitlines()) == 1 for e in "abcd")
    assert pids["a"] == pids["c"] and pids["b"] == pids["d"] and pids["a"] != pids["b"]  # two lanes, in order
    assert (tmp_path / "lane_0.log").exists() and (tmp_path / "lane_1.log").exists()
    bad = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True,
                         env={"EXTRA": "bad", "PATH": "/usr/bin:/bin"})
    assert bad.returncode == 1 and "a lane failed" in bad.stderr
    # lane 0 (a, bad, d) stopped at its failed entry; lane 1 (b, c) went on
    assert len((tmp_path / "d").read_text().splitlines()) == 1
    assert len((tmp_path / "c").read_text().splitlines()) == 2


def test_after_training_picks_the_decoding_on_dev_and_decodes_the_test_set_with_it(tiny, tmp_path):
    """recipes/lib.sh's after_training: every BEAM:LENPEN of DEV_GRID decoded on dev, the best on
    dev BLEU written to decoding.txt, the test set decoded once with it; a re-run decodes nothing."""
    data, runs = tmp_path / "data", tmp_path / "runs"
    (data / "split").mkdir(parents=True)
    for ours, theirs in (("dev", "valid"), ("test", "test")):
        (data / "split" / f"{ours}.zh").write_bytes((tiny.data / "split" / f"{theirs}.zh").read_bytes())
        (data / "split" / f"{ours}.en.0").write_bytes((tiny.data / "split" / f"{theirs}.en").read_bytes())
    for folder in ("bin", "spm"):  # real folders (decode finds the split beside bin/), linked files
        (data / folder).mkdir()
        for f in (tiny.data / folder).iterdir():
            (data / folder / f.name).symlink_to(f)
    (runs / "tiny" / "ckpt").mkdir(parents=True)
    (runs / "tiny" / "ckpt" / "checkpoint_last.pt").symlink_to(tiny.checkpoint)
    script = (f"set -euo pipefail; source recipes/lib.sh; BIN={shlex.quote(str(BIN))}; RUNS={shlex.quote(str(runs))}; "
              f"DEV_GRID='1:1.0 2:0.5 2:2.0'; OMP_NUM_THREADS=1 after_training tiny {shlex.quote(str(data))}")
    proc = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dev = json.loads((runs / "tiny" / "dev" / "eval" / "results.json").read_text(encoding="utf-8"))
    scores = {s["name"]: (s["bleu"], s["chrf"]) for s in dev["systems"]}
    assert sorted(scores) == ["b1_lp1.0", "b2_lp0.5", "b2_lp2.0"]
    best = max(scores, key=scores.get)
    beam, lenpen = best[1:].split("_lp")
    assert (runs / "tiny" / "decoding.txt").read_text() == f"--beam {beam} --lenpen {lenpen}\n"
    assert f"best decoding on dev: {best}" in proc.stderr
    log = (runs / "tiny" / "test.log").read_text(encoding="utf-8")
    assert f"Generate test with beam={beam}:" in log  # the test set decoded with it
    assert len((runs / "tiny" / "test.hyp").read_text(encoding="utf-8").splitlines()) == 50
    config = json.loads((runs / "tiny" / "model" / "config.json").read_text(encoding="utf-8"))
    assert config["decoding"] == {"beam": int(beam), "lenpen": float(lenpen)}  # the folder's default
    again = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True)
    assert again.returncode == 0 and "fairseq-generate" not in again.stderr and "best decoding" not in again.stderr
