"""python -m eval.profile_grid: the grid's forward + backward timed and split by kind of op."""

import json

from eval import profile_grid


def test_kinds_of_ops():
    assert profile_grid.group_of("aten::addmm_") == "GEMMs"
    assert profile_grid.group_of("reencoder_gemm::mm_bf16_into_") == "GEMMs"
    assert profile_grid.group_of("reencoder_gates::lstm_forward") == "gate and row kernels"
    assert profile_grid.group_of("aten::_to_copy") == "casts and copies"
    assert profile_grid.group_of("aten::index_select") == "gathers and scatters"
    assert profile_grid.group_of("aten::tanh_") == "other elementwise"
    assert profile_grid.group_of("_FusedGridBackward") == "the rest"


def test_the_grid_profile_splits_a_real_step(tiny_bin, tmp_path, capsys):
    out = tmp_path / "grid.json"
    assert profile_grid.main(["--data", str(tiny_bin), "--arch", "reencoder_tiny", "--width", "16", "--depths", "1,2",
                              "--bf16", "never", "--max-tokens", "300", "--repeats", "1", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert [(v["depth"], v["dtype"]) for v in res["variants"]] == [(1, "float32"), (2, "float32")]
    one, two = res["variants"]
    assert two["gflop"] > one["gflop"] > 0  # a second depth layer: more matmul work, counted
    for v in res["variants"]:
        assert v["groups_s"]["GEMMs"] > 0 and v["seconds"] > 0
        assert v["gemm_gflops"] > v["gflops"]  # the GEMMs alone run faster than the whole grid
    printed = capsys.readouterr().out
    assert "D = 2, float32 GEMMs" in printed and "% of the peak" in printed


def test_no_data_is_one_line_error(tmp_path, capsys):
    assert profile_grid.main(["--data", str(tmp_path), "--out", str(tmp_path / "g.json")]) == 2
    assert capsys.readouterr().err.strip() == f"error: no binarized data in {tmp_path / 'bin'} (run `make data`)"
