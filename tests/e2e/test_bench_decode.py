"""python -m eval.bench_decode: reencoder-translate's speed with model folders, side by side."""

import json

from eval import bench_decode


def test_decoding_benchmark_times_every_model_on_the_same_lines(tiny, tmp_path, capsys):
    src = tmp_path / "in.zh"
    src.write_text("".join(line + "\n" for line in tiny.test_zh[:6]), encoding="utf-8")
    out = tmp_path / "decode.json"
    assert bench_decode.main(["--models", f"a={tiny.folder}", f"b={tiny.folder}", "--input", str(src), "--lines", "5",
                              "--rounds", "1", "--headline-only", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["lines"] == 5 and res["headline"] == "beam 5, batch 32, 1 thread"
    head = res["configs"][res["headline"]]
    for name in ("a", "b"):
        assert head[name]["sent_per_s"] == 5 / head[name]["wall_s"] > 0
        assert head[name]["sent_per_s_after_startup"] > head[name]["sent_per_s"]  # start-up subtracted
    printed = capsys.readouterr().out
    assert "x a's speed" in printed
    assert printed.count("] round 1: ") == 6  # a progress line per timed run: 2 models x (headline + 2 start-ups)


def test_missing_model_folder_is_one_line_error(tmp_path, capsys):
    assert bench_decode.main(["--models", f"a={tmp_path / 'none'}", "--out", str(tmp_path / "d.json")]) == 2
    assert capsys.readouterr().err.strip() == f"error: no model folder at {tmp_path / 'none'} (run `make demo`)"
