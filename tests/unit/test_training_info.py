"""Training facts per system (eval/training_info.py) and their table in ``reencoder-eval``."""
from __future__ import annotations

import json

import pytest

from data_prep.foundation import UserError
from eval.cli import main as eval_main
from eval.training_info import main as info_main
from eval.training_info import summed_seconds, training_info
from tests.helpers import make_set

LOG = """\
2026-11-30 21:00:01 | INFO | fairseq_cli.train | num. shared model params: 4,636,384 (num. trained: 4,636,384)
2026-11-30 21:03:01 | INFO | train_inner | epoch 001:    50 / 516 loss=9.1, nll_loss=8.9, num_updates=50, lr=0.001
2026-11-30 21:05:00 | INFO | valid | epoch 001 | valid on 'valid' subset | loss 5.583 | nll_loss 4.5 | num_updates 516
2026-11-30 21:05:01 | INFO | train | epoch 001 | loss 7.057 | nll_loss 6.236 | bsz 40.5 | num_updates 516 | lr 0.0043
2026-11-30 21:08:00 | INFO | valid | epoch 002 | valid on 'valid' subset | loss 4.825 | nll_loss 3.7 | num_updates 1032
2026-11-30 21:08:01 | INFO | train | epoch 002 | loss 5.499 | nll_loss 4.423 | bsz 40 | num_updates 1032 | lr 0.0032
"""


def test_training_info_reads_the_log(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(LOG, encoding="utf-8")
    info = training_info(log, 361.0, "1", "fairseq-train data --arch reencoder_base")
    assert info == {"train_seconds": 361.0, "updates": 1032, "epochs": 2, "sentences": 516 * 40.5 + 516 * 40,
                    "threads": "1", "params": 4636384,
                    "last_dev_loss": 4.825, "budget": "", "command": "fairseq-train data --arch reencoder_base"}


@pytest.mark.parametrize("command, budget", [
    ("fairseq-train d --max-update 2580 --lr 0.005", "2580 updates"),
    ("fairseq-train d --max-update 0 --stop-time-hours 0.16666666666666666", "10.0 min"),
    ("fairseq-train d --max-update 0 --max-epoch 5", "5 epochs"),
    ("fairseq-train d --max-update 0", ""),
])
def test_the_budget_comes_from_the_command(tmp_path, command, budget):
    log = tmp_path / "train.log"
    log.write_text(LOG, encoding="utf-8")
    assert training_info(log, 1.0, "1", command)["budget"] == budget


def test_seconds_of_a_resumed_run_add_up_and_bad_lines_name_file_and_line(tmp_path):
    secs = tmp_path / "train_seconds"
    secs.write_text("300\n61\n", encoding="utf-8")
    assert summed_seconds(secs) == 361.0
    secs.write_text("300\nabc\n", encoding="utf-8")
    with pytest.raises(UserError, match=rf"{secs}:2: expected seconds"):
        summed_seconds(secs)


def test_eval_table_and_json_carry_the_training_facts(tmp_path, capsys):
    hyp = make_set(tmp_path)
    (tmp_path / "train.log").write_text(LOG, encoding="utf-8")
    (tmp_path / "secs").write_text("361\n", encoding="utf-8")
    info = tmp_path / "training.json"
    assert info_main(["--log", str(tmp_path / "train.log"), "--seconds-log", str(tmp_path / "secs"), "--threads", "1",
                      "--command", "fairseq-train x --stop-time-hours 0.1", "--out", str(info)]) == 0
    out = tmp_path / "eval"
    assert eval_main(["--refs", str(tmp_path), "--system", f"sys={hyp}", "--training", f"sys={info}",
                      "--out", str(out)]) == 0
    table = (out / "table.md").read_text(encoding="utf-8")
    assert "| sys | 6.0 min | 6.0 | 1032 | 41,538 | 2 | 1 | 4,636,384 | 4.825 |" in table
    assert "* sys: `fairseq-train x --stop-time-hours 0.1`" in table
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert saved["systems"][0]["training"]["updates"] == 1032
    capsys.readouterr()
    assert eval_main(["--refs", str(tmp_path), "--system", f"sys={hyp}", "--training", f"other={info}",
                      "--out", str(out)]) == 2
    assert "--training 'other': no --system of that name" in capsys.readouterr().err
