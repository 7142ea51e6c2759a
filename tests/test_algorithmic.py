"""The Grid LSTM paper's algorithmic tasks (§4, addition and memorisation): the examples made on
the fly, the held-out split, the exact-sequence accuracy, and a short training run in which the
tied 2D Grid LSTM must learn."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from fairseq import checkpoint_utils, options, tasks

from conftest import REPO, run_cli
from model_helpers import PLUGIN_DIR
from reencoder.tasks.algorithmic_data import (
    EQUALS,
    PLUS,
    AlgorithmicDataset,
    build_dictionary,
    check_config,
    is_held_out,
    make_example,
)
from reencoder.tasks.algorithmic import exact_counts, held_out_accuracy

sys.path.insert(0, str(REPO / "eval"))
import plot_algo_curves  # noqa: E402
import plot_lm_curves  # noqa: E402

# The short task of the training test: tied grid, fixed seed, a fixed number of updates.
SHORT = ["--algo", "memorisation", "--algo-length", "3", "--algo-symbols", "8"]
SHORT_UPDATES = 400  # x 64 examples
SHORT_MIN_ACC = 70.0  # held-out exact-sequence accuracy (%) the grid must reach (86 on the development CPU)


def number(symbols, order):
    return int("".join(symbols[::-1] if order == "lsd" else symbols))


@pytest.mark.parametrize("order", ["lsd", "msd"])
def test_addition_examples_add_up(order):
    rng = np.random.default_rng(0)
    for _ in range(200):
        inp, out = make_example(rng, False, "addition", digits=15, order=order)
        assert len(inp) == 32 and inp[15] == PLUS and inp[-1] == EQUALS
        a, b = number(inp[:15], order), number(inp[16:31], order)
        assert 10**14 <= a < 10**15 and 10**14 <= b < 10**15
        assert number(out, order) == a + b and len(out) == len(str(a + b))


def test_memorisation_examples_repeat_the_input():
    inp, out = make_example(np.random.default_rng(3), True, "memorisation", length=20, symbols=64)
    assert inp[:-1] == out and inp[-1] == "#" and len(out) == 20
    assert len(build_dictionary("memorisation", 64)) == 4 + 64 + 1


def test_held_out_examples_never_appear_in_training():
    """2-digit addition has only 8,100 inputs: a few epochs of training draws cover most of
    them, yet none of the held-out ones; the held-out set does not move with the seed."""
    d = build_dictionary("addition")
    config = dict(task="addition", digits=2, length=20, symbols=64, order="lsd")
    held = AlgorithmicDataset(d, 300, 5, True, **config)
    held_inputs = {" ".join(held.example(i)[0]) for i in range(len(held))}
    assert 0 < len(held_inputs) <= 810
    train = AlgorithmicDataset(d, 2000, 1, False, **config)
    seen = set()
    for epoch in (1, 2, 3):
        train.set_epoch(epoch)
        seen |= {" ".join(train.example(i)[0]) for i in range(len(train))}
    assert len(seen) > 3000 and not seen & held_inputs
    assert all(is_held_out(x.split()) for x in held_inputs)
    again = AlgorithmicDataset(d, 300, 5, True, **config)
    assert [again.example(i) for i in range(5)] == [held.example(i) for i in range(5)]


def test_items_score_only_the_output():
    d = build_dictionary("addition")
    ds = AlgorithmicDataset(d, 4, 1, False, task="addition", digits=3, length=20, symbols=64, order="lsd")
    inp, out = ds.example(0)
    item = ds[0]
    assert item["source"][0] == d.eos() and d.string(item["source"][1:]).split() == inp + out
    assert item["target"][: len(inp)].eq(d.pad()).all()
    assert d.string(item["target"][len(inp):-1]).split() == out and item["target"][-1] == d.eos()
    batch = ds.collater([ds[i] for i in range(4)])
    assert batch["ntokens"] == int(batch["target"].ne(d.pad()).sum())


def test_exact_counts():
    pad = 1
    target = torch.tensor([[pad, pad, 5, 6], [pad, pad, 5, 6], [pad, 7, 7, pad]])
    predicted = torch.tensor([[9, 9, 5, 6], [9, 9, 5, 5], [9, 7, 7, 9]])
    tok, seq = exact_counts(torch.nn.functional.one_hot(predicted, 10).float(), target, pad)
    assert (tok.item(), seq.item()) == (5, 2)


@pytest.mark.parametrize("bad", [("addition", 0, 20, 64, "lsd", "addition digits must be between 2 and 18"),
                                 ("memorisation", 15, 1, 8, "lsd", "too few to hold some out"),
                                 ("parity", 15, 20, 64, "lsd", "task must be one of")])
def test_bad_config_one_line_error(bad):
    *config, message = bad
    with pytest.raises(ValueError, match=re.escape(message)):
        check_config(*config)


def test_bad_command_lines_are_refused_clearly(tmp_path):
    proc = run_cli(["fairseq-train", "--user-dir", PLUGIN_DIR, "--task", "algorithmic", "--algo-digits", "0",
                    "--arch", "grid_lstm_lm_tiny", "--cpu"], check=False)
    assert proc.returncode == 2 and "argument --algo-digits: must be at least 1" in proc.stderr
    recipe = subprocess.run([sys.executable, str(REPO / "recipes" / "algo.py"), "--depths", "0", "--work", str(tmp_path)],
                            capture_output=True, text=True)
    assert recipe.returncode == 2 and recipe.stderr.startswith("error: --depths must be positive, got [0]")
    assert len(recipe.stderr.strip().splitlines()) == 1
    plot = subprocess.run([sys.executable, str(REPO / "eval" / "plot_algo_curves.py"), str(tmp_path / "none.json"),
                           "--out", str(tmp_path / "x.png")], capture_output=True, text=True)
    assert plot.returncode == 2 and len(plot.stderr.strip().splitlines()) == 1 and "cannot read" in plot.stderr


@pytest.fixture(scope="module")
def trained_grid(tmp_path_factory):
    """The tied 2D grid (shared depth, depth 2, n = 64) trained on the short task (memorise 3
    symbols of 8) for a fixed number of updates, validated on 200 held-out examples."""
    save_dir = tmp_path_factory.mktemp("algo_ckpt")
    proc = run_cli(
        ["fairseq-train", "--user-dir", PLUGIN_DIR, "--task", "algorithmic", *SHORT, "--algo-train-size", 6400,
         "--algo-valid-size", 200, "--arch", "grid_lstm_lm", "--grid-shared-depth", "--grid-depth", 2,
         "--grid-hidden-size", 64, "--decoder-embed-dim", 64, "--dropout", 0, "--criterion", "sequence_accuracy",
         "--optimizer", "adam", "--lr", 0.02, "--clip-norm", 1.0, "--batch-size", 64, "--seed", 1, "--cpu",
         "--max-update", SHORT_UPDATES, "--validate-interval-updates", 100, "--log-format", "simple",
         "--log-interval", 50, "--no-progress-bar", "--num-workers", 0, "--no-epoch-checkpoints", "--save-dir", save_dir],
        env={"OMP_NUM_THREADS": "1"},
    )
    return save_dir, proc.stdout + proc.stderr


def test_tied_grid_learns_the_short_task(trained_grid):
    _, log = trained_grid
    curve = plot_lm_curves.valid_curve(log, field="seq_acc")
    assert [u for u, _ in curve][-1] == SHORT_UPDATES
    assert curve[-1][1] >= SHORT_MIN_ACC, curve
    assert curve[0][1] < curve[-1][1]  # it learned during the run, not before


def test_criterion_accuracy_is_greedy_decoding_accuracy(trained_grid):
    """The teacher-forced ``seq_acc`` of the log equals the accuracy of real greedy decoding
    (token by token with the incremental state) on the same held-out examples."""
    save_dir, log = trained_grid
    logged = plot_lm_curves.valid_curve(log, field="seq_acc")[-1][1]
    models, _ = checkpoint_utils.load_model_ensemble([str(save_dir / "checkpoint_last.pt")])
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, ["--user-dir", PLUGIN_DIR, "--task", "algorithmic", *SHORT,
                                                "--algo-valid-size", "200", "--arch", "grid_lstm_lm", "--cpu"])
    task = tasks.setup_task(args)
    task.load_dataset("valid")
    assert held_out_accuracy(models[0], task.dataset("valid")) == pytest.approx(logged, abs=0.01)


def test_plot_algo_curves(tmp_path):
    run = lambda model, depth, accs: {"model": model, "depth": depth, "params": 1000,  # noqa: E731
                                      "seq_acc": [(32 * (i + 1), a) for i, a in enumerate(accs)],
                                      "tok_acc": [(32 * (i + 1), a) for i, a in enumerate(accs)]}
    results = {"tasks": {"addition": [run("grid", 1, [0, 50]), run("lstm", 1, [0, 10]), run("grid", 2, [5, 90])]}}
    (tmp_path / "r.json").write_text(json.dumps(results))
    plot_algo_curves.main([str(tmp_path / "r.json"), "--out", str(tmp_path / "a.png")])
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
