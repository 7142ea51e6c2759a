"""Data-parallel training with the plugin: two CPU processes (gloo), fairseq-train's own code.

Each rank is ``fairseq-train --user-dir reencoder`` with the explicit per-rank flags of the
README's CPU recipe (``--distributed-no-spawn --distributed-rank R --distributed-init-method
tcp://...``).  fairseq writes checkpoints on rank 0 only, so the launcher below flips
``Trainer.should_save_checkpoint_on_current_rank`` to True (nothing else changes) and each
rank saves into its own ``--save-dir``.  Both ranks start from the same seed but train on
different shards of every epoch, so their parameters stay identical only if gradients
really are all-reduced: that, and the common update count, is what the test checks.
"""

import os
import socket
import subprocess
import sys
import time

import torch

from reencoder.loading import PLUGIN_DIR

UPDATES = 3
LAUNCHER = (
    "import sys\n"
    "from fairseq.trainer import Trainer\n"
    "Trainer.should_save_checkpoint_on_current_rank = property(lambda self: True)\n"
    "from fairseq_cli.train import cli_main\n"
    "sys.argv = ['fairseq-train'] + sys.argv[1:]\n"
    "cli_main()\n"
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rank_command(data, save_dir, rank: int, port: int):
    return [
        sys.executable, "-c", LAUNCHER, str(data), "--user-dir", PLUGIN_DIR, "--arch", "reencoder_tiny",
        "--task", "translation", "--source-lang", "zh", "--target-lang", "en", "--cpu", "--seed", "5",
        "--optimizer", "adam", "--lr", "0.01", "--clip-norm", "1.0", "--max-tokens", "600",
        "--criterion", "cross_entropy", "--max-update", str(UPDATES), "--disable-validation",
        "--save-dir", str(save_dir), "--no-epoch-checkpoints", "--log-format", "simple", "--log-interval", "1",
        "--no-progress-bar", "--num-workers", "0",
        "--distributed-world-size", "2", "--distributed-rank", str(rank), "--distributed-backend", "gloo",
        "--ddp-backend", "legacy_ddp", "--distributed-no-spawn",
        "--distributed-init-method", f"tcp://127.0.0.1:{port}",
    ]


def run_two_ranks(data, tmp_path):
    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    procs, logs = [], []
    for rank in range(2):
        (tmp_path / f"rank{rank}").mkdir()  # fairseq only creates rank 0's --save-dir
        log = open(tmp_path / f"rank{rank}.log", "w")
        logs.append(log)
        procs.append(subprocess.Popen(rank_command(data, tmp_path / f"rank{rank}", rank, port),
                                      stdout=log, stderr=subprocess.STDOUT, env=env))
    try:
        codes = [p.wait(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for log in logs:
            log.close()
    texts = [(tmp_path / f"rank{r}.log").read_text(errors="replace") for r in range(2)]
    return codes, texts


def test_two_cpu_ranks_end_with_identical_parameters(tiny_bin, tmp_path):
    start = time.perf_counter()
    codes, logs = run_two_ranks(tiny_bin / "bin", tmp_path)
    wall = time.perf_counter() - start
    assert codes == [0, 0], "\n\n".join(log[-3000:] for log in logs)
    assert "distributed init (rank 1)" in logs[1] and "distributed init (rank 0)" in logs[0]
    states = [torch.load(tmp_path / f"rank{r}" / "checkpoint_last.pt", map_location="cpu") for r in range(2)]
    for state in states:
        assert state["optimizer_history"][-1]["num_updates"] == UPDATES
        assert state["cfg"]["distributed_training"]["distributed_world_size"] == 2
    assert states[0]["cfg"]["distributed_training"]["distributed_rank"] == 0
    assert states[1]["cfg"]["distributed_training"]["distributed_rank"] == 1
    params = [state["model"] for state in states]
    assert params[0].keys() == params[1].keys()
    for name in params[0]:
        assert torch.equal(params[0][name], params[1][name]), name
    # Adam took UPDATES steps on every rank (the models are trained, not two copies of the init)
    for state in states:
        steps = {int(v["step"]) for v in state["last_optimizer_state"]["state"].values()}
        assert steps == {UPDATES}
    print(f"DDP 2 CPU ranks x {UPDATES} updates: {wall:.1f} s wall")
