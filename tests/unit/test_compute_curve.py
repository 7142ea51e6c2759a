"""eval.compute_curve: points read from recipe run folders, the log-linear fit, the table."""

import json
import math

import pytest

from data_prep.foundation import UserError
from eval.compute_curve import fit_log_linear, fits, main, needed, read_point


def write_run(root, system, minutes, sentences, dev, test, tok=True):
    run = root / f"run{minutes}"
    (run / system / "dev" / "eval").mkdir(parents=True)
    (run / "eval").mkdir(exist_ok=True)
    (run / system / "training.json").write_text(json.dumps(
        {"train_seconds": minutes * 60, "updates": minutes * 100, "sentences": sentences, "budget": f"{minutes} min"}))
    (run / system / "decoding.txt").write_text("--beam 5 --lenpen 1.0\n")
    score = (lambda v: {"tok_bleu": v, "bleu": v / 2}) if tok else (lambda v: {"bleu": v})
    (run / system / "dev" / "eval" / "results.json").write_text(json.dumps(
        {"systems": [{"name": "b1_lp1.0", **score(dev - 5)}, {"name": "b5_lp1.0", **score(dev)}]}))
    (run / "eval" / "results.json").write_text(json.dumps({"systems": [{"name": system, **score(test)}]}))
    return run


def test_the_fit_recovers_a_log_linear_law_and_inverts_it():
    xs = [15, 30, 60, 240]
    fit = fit_log_linear(xs, [10 + 2 * math.log(x) for x in xs])
    assert fit["a"] == pytest.approx(10) and fit["b"] == pytest.approx(2)
    assert needed(fit, 20) == pytest.approx(math.exp(5))
    assert needed({"a": 1.0, "b": -0.5}, 20) is None
    assert fit_log_linear([60, 60], [1.0, 2.0]) is None


def test_points_come_from_the_chosen_decoding_and_the_tokenized_bleu(tmp_path):
    run = write_run(tmp_path, "reencoder", 20, 1000, dev=9.0, test=11.0)
    point = read_point(run, "reencoder")
    assert (point["minutes"], point["sentences"], point["decoding"]) == (20, 1000, "b5_lp1.0")
    assert (point["dev"], point["test"]) == (9.0, 11.0)
    plain = write_run(tmp_path / "plain", "lstm", 20, 1000, dev=9.0, test=11.0, tok=False)
    assert read_point(plain, "lstm")["test"] == 11.0


def test_two_budgets_give_the_line_through_both_and_the_files(tmp_path):
    runs = [write_run(tmp_path, "reencoder", m, 100 * m, dev=s - 1, test=s) for m, s in ((20, 12.0), (60, 14.0))]
    fitted = fits([read_point(r, "reencoder") for r in runs], 16.0)["reencoder"]
    assert fitted["minutes_to_target"] == pytest.approx(180)  # one more factor of 3 for 2 more BLEU
    assert fitted["sentences_to_target"] == pytest.approx(18000)
    out = tmp_path / "out"
    assert main([*map(str, runs), "--systems", "reencoder", "--target", "16", "--out", str(out)]) == 0
    assert "| reencoder | 2 | 1.82 | 180 |" in (out / "table.md").read_text()
    assert (out / "curve.png").stat().st_size > 10_000


def test_a_malformed_decoding_file_is_one_error_naming_it(tmp_path):
    run = write_run(tmp_path, "lstm", 20, 1000, dev=9.0, test=11.0)
    (run / "lstm" / "decoding.txt").write_text("beam five\n")
    with pytest.raises(UserError, match=r"decoding.txt:1: expected '--beam N --lenpen X'"):
        read_point(run, "lstm")
