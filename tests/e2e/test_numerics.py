"""NaN/inf during training is reported with the batch that caused it (fp32 and bf16 paths),
and the grid with bf16 GEMMs (``--grid-bf16 always``) trains like fp32."""

import re

import pytest
import torch

from reencoder.loading import PLUGIN_DIR
from tests.helpers import run_cli
from tests.model_helpers import build_task_and_model, mixed_batch


def diverging_run(tiny_bin, save_dir, extra):
    """An absurd learning rate: the weights overflow after the first update."""
    return run_cli(["fairseq-train", tiny_bin / "bin", "--user-dir", PLUGIN_DIR, "--arch", "reencoder_tiny",
                    "--task", "translation", "--source-lang", "zh", "--target-lang", "en", "--cpu",
                    "--optimizer", "adam", "--lr", "1e30", "--max-tokens", "500", "--max-update", "20",
                    "--save-dir", save_dir, "--no-progress-bar", *extra], check=False)


@pytest.mark.parametrize("bf16", [False, True], ids=["fp32", "bf16-grid"])
def test_divergence_names_the_batch(tiny_bin, tmp_path, bf16):
    proc = diverging_run(tiny_bin, tmp_path / "ckpt", ["--grid-bf16", "always"] if bf16 else [])
    assert proc.returncode != 0
    err = proc.stdout + proc.stderr
    assert ("grid_bf16='always'" in err) == bf16  # the run's logged config: the case is what it says
    m = re.search(r"FloatingPointError: non-finite logits \(NaN/inf, dtype torch\.(\w+)\) for (\d+) of (\d+) "
                  r"sentences of this batch: rows \[[\d, ]+\].*; source token ids of row \d+: \[[\d, ]+\]", err)
    assert m, err[-2000:]
    # the logits are float32 either way: the bf16 grid's output is cast back before the softmax head
    assert m.group(1) == "float32" and 1 <= int(m.group(2)) <= int(m.group(3))
    assert (tmp_path / "ckpt" / "crash.pt").exists()  # fairseq's crash checkpoint for post-mortem


def test_bf16_grid_matches_fp32_to_bf16_precision(tiny_bin):
    _, task, model = build_task_and_model(tiny_bin / "bin")
    _, _, model_bf16 = build_task_and_model(tiny_bin / "bin", extra=["--grid-bf16", "always"])
    model_bf16.load_state_dict(model.state_dict())
    sample = mixed_batch(task, "valid", [0, 4, 9, 13])
    with torch.no_grad():
        a, _ = model.eval()(**sample["net_input"])
        b, _ = model_bf16.eval()(**sample["net_input"])
    assert b.dtype == torch.float32
    assert (a - b).abs().max() < 0.05 * a.abs().max()  # bf16 has ~3 significant digits
    assert not torch.equal(a, b)  # the flag really changes the arithmetic


@pytest.mark.parametrize("flags,native", [({"avx2"}, False), ({"avx2", "avx512f", "avx512_bf16"}, True),
                                          ({"avx2", "avx512f", "amx_bf16"}, True)], ids=["avx2", "avx512_bf16", "amx"])
def test_grid_bf16_auto_follows_the_hardware(tiny_bin, monkeypatch, flags, native):
    """--grid-bf16 auto: bf16 GEMMs for float32 models exactly where the CPU has AMX or
    AVX512-BF16; float64 models and --grid-bf16 never stay exact."""
    from reencoder.grid import hardware

    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset(flags))
    assert hardware.native_bf16(torch.device("cpu"))[0] == native
    _, task, exact = build_task_and_model(tiny_bin / "bin", extra=["--grid-bf16", "never"])
    _, _, auto = build_task_and_model(tiny_bin / "bin", extra=["--grid-bf16", "auto"])
    auto.load_state_dict(exact.state_dict())
    sample = mixed_batch(task, "valid", [0, 4, 9, 13])
    with torch.no_grad():
        a, _ = exact.eval()(**sample["net_input"])
        b, _ = auto.eval()(**sample["net_input"])
        a64, _ = exact.double()(**sample["net_input"])
        b64, _ = auto.double()(**sample["net_input"])
    assert torch.equal(a, b) != native
    assert torch.equal(a64, b64)
