"""Interrupted training: kill -9 a fairseq-train run of the Reencoder mid-epoch, run the same
command again, and it resumes from checkpoint_last.pt with its update count and optimizer
state (Adam's step counts and moments) intact: fairseq's ``adam`` and the plugin's ``fused_adam``."""

import os
import re
import signal
import subprocess
import time

import pytest
import torch

from reencoder.loading import PLUGIN_DIR
from tests.helpers import BIN, run_cli


def train_cmd(data, save_dir, max_update, optimizer="adam"):
    return [str(BIN / "fairseq-train"), str(data), "--user-dir", PLUGIN_DIR, "--arch", "reencoder_tiny",
            "--task", "translation", "--source-lang", "zh", "--target-lang", "en", "--cpu", "--seed", "2",
            "--optimizer", optimizer, "--lr", "0.005", "--max-tokens", "300", "--max-update", str(max_update),
            "--save-interval-updates", "3", "--no-epoch-checkpoints", "--save-dir", str(save_dir),
            "--log-format", "simple", "--log-interval", "1", "--no-progress-bar", "--num-workers", "0"]


def adam_steps(state):
    return {int(s["step"]) for s in state["last_optimizer_state"]["state"].values()}


@pytest.mark.parametrize("optimizer", ["adam", "fused_adam"])
def test_kill_9_then_same_command_resumes(tiny_bin, tmp_path, optimizer):
    save = tmp_path / "ckpt"
    cmd = train_cmd(tiny_bin / "bin", save, max_update=10_000, optimizer=optimizer)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    last = save / "checkpoint_last.pt"
    deadline = time.time() + 240
    seen = 0
    for line in proc.stdout:  # wait until a mid-epoch checkpoint exists and training went on
        m = re.search(r"num_updates=(\d+)", line)
        if m:
            seen = int(m.group(1))
        if last.exists() and seen >= 7 or time.time() > deadline:
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    saved = torch.load(last, weights_only=True)
    n = saved["optimizer_history"][-1]["num_updates"]
    assert n >= 6 and n % 3 == 0, n  # a --save-interval-updates checkpoint, mid-epoch (400 pairs ≈ 18 updates)
    assert adam_steps(saved) == {n}

    # the same command (one more update allowed), as a user would re-run it
    again = run_cli([os.path.basename(cmd[0])] + train_cmd(tiny_bin / "bin", save, max_update=n + 1, optimizer=optimizer)[1:])
    log = again.stdout + again.stderr
    assert re.search(rf"Loaded checkpoint .*checkpoint_last\.pt \(epoch \d+ @ {n} updates\)", log), log[-1500:]
    resumed = torch.load(last, weights_only=True)
    assert resumed["optimizer_history"][-1]["num_updates"] == n + 1
    # Adam continued from the saved state: step n+1, not 1 (a fresh optimizer would restart at 1)
    assert adam_steps(resumed) == {n + 1}
    for k, s in saved["last_optimizer_state"]["state"].items():
        r = resumed["last_optimizer_state"]["state"][k]
        # one more Adam update: v' = beta2 v + (1 - beta2) g^2 >= beta2 v, from the saved v (a
        # reset optimizer would give v' = (1 - beta2) g^2, far below beta2 v for most entries)
        assert torch.all(r["exp_avg_sq"] >= 0.999 * s["exp_avg_sq"] * (1 - 1e-5))
