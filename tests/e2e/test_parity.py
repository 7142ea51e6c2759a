"""The parity task of the Grid LSTM paper (§4) in ``recipes/parity.py``: held-out strings never
drawn for training, and the recipe end to end on a tiny budget."""

import json
import subprocess
import sys

import torch

from tests.helpers import REPO

sys.path.insert(0, str(REPO / "recipes"))
import parity  # noqa: E402  (recipes/ is not a package)


def values(x):
    return set((x * 2 ** torch.arange(x.shape[1])).sum(1).long().tolist())


def test_tune_and_test_strings_are_never_drawn_for_training():
    gen = torch.Generator().manual_seed(0)
    train = values(parity.strings(10, 20000, "train", gen))
    tune = values(parity.strings(10, 2000, "tune", gen))
    test = values(parity.strings(10, 2000, "test", gen))
    assert not (train & tune) and not (train & test) and not (tune & test)
    assert 30 < len(tune) < 80 and 30 < len(test) < 80  # ~1/20 of the 1,024 strings each
    assert len(train) > 850


def test_models_have_matched_parameters_and_the_recipe_writes_curves(tmp_path):
    grid, ffn = parity.build("grid", 12, 16, 3), parity.build("ffn", 12, 16, 3)
    assert abs(parity.count(ffn) / parity.count(grid) - 1) < 0.05
    proc = subprocess.run([sys.executable, str(REPO / "recipes" / "parity.py"), "--bits", "10", "--depths", "2",
                           "--hidden", "8", "--lrs", "0.01", "--max-update", "40", "--eval-every", "20",
                           "--parallel", "1", "--work", str(tmp_path)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    runs = results["tasks"]["parity (10 bits)"]
    assert sorted(r["model"] for r in runs) == ["ffn", "grid"]
    assert all([s for s, _ in r["seq_acc"]] == [20 * 64, 40 * 64] for r in runs)
    assert (tmp_path / "accuracy.png").stat().st_size > 1000
    bad = subprocess.run([sys.executable, str(REPO / "recipes" / "parity.py"), "--bits", "4"],
                         capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --bits must be in 10..62")
