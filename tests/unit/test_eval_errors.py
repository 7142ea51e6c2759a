"""Error paths of the scorer and of ``reencoder-eval``: one clear line, never truncation."""
from __future__ import annotations

import pytest

from data_prep.errors import DataError
from data_prep.foundation import read_lines
from data_prep.references import load_reference_streams
from eval.cli import main as eval_main
from eval.errors import EvalError
from eval.scoring import evaluate
from tests.helpers import make_set, run_cli


def test_line_count_mismatch_names_both_sides(tmp_path):
    hyp = make_set(tmp_path)
    hyp.write_text("only one line\n", encoding="utf-8")
    with pytest.raises(EvalError) as err:
        evaluate({"sys": hyp}, tmp_path)
    message = str(err.value)
    assert str(hyp) in message and "1 lines" in message and "have 3" in message
    assert "test.en.0" in message and "\n" not in message


def test_extra_hypothesis_lines_are_an_error_too(tmp_path):
    hyp = make_set(tmp_path)
    hyp.write_text(hyp.read_text(encoding="utf-8") + "one more\n", encoding="utf-8")
    with pytest.raises(EvalError, match="4 lines but the references"):
        evaluate({"sys": hyp}, tmp_path)


def test_invalid_utf8_names_file_and_line(tmp_path):
    hyp = make_set(tmp_path)
    hyp.write_bytes(b"fine\nbad \xff byte\nfine\n")
    with pytest.raises(EvalError, match=rf"{hyp}:2: invalid UTF-8 at byte 5"):
        read_lines(hyp, EvalError)
    (tmp_path / "test.en.1").write_bytes(b"ok\nok\n\xc3(\n")
    with pytest.raises(DataError, match=r"test\.en\.1:3: invalid UTF-8"):
        load_reference_streams(tmp_path, "test")


def test_unicode_line_separators_do_not_split_lines(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("a\u2028b\r\nc\n", encoding="utf-8")
    assert read_lines(path) == ["a\u2028b", "c"]


def test_unknown_baseline(tmp_path):
    hyp = make_set(tmp_path)
    with pytest.raises(EvalError, match="baseline 'pb' is not among the systems"):
        evaluate({"sys": hyp}, tmp_path, baseline="pb")


@pytest.mark.parametrize("args, message", [
    (["--system", "sys={hyp}x"], "no such file"),
    (["--system", "nameonly"], "expected NAME=HYP_FILE"),
    (["--system", "a={hyp}", "--system", "a={hyp}"], "given twice"),
    ([], "no systems to evaluate"),
    (["--system", "a={hyp}", "--buckets", "8,6"], "increasing"),
])
def test_cli_user_errors_exit_2_with_one_line(tmp_path, capsys, args, message):
    hyp = make_set(tmp_path)
    args = [a.format(hyp=hyp) for a in args]
    assert eval_main(["--refs", str(tmp_path), "--out", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "out" / "table.md").exists()


def test_cli_error_from_the_console_script_has_no_traceback(tmp_path):
    make_set(tmp_path)
    proc = run_cli(["reencoder-eval", "--refs", tmp_path, "--system", f"a={tmp_path / 'missing.txt'}",
                    "--out", tmp_path / "out"], check=False)
    assert proc.returncode == 2
    assert proc.stderr == f"error: {tmp_path / 'missing.txt'}: no such file\n"
