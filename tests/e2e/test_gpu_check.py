"""`DRY_RUN=1 make gpu-check`: the accelerator check's own script (recipes/gpu_check.sh ->
eval/gpu_check.py) on the CPU at tiny sizes, so that it cannot rot between GPU sessions: every
part must have run and left numbers in the JSON and the table."""

import json
import os
import subprocess
import sys

from tests.helpers import REPO


def test_dry_run_fills_every_part_with_numbers(tmp_path):
    env = dict(os.environ, DRY_RUN="1", PY=sys.executable, OMP_NUM_THREADS="1")
    proc = subprocess.run(["bash", str(REPO / "recipes/gpu_check.sh"), "--out", str(tmp_path)], capture_output=True,
                          text=True, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads((tmp_path / "result.json").read_text())
    assert res["errors"] == {} and res["environment"]["mode"] == "dry_run"
    tests = res["cuda_tests"]  # no CUDA here: every selected test is a CUDA case, skipped
    assert tests["selected"] == tests["skipped"] > 0 and tests["failed"] == 0
    rows = res["grid"]["rows"]
    assert {r["kind"] for r in rows} == {"grid", "lstm"} and len(rows) == 5
    for r in rows:
        assert r["tgt_tokens_per_s"] > 0 and r["tflop_per_step"] > 0 and 0 < r["of_bf16_peak"]
        assert r["peak_mem_gib"] > 0
    assert res["grid"]["lstm_layers"] == res["grid"]["depth"] == 4  # reencoder_big's depth
    for system in ("reencoder_big", "transformer"):
        train, dec = res["train"][system], res["decode"][system]
        assert train["updates"] == 3 and train["tgt_tokens_per_s"] > 0 and train["last_loss"] > 0
        assert train["dev_loss"] > 0 and train["params"] > 0 and train["peak_mem_gib"] > 0
        assert dec["sentences"] == 12 and dec["sent_per_s"] > 0 and dec["peak_mem_gib"] > 0
    assert res["peak_mem_gib"] > 0
    table = (tmp_path / "table.md").read_text()
    assert "reencoder_big" in table and "nn.LSTM" in table and "—" not in table.split("### Training")[1]
