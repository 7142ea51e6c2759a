"""The one fairseq-log reader (eval.fairseq_log) and what reads through it: training curves, validation
curves; console and --log-file lines, simple and json formats."""

import matplotlib.image

from eval import plot_training_curves as curves
from eval.fairseq_log import log_records, parameter_count, valid_curve

SIMPLE_LOG = """\
2026-11-22 05:36:08 | INFO | train_inner | epoch 001:      5 / 9 loss=9.747, ppl=107.4, wps=163.7, ups=0.25, wpb=649.9, bsz=68.8, num_updates=5, lr=0.03, gnorm=0.274, clip=0, train_wall=40, wall=66
2026-11-22 05:36:14 | INFO | train | epoch 001 | loss 9.5 | ppl 104.53 | wps 574.5 | ups 0.92 | wpb 624.4 | bsz 66.7 | num_updates 9 | lr 0.03 | gnorm 0.215 | clip 0 | train_wall 10 | wall 71
2026-11-22 05:34:39 | INFO | valid | epoch 001 | valid on 'valid' subset | loss 8.647 | ppl 100.19 | bleu 1.25 | wps 0 | wpb 474 | bsz 48 | num_updates 9 | best_loss 8.647
2026-11-22 05:36:20 | INFO | train_inner | epoch 002:      1 / 9 loss=8.1, ppl=107.4, num_updates=10, lr=0.03
some unrelated line | train | nothing here
"""


JSON_LOG = """\
2026-11-22 05:40:00 | INFO | train_inner | {"epoch": 1, "update": 0.556, "loss": "9.7", "ppl": "832", "num_updates": "5"}
2026-11-22 05:40:01 | INFO | train | {"epoch": 1, "train_loss": "9.5", "train_ppl": "724", "train_num_updates": "9"}
2026-11-22 05:40:02 | INFO | valid | {"epoch": 1, "valid_loss": "8.6", "valid_bleu": "2.5", "valid_num_updates": "9"}
"""


# the same kinds of records as fairseq-train's --log-file writes them (no "time | INFO | tag |")
LOG_FILE_SIMPLE = """\
begin validation on "valid" subset
epoch 001:     10 / 516 loss=11.961, nll_loss=11.961, ppl=3986.58, wps=771.8, num_updates=10, lr=0.0008
epoch 001 | valid on 'valid' subset | loss 10.694 | nll_loss 10.542 | ppl 1491.11 | num_updates 20
epoch 001 | loss 9.978 | nll_loss 9.607 | ppl 779.69 | num_updates 60 | lr 0.00365148
done training in 39.6 seconds
"""


LOG_FILE_JSON = """\
{"epoch": 1, "update": 0.556, "loss": "9.7", "num_updates": "5"}
{"epoch": 1, "valid_loss": "8.6", "valid_num_updates": "9"}
{"epoch": 1, "train_loss": "9.5", "train_num_updates": "9"}
"""


def test_training_curves_read_fairseq_log_files():
    assert curves.parse_log(LOG_FILE_SIMPLE) == {"train_inner": [(10, 11.961)], "valid": [(20, 10.694)],
                                                 "train": [(60, 9.978)]}
    assert curves.parse_log(LOG_FILE_JSON) == {"train_inner": [(5, 9.7)], "valid": [(9, 8.6)], "train": [(9, 9.5)]}


def test_training_curves_parse_simple_and_json_logs(tmp_path):
    simple = curves.parse_log(SIMPLE_LOG)
    assert simple == {"train_inner": [(5, 9.747), (10, 8.1)], "train": [(9, 9.5)], "valid": [(9, 8.647)],
                      "valid_bleu": [(9, 1.25)]}
    parsed = curves.parse_log(JSON_LOG)
    assert parsed == {"train_inner": [(5, 9.7)], "train": [(9, 9.5)], "valid": [(9, 8.6)], "valid_bleu": [(9, 2.5)]}
    (tmp_path / "a.log").write_text(SIMPLE_LOG)
    (tmp_path / "b.log").write_text(JSON_LOG)
    out = tmp_path / "curves.png"
    assert curves.main([str(tmp_path / "a.log"), str(tmp_path / "b.log"), "--labels", "A", "B", "--out", str(out)]) == 0
    assert curves.valid_table([("A", simple), ("B", parsed)]).splitlines() == [
        "| updates | A valid loss | B valid loss |", "|---:|---:|---:|", "| 9 | 8.647 | 8.600 |"]
    assert matplotlib.image.imread(out).shape[1] > 500
    (tmp_path / "empty.log").write_text("nothing\n")
    assert curves.main([str(tmp_path / "empty.log"), "--out", str(out)]) == 2


def test_valid_curve_reads_every_format_and_only_its_subset():
    assert valid_curve(SIMPLE_LOG) == [(9, 8.647)]
    assert valid_curve(SIMPLE_LOG, field="bleu") == [(9, 1.25)]
    assert valid_curve(JSON_LOG) == [(9, 8.6)]
    assert valid_curve(LOG_FILE_SIMPLE) == [(20, 10.694)] and valid_curve(LOG_FILE_JSON) == [(9, 8.6)]
    other = ("2026-11-22 05:34:40 | INFO | test | epoch 001 | valid on 'test' subset | loss 7.5 | num_updates 9\n"
             "2026-11-22 05:34:41 | INFO | valid | epoch 001 | valid on 'valid' subset | loss 8.0 | num_updates 9\n"
             "2026-11-22 05:35:41 | INFO | valid | epoch 002 | valid on 'valid' subset | loss 7.0 | num_updates 18\n")
    assert valid_curve(other) == [(9, 8.0), (18, 7.0)]
    assert valid_curve(other, subset="test") == [(9, 7.5)]
    assert valid_curve(other, field="seq_acc") == []


def test_records_are_tagged_and_stripped_of_prefixes():
    records = list(log_records(JSON_LOG))
    assert [tag for tag, _ in records] == ["train_inner", "train", "valid"]
    assert records[2][1] == {"epoch": 1.0, "loss": 8.6, "bleu": 2.5, "num_updates": 9.0}
    assert list(log_records('begin validation on "valid" subset\ndone training in 39.6 seconds\n')) == []
    assert parameter_count("... | num. shared model params: 4,636,384 (num. trained: 4,636,384)") == 4636384
    assert parameter_count("no count here") is None
