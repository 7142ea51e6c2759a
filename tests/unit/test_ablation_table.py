"""The ablation table (eval/ablation_table.py): numbers read from fairseq logs and JSON files."""

import json

import pytest

from eval.ablation_table import main, reliance_gaps, training_summary

# the lines fairseq-train writes to --log-file (--log-format simple), two epochs, the second cut
# short by --stop-time-hours
LOG = """\
2026-11-30 17:00:00 | INFO | fairseq_cli.train | num. shared model params: 1,234,567 (num. trained: 1,234,567)
epoch 001:    100 / 516 loss=7.723, nll_loss=6.998, ppl=127.81, wps=1215.7, ups=2.61, num_updates=100, train_wall=40, wall=41
epoch 001 | valid on 'valid' subset | loss 5.52 | nll_loss 4.472 | ppl 22.19 | num_updates 516
epoch 001 | loss 7.002 | nll_loss 6.165 | ppl 71.73 | num_updates 516 | train_wall 180 | wall 190
epoch 002 | valid on 'valid' subset | loss 5.01 | nll_loss 3.765 | ppl 13.6 | num_updates 700
epoch 002 | loss 5.6 | nll_loss 4.5 | ppl 22.6 | num_updates 700 | train_wall 70 | wall 265
"""


def reliance(gaps_by_position, tokens=10):
    return {"per_position": [{"position": j, "tokens": tokens, "own": 3.0, "other": 3.0 + g}
                             for j, g in enumerate(gaps_by_position)]}


def test_training_summary_sums_epoch_walls_and_takes_the_last_validation():
    s = training_summary(LOG)
    assert s["updates"] == 700 and s["train_seconds"] == 250
    assert s["seconds_per_update"] == pytest.approx(250 / 700)
    assert (s["dev_loss"], s["dev_nll"]) == (5.01, 3.765)
    assert s["parameters"] == 1234567


def test_reliance_gaps_are_token_weighted_per_span():
    r = reliance([8.0, 1.0, 2.0, 3.0, 4.0, 6.0])
    r["per_position"][5]["tokens"] = 30  # position 5 weighs three times position 4
    gaps = reliance_gaps(r)
    assert gaps["0"] == 8.0 and gaps["1–3"] == pytest.approx(2.0)
    assert gaps["4+"] == pytest.approx((4.0 * 10 + 6.0 * 30) / 40)


def write_variant(folder, bleu):
    folder.mkdir(parents=True)
    (folder / "train.log").write_text(LOG)
    (folder / "dev.eval").mkdir()
    (folder / "dev.eval" / "results.json").write_text(json.dumps({"systems": [{"bleu": bleu, "chrf": 40.0}]}))
    (folder / "reliance.json").write_text(json.dumps(reliance([8.0, 1.0, 2.0, 3.0, 4.0])))


def test_table_has_one_row_per_variant_in_order(tmp_path, capsys):
    write_variant(tmp_path / "b", 12.5)
    write_variant(tmp_path / "a", 30.25)
    assert main(["--runs", str(tmp_path), "b", "a", "--out", str(tmp_path / "table.md")]) == 0
    rows = [line for line in (tmp_path / "table.md").read_text().splitlines() if line.startswith("| ")][1:]
    assert [r.split(" | ")[0] for r in rows] == ["| b", "| a"]
    assert "| 1,234,567 | 700 | 0.357 | 3.765 | 30.25 | 8.00 | 2.00 | 4.00 |" in rows[1]
    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["name"] for r in results] == ["b", "a"] and results[0]["dev_bleu"] == 12.5


def test_a_variant_without_its_files_is_one_error_line(tmp_path, capsys):
    write_variant(tmp_path / "a", 1.0)
    (tmp_path / "a" / "reliance.json").unlink()
    assert main(["--runs", str(tmp_path), "a"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "reliance.json: missing" in err and "\n" not in err
