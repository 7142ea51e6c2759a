"""python -m eval.profile_step: a whole fairseq training step of the Reencoder and the lstm, by part."""

import json

from eval import profile_step


def test_profile_splits_the_step_into_the_named_parts(tiny_bin, tmp_path, capsys):
    out = tmp_path / "profile.json"
    assert profile_step.main(["--data", str(tiny_bin), "--systems", "reencoder_base,lstm", "--batches", "2",
                              "--rounds", "1", "--max-tokens", "256", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    for name, family in (("reencoder_base", "reencoder"), ("lstm", "lstm")):
        parts = res["systems"][name]["parts"]
        for label, _module in profile_step.PARTS[family]:
            assert label in parts, (name, label)
        for label in ("loss", "optimizer", "clip", "backward (engine)"):
            assert label in parts, (name, label)
    assert res["systems"]["reencoder_base"]["parts"]["grid"]["backward_ms"] > 0
    assert res["systems"]["lstm"]["parts"]["decoder LSTM"]["backward_ms"] > 0
    # the tied output layer's weight gradient is accumulated under the target embedding
    assert res["systems"]["lstm"]["parts"]["target embedding"]["backward_ms"] > 0
    assert "x the lstm's" in capsys.readouterr().out


def test_unknown_system_is_one_line_error(tiny_bin, tmp_path, capsys):
    assert profile_step.main(["--data", str(tiny_bin), "--systems", "nope", "--out", str(tmp_path / "p.json")]) == 2
    assert "unknown systems ['nope']" in capsys.readouterr().err
