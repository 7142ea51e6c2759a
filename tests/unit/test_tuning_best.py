"""eval.tuning_best: the tuning table's winner per system is the best dev BLEU (chrF breaks ties),
printed as recipes/lib.sh's DEMO_* line; a system not named by the tuning recipe is refused."""
import json
import subprocess
from pathlib import Path

import pytest

from data_prep.foundation import UserError
from eval.tuning_best import best_per_system, main


def result(name, bleu, chrf=50.0):
    return {"name": name, "bleu": bleu, "chrf": chrf}


RESULTS = {"systems": [result("lstm_t512_lr0.003_w200", 30.1), result("lstm_t1024_lr0.003_w200", 31.5),
                       result("transformer_t1024_lr0.002_w200", 12.0, 40.0),
                       result("transformer_t2048_lr0.003_w400", 12.0, 41.0)]}


def test_best_by_dev_bleu_then_chrf():
    ranked = best_per_system(RESULTS)
    assert [c["name"] for c in ranked["lstm"]] == ["lstm_t1024_lr0.003_w200", "lstm_t512_lr0.003_w200"]
    assert ranked["transformer"][0]["name"] == "transformer_t2048_lr0.003_w400"  # same BLEU, better chrF


def test_prints_the_winner_as_the_lib_sh_line(tmp_path, capsys):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(RESULTS), encoding="utf-8")
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "DEMO_LSTM=(--max-tokens 1024 --lr 0.003 --warmup-updates 200)" in out
    assert "DEMO_TRANSFORMER=(--max-tokens 2048 --lr 0.003 --warmup-updates 400)" in out


def test_a_precision_suffix_is_part_of_the_configuration(tmp_path, capsys):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"systems": [result("reencoder_t512_lr0.005_w200", 36.0),
                                            result("reencoder_t512_lr0.005_w200_fp32", 36.5)]}), encoding="utf-8")
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "DEMO_REENCODER=(--max-tokens 512 --lr 0.005 --warmup-updates 200 --grid-bf16 never)" in out
    assert out.index("w200_fp32") < out.index("w200:")


def test_full_recipe_names_print_tatoeba_full_settings(tmp_path, capsys):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"systems": [result("lstm_t1024_lr0.003_w300_invsqrt60_d0.1", 40.66),
                                            result("lstm_t512_lr0.003_w200_wallclock25_d0.2", 41.2)]}), encoding="utf-8")
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert ('SYSTEM=lstm MAX_TOKENS=512 LR=0.003 WARMUP=200 SCHEDULE=wallclock BUDGET_MIN=25 '
            'EXTRA_TRAIN_ARGS="--dropout 0.2" bash recipes/tatoeba_full.sh') in out
    assert out.index("lstm_t512") < out.index("lstm_t1024")


def test_refuses_a_system_the_recipe_did_not_name():
    with pytest.raises(UserError, match="r.json: system 'thot'"):
        best_per_system({"systems": [result("thot", 30.0)]}, "r.json")


@pytest.mark.parametrize("entry", ["lstm:512:0.003:200:fp32", "reencoder:512:0.005", "reencoder:512:0.005:200:fp16"])
def test_tune_demo_refuses_a_bad_grid_entry_before_doing_anything(tmp_path, entry):
    """recipes/tune_demo.sh checks every GRID entry first: nothing is trained, no folder made."""
    root = Path(__file__).resolve().parents[2]
    env = {"PATH": "/usr/bin:/bin", "GRID": f"reencoder:512:0.005:200:fp32 {entry}",
           "RUNS": str(tmp_path / "runs"), "DATA": str(tmp_path / "data")}
    r = subprocess.run(["bash", str(root / "recipes/tune_demo.sh")], env=env, capture_output=True, text=True)
    assert r.returncode == 2
    assert f"error: GRID entry '{entry}' is not SYSTEM:MAX_TOKENS:LR:WARMUP[:fp32|bf16]" in r.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path / "data").exists()


def test_winner_flags_by_the_tokenized_bleu(tmp_path, capsys):
    path = tmp_path / "results.json"
    systems = [dict(result("lstm_t512_lr0.003_w200", 30.1), tok_bleu=12.0),
               dict(result("lstm_t1024_lr0.005_w200", 31.5), tok_bleu=11.0)]
    path.write_text(json.dumps({"systems": systems}), encoding="utf-8")
    assert main([str(path), "--metric", "tok_bleu", "--winner", "lstm"]) == 0
    assert capsys.readouterr().out == "lstm_t512_lr0.003_w200 --max-tokens 512 --lr 0.003 --warmup-updates 200\n"
    assert main([str(path), "--winner", "lstm"]) == 0
    assert capsys.readouterr().out.startswith("lstm_t1024_lr0.005_w200 --max-tokens 1024 --lr 0.005")
    assert main([str(path), "--winner", "transformer"]) == 2
    assert "no tuning run of system 'transformer'" in capsys.readouterr().err
    path.write_text(json.dumps({"systems": [result("lstm_t512_lr0.003_w200", 30.1)]}), encoding="utf-8")
    assert main([str(path), "--metric", "tok_bleu"]) == 2
    assert "has no tok_bleu score" in capsys.readouterr().err
