"""The small readers of reencoder-eval's results that recipes/tvsub.sh uses: the best system of a
dev decode grid (eval.pick), the cross-domain matrix (eval.matrix), a Thot run's training facts."""
from __future__ import annotations

import json

import pytest

from data_prep.foundation import UserError
from eval.matrix import main as matrix_main
from eval.matrix import matrix_table
from eval.pick import best_system
from eval.pick import main as pick_main
from eval.training_info import baseline_info


def system(name, bleu, chrf, tok_bleu=None):
    return {"name": name, "bleu": bleu, "chrf": chrf, "tok_bleu": tok_bleu}


DEV = {"systems": [system("b1_lp1.0", 10.0, 30.0, 14.0), system("b5_lp0.6", 11.0, 31.0, 15.5),
                   system("b5_lp1.0", 12.0, 30.0, 15.5)]}


def test_best_system_by_metric_then_chrf(tmp_path, capsys):
    assert best_system(DEV) == "b5_lp1.0"
    assert best_system(DEV, "tok_bleu") == "b5_lp0.6"  # equal tokenized BLEU: the better chrF
    path = tmp_path / "results.json"
    path.write_text(json.dumps(DEV), encoding="utf-8")
    assert pick_main([str(path), "--metric", "tok_bleu"]) == 0
    assert capsys.readouterr().out == "b5_lp0.6\n"
    with pytest.raises(UserError, match="has no tok_bleu score"):
        best_system({"systems": [system("x", 1.0, 2.0)]}, "tok_bleu", "r.json")
    assert pick_main([str(tmp_path / "missing.json")]) == 2
    assert "missing.json: cannot read results" in capsys.readouterr().err


def test_matrix_rows_are_systems_columns_are_sets(tmp_path, capsys):
    tvsub = {"n_lines": 1154, "n_refs": 3, "tok_bleu_signature": "nrefs:3|case:lc|tok:none",
             "systems": [system("tvsub_lstm", 9.0, 25.0, 14.25), system("demo_lstm", 2.0, 15.0, 3.5)]}
    tatoeba = {"n_lines": 1000, "n_refs": 4, "systems": [system("tvsub_lstm", 8.5, 28.0)]}
    table = matrix_table({"tvsub test": tvsub, "tatoeba test": tatoeba})
    assert ("| system | tvsub test (1154 lines, 3 ref.; BLEU tok lc / chrF) "
            "| tatoeba test (1000 lines, 4 ref.; BLEU / chrF) |") in table
    assert "| tvsub_lstm | 14.25 / 25.00 | 8.50 / 28.00 |" in table
    assert "| demo_lstm | 3.50 / 15.00 | – |" in table
    for name, results in (("tvsub", tvsub), ("tatoeba", tatoeba)):
        (tmp_path / f"{name}.json").write_text(json.dumps(results), encoding="utf-8")
    out = tmp_path / "matrix.md"
    assert matrix_main(["--set", f"tvsub test={tmp_path / 'tvsub.json'}", "--set",
                        f"tatoeba test={tmp_path / 'tatoeba.json'}", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == table == capsys.readouterr().out


def test_thot_training_facts_come_from_its_model_folder(tmp_path):
    (tmp_path / "baseline.json").write_text(json.dumps({"train_pairs": 20000, "wall_times_s": {"train_total": 140.5}}),
                                            encoding="utf-8")
    info = baseline_info(tmp_path, "reencoder-baseline run --max-train 20000")
    assert info["train_seconds"] == 140.5 and info["sentences"] == 20000 and info["updates"] is None
    assert info["budget"] == "20,000 pairs" and info["command"].startswith("reencoder-baseline")
    (tmp_path / "baseline.json").write_text("{}", encoding="utf-8")
    with pytest.raises(UserError, match="baseline.json: cannot read the baseline's training record"):
        baseline_info(tmp_path, "x")
