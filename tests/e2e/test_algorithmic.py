"""The Grid LSTM paper's algorithmic tasks (§4) end to end: bad command lines of fairseq-train,
the recipe and the plot script, and a short training run in which the tied 2D Grid LSTM must
learn, its logged accuracy equal to real greedy decoding."""

import subprocess
import sys

import pytest
from fairseq import checkpoint_utils

from eval.fairseq_log import valid_curve
from reencoder.loading import PLUGIN_DIR, build_model
from reencoder.tasks.algorithmic import held_out_accuracy
from tests.helpers import REPO, run_cli

# The short task of the training test: tied grid, fixed seed, a fixed number of updates.
SHORT = ["--algo", "memorisation", "--algo-length", "3", "--algo-symbols", "8"]
SHORT_UPDATES = 300  # x 64 examples
# held-out exact-sequence accuracy (%) the grid must reach (chance: 8^-3 = 0.2 %) at the recipe's
# tuned settings (lr 0.02, output layer U(-0.4, 0.4), LSTM depth gate bias 2).  Memorising 4 of 8
# at depth 2, the harder task, went 81 / 98 / 100 after 100 / 200 / 300 updates on an AMD EPYC
# Zen 5; before the LSTM-depth fix this test needed 800 updates and a 40 % threshold.
SHORT_MIN_ACC = 90.0


def test_bad_command_lines_are_refused_clearly(tmp_path):
    proc = run_cli(["fairseq-train", "--user-dir", PLUGIN_DIR, "--task", "algorithmic", "--algo-digits", "0",
                    "--arch", "grid_lstm_lm_tiny", "--cpu"], check=False)
    assert proc.returncode == 2 and "argument --algo-digits: must be at least 1" in proc.stderr
    recipe = subprocess.run([sys.executable, str(REPO / "recipes" / "algo.py"), "--depths", "0", "--work", str(tmp_path)],
                            capture_output=True, text=True)
    assert recipe.returncode == 2 and recipe.stderr.startswith("error: --depths must be positive, got [0]")
    assert len(recipe.stderr.strip().splitlines()) == 1
    plot = subprocess.run([sys.executable, "-m", "eval.plot_algo_curves", str(tmp_path / "none.json"),
                           "--out", str(tmp_path / "x.png")], capture_output=True, text=True)
    assert plot.returncode == 2 and len(plot.stderr.strip().splitlines()) == 1 and "cannot read" in plot.stderr


@pytest.fixture(scope="module")
def trained_grid(tmp_path_factory):
    """The tied 2D grid (one block tied across depth 2, n = 64) trained on the short task (memorise 3
    symbols of 8) for a fixed number of updates, validated on 200 held-out examples."""
    save_dir = tmp_path_factory.mktemp("algo_ckpt")
    proc = run_cli(
        ["fairseq-train", "--user-dir", PLUGIN_DIR, "--task", "algorithmic", *SHORT, "--algo-train-size", 6400,
         "--algo-valid-size", 200, "--arch", "grid_lstm_lm", "--grid-tied-depth", "--grid-depth", 2,
         "--grid-hidden-size", 64, "--decoder-embed-dim", 64, "--decoder-output-init", 0.4, "--dropout", 0,
         "--criterion", "sequence_accuracy", "--optimizer", "adam", "--lr", 0.02, "--clip-norm", 1.0,
         "--batch-size", 64, "--seed", 1, "--cpu",
         "--max-update", SHORT_UPDATES, "--validate-interval-updates", 50, "--log-format", "simple",
         "--log-interval", 50, "--no-progress-bar", "--num-workers", 0, "--no-epoch-checkpoints", "--save-dir", save_dir],
        env={"OMP_NUM_THREADS": "1"},
    )
    return save_dir, proc.stdout + proc.stderr


def test_tied_grid_learns_the_short_task(trained_grid):
    _, log = trained_grid
    curve = valid_curve(log, field="seq_acc")
    assert [u for u, _ in curve][-1] == SHORT_UPDATES
    assert curve[-1][1] >= SHORT_MIN_ACC, curve
    assert curve[0][1] < curve[-1][1]  # it learned during the run, not before


def test_criterion_accuracy_is_greedy_decoding_accuracy(trained_grid):
    """The teacher-forced ``seq_acc`` of the log equals the accuracy of real greedy decoding
    (token by token with the incremental state) on the same held-out examples."""
    save_dir, log = trained_grid
    logged = valid_curve(log, field="seq_acc")[-1][1]
    models, _ = checkpoint_utils.load_model_ensemble([str(save_dir / "checkpoint_last.pt")])
    _args, task, _model = build_model(["--task", "algorithmic", *SHORT, "--algo-valid-size", "200",
                                       "--arch", "grid_lstm_lm", "--cpu"])
    task.load_dataset("valid")
    assert held_out_accuracy(models[0], task.dataset("valid")) == pytest.approx(logged, abs=0.01)
