"""End to end through fairseq's own CLIs with --user-dir reencoder, on real Tatoeba pairs."""

import math
import re
import subprocess
import sys

import pytest
import torch
from fairseq import checkpoint_utils

from eval.fairseq_log import log_records
from reencoder.loading import PLUGIN_DIR
from tests.helpers import REPO, char_tokenize_zh, run_cli, tatoeba_pairs
from tests.model_helpers import target_log_probs

TRAIN_ARGS = [
    "--user-dir", PLUGIN_DIR, "--arch", "reencoder_tiny", "--task", "translation",
    "--source-lang", "zh", "--target-lang", "en", "--cpu", "--seed", "3",
    "--optimizer", "adam", "--lr", "0.01", "--clip-norm", "1.0", "--max-tokens", "1500",
    "--criterion", "cross_entropy", "--log-format", "simple", "--log-interval", "1",
    "--no-progress-bar", "--num-workers", "0",
]


@pytest.fixture(scope="module")
def trained(tiny_bin, tmp_path_factory):
    save_dir = tmp_path_factory.mktemp("ckpt")
    proc = run_cli(["fairseq-train", tiny_bin / "bin", *TRAIN_ARGS, "--max-epoch", "8", "--save-dir", save_dir])
    return save_dir, proc.stdout + proc.stderr


def epoch_losses(log: str, split: str):
    """The loss of every ``train`` epoch summary or ``valid`` record, through the log reader."""
    return [fields["loss"] for tag, fields in log_records(log) if tag == split]


def test_training_loss_drops(trained):
    save_dir, log = trained
    train, valid = epoch_losses(log, "train"), epoch_losses(log, "valid")
    assert len(train) == 8 and len(valid) == 8, log[-2000:]
    assert train[-1] < train[0] - 1.0, train  # bits per token, from ~log2(V)
    assert valid[-1] < valid[0] - 0.5, valid
    assert (save_dir / "checkpoint_last.pt").exists() and (save_dir / "checkpoint_best.pt").exists()


def test_generate_translates_every_sentence(trained, tiny_bin):
    """The valid subset has 60 sentences, not a multiple of 8: fairseq 0.12 drops a last batch
    whose size is not a multiple of --required-batch-size-multiple (default 8; fairseq issue
    #5036), so the recipes and the README pass 1."""
    save_dir, _ = trained
    proc = run_cli(["fairseq-generate", tiny_bin / "bin", "--user-dir", PLUGIN_DIR, "--path", save_dir / "checkpoint_best.pt",
                    "--gen-subset", "valid", "--beam", "4", "--batch-size", "16", "--required-batch-size-multiple", "1",
                    "--cpu"])
    hyps = [line for line in proc.stdout.splitlines() if line.startswith("H-")]
    n_valid = len((tiny_bin / "valid.zh").read_text(encoding="utf-8").splitlines())
    assert n_valid % 8 != 0 and sorted(int(h.split("\t")[0][2:]) for h in hyps) == list(range(n_valid))
    assert "BLEU4" in proc.stdout + proc.stderr


def test_interactive_translates_raw_input(trained, tiny_bin):
    save_dir, _ = trained
    lines = [char_tokenize_zh(zh) for zh, _ in tatoeba_pairs(2600, 5)]
    proc = run_cli(["fairseq-interactive", tiny_bin / "bin", "--user-dir", PLUGIN_DIR, "--path", save_dir / "checkpoint_best.pt",
                    "--source-lang", "zh", "--target-lang", "en", "--beam", "3", "--cpu"], input="\n".join(lines) + "\n")
    hyps = [line.split("\t") for line in proc.stdout.splitlines() if line.startswith("H-")]
    assert [int(h[0][2:]) for h in hyps] == list(range(5))
    assert all(float(h[1]) < 0 for h in hyps)


def test_checkpoint_reload_gives_the_same_scores(trained, tiny_bin):
    """Save (fairseq-train) → load (safe torch.load, allow-listed) → identical scores, both
    in-process and as fairseq-generate --score-reference computes them."""
    save_dir, _ = trained
    ckpt = save_dir / "checkpoint_last.pt"
    # with the plugin imported, nothing in a fresh checkpoint is outside the allow-list
    assert torch.serialization.get_unsafe_globals_in_checkpoint(str(ckpt)) == []
    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([str(ckpt)])
    model = models[0].eval()
    task.load_dataset("test")
    ds = task.dataset("test")
    proc = run_cli(["fairseq-generate", tiny_bin / "bin", "--user-dir", PLUGIN_DIR, "--path", ckpt, "--gen-subset", "test",
                    "--score-reference", "--batch-size", "8", "--cpu"])
    positional = {int(m.group(1)): [float(x) for x in m.group(2).split()]
                  for m in re.finditer(r"^P-(\d+)\t(.*)$", proc.stdout, re.M)}
    assert len(positional) == len(ds)
    for idx in range(0, len(ds), 7):
        sample = ds.collater([ds[idx]])
        with torch.no_grad():
            lp = target_log_probs(model, sample)[0] / math.log(2)  # fairseq prints base 2
        assert lp.tolist() == pytest.approx(positional[idx], abs=2e-4)


class Payload:
    def __reduce__(self):
        import os

        return (os.system, ("touch PWNED",))


def test_crafted_checkpoint_is_refused(trained, tiny_bin, tmp_path):
    save_dir, _ = trained
    state = torch.load(save_dir / "checkpoint_last.pt", weights_only=True)
    state["extra_state"]["evil"] = Payload()
    evil = tmp_path / "evil.pt"
    torch.save(state, evil)
    proc = run_cli(["fairseq-generate", tiny_bin / "bin", "--user-dir", PLUGIN_DIR, "--path", evil, "--gen-subset", "test",
                    "--batch-size", "8", "--cpu"], check=False, cwd=tmp_path)
    assert proc.returncode != 0
    assert "system" in proc.stderr and "weights_only" in proc.stderr.replace("Weights only", "weights_only")
    assert not (tmp_path / "PWNED").exists()


def test_average_of_last_checkpoints_is_the_parameter_mean(trained, tmp_path):
    save_dir, _ = trained
    out = tmp_path / "avg.pt"
    proc = run_cli(["reencoder-average", "--save-dir", save_dir, "--last", "3", "--out", out])
    assert "averaged 3 checkpoints" in proc.stdout
    states = [torch.load(save_dir / f"checkpoint{e}.pt", weights_only=True)["model"] for e in (6, 7, 8)]
    avg = torch.load(out, weights_only=True)["model"]
    for name, value in avg.items():
        torch.testing.assert_close(value, sum(s[name] for s in states) / 3)
    missing = run_cli(["reencoder-average", "--inputs", tmp_path / "nope.pt", "--out", out], check=False)
    assert missing.returncode == 2
    assert missing.stderr.splitlines()[-1] == f"error: checkpoint {tmp_path / 'nope.pt'} does not exist"


@pytest.mark.parametrize("extra, message", [
    (["--arch", "reencoder_huge"], "argument --arch/-a: invalid choice: 'reencoder_huge'"),
    (["--arch", "reencoder_tiny", "--grid-hidden-size", "0"], "argument --grid-hidden-size: must be at least 1, got 0"),
    (["--arch", "reencoder_tiny", "--grid-depth", "two"], "argument --grid-depth: 'two' is not an integer"),
    (["--arch", "reencoder_tiny", "--dropout", "1.5"], "argument --dropout: must be a number in [0, 1), got 1.5"),
    (["--arch", "reencoder_tiny", "--grid-cell", "gru"], "argument --grid-cell: invalid choice: 'gru'"),
])
def test_bad_model_arguments_are_a_usage_error(tiny_bin, tmp_path, extra, message):
    """fairseq's own argparse reports them: usage, then one ``error:`` line; no traceback, no run."""
    at = TRAIN_ARGS.index("--arch")
    args = TRAIN_ARGS[:at] + TRAIN_ARGS[at + 2:] + extra  # the case's --arch replaces the tiny one
    proc = run_cli(["fairseq-train", tiny_bin / "bin", *args, "--save-dir", tmp_path / "ckpt"], check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"fairseq-train: error: {message}")
    assert not (tmp_path / "ckpt").exists()


def test_epoch_updates_counts_what_fairseq_train_does(trained, tiny_bin):
    """recipes/epoch_updates.py (the demo's epochs -> --max-update) predicts fairseq-train's updates."""
    _, log = trained
    updates = [fields["num_updates"] for tag, fields in log_records(log) if tag == "train"]
    proc = subprocess.run([sys.executable, str(REPO / "recipes" / "epoch_updates.py"), str(tiny_bin / "bin"),
                           "--max-tokens", "1500", "--epochs", "8"], capture_output=True, text=True, check=True)
    assert len(updates) == 8 and int(proc.stdout) == updates[-1] > 8
    one = subprocess.run([sys.executable, str(REPO / "recipes" / "epoch_updates.py"), str(tiny_bin / "bin"),
                          "--max-tokens", "1500"], capture_output=True, text=True, check=True)
    assert int(one.stdout) == updates[0]
