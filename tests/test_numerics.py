"""NaN/inf during training is reported with the batch that caused it (fp32 and bf16 paths),
and bf16 autocast of the grid trains like fp32."""

import re

import pytest
import torch

from conftest import run_cli
from model_helpers import PLUGIN_DIR, build_task_and_model, mixed_batch
from reencoder.models.numerics import check_finite


def diverging_run(tiny_bin, save_dir, extra):
    """An absurd learning rate: the weights overflow after the first update."""
    return run_cli(["fairseq-train", tiny_bin / "bin", "--user-dir", PLUGIN_DIR, "--arch", "reencoder_tiny",
                    "--task", "translation", "--source-lang", "zh", "--target-lang", "en", "--cpu",
                    "--optimizer", "adam", "--lr", "1e30", "--max-tokens", "500", "--max-update", "20",
                    "--save-dir", save_dir, "--no-progress-bar", *extra], check=False)


@pytest.mark.parametrize("extra,dtype", [([], "float32"), (["--grid-bf16-autocast"], "float32")])
def test_divergence_names_the_batch(tiny_bin, tmp_path, extra, dtype):
    proc = diverging_run(tiny_bin, tmp_path / "ckpt", extra)
    assert proc.returncode != 0
    err = proc.stdout + proc.stderr
    m = re.search(r"FloatingPointError: non-finite logits \(NaN/inf, dtype torch\.(\w+)\) for (\d+) of (\d+) "
                  r"sentences of this batch: rows \[[\d, ]+\].*; source token ids of row \d+: \[[\d, ]+\]", err)
    assert m, err[-2000:]
    assert m.group(1) == dtype and 1 <= int(m.group(2)) <= int(m.group(3))
    assert (tmp_path / "ckpt" / "crash.pt").exists()  # fairseq's crash checkpoint for post-mortem


def test_check_finite_names_only_the_bad_rows():
    logits = torch.zeros(4, 3, 5)
    logits[2, 1, 0] = float("nan")
    logits[3, 0, 4] = float("inf")
    src = torch.tensor([[1, 5, 6, 2], [7, 8, 9, 2], [1, 1, 4, 2], [3, 3, 3, 2]])
    prev = torch.tensor([[2, 5, 6], [2, 8, 1], [2, 4, 1], [2, 1, 1]])
    with pytest.raises(FloatingPointError, match=r"for 2 of 4 sentences of this batch: rows \[2, 3\]; "
                       r"target lengths \[2, 1\]; source lengths \[2, 4\]; source token ids of row 2: \[4, 2\]"):
        check_finite(logits, src, prev, pad=1)
    check_finite(torch.zeros(2, 2, 2), src[:2], prev[:2], pad=1)  # finite: silent


def test_bf16_autocast_matches_fp32_to_bf16_precision(tiny_bin):
    _, task, model = build_task_and_model(tiny_bin / "bin")
    _, _, model_bf16 = build_task_and_model(tiny_bin / "bin", extra=["--grid-bf16-autocast"])
    model_bf16.load_state_dict(model.state_dict())
    sample = mixed_batch(task, "valid", [0, 4, 9, 13])
    with torch.no_grad():
        a, _ = model.eval()(**sample["net_input"])
        b, _ = model_bf16.eval()(**sample["net_input"])
    assert b.dtype == torch.float32
    assert (a - b).abs().max() < 0.05 * a.abs().max()  # bf16 has ~3 significant digits
    assert not torch.equal(a, b)  # the flag really changes the arithmetic
