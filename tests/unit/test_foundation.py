"""The foundation every command-line tool stands on (data_prep.foundation): the line rules, atomic
writes, argument types and run_main's exits."""

import argparse
import io
import os

import pytest

from data_prep.foundation import (
    Parser,
    UserError,
    atomic_path,
    non_negative_float,
    numbered_lines,
    numbered_stream_lines,
    positive_int,
    probability,
    read_lines,
    run_main,
    write_lines,
)


def test_lines_split_on_newline_only_without_cr_and_bom():
    stream = io.BytesIO("\ufeffa\u2028b\r\n\nc".encode("utf-8"))
    assert list(numbered_stream_lines(stream, "x")) == [(1, "a\u2028b"), (2, ""), (3, "c")]


def test_invalid_utf8_names_file_and_line_with_the_callers_error(tmp_path):
    class Mine(UserError):
        pass

    path = tmp_path / "bad.txt"
    path.write_bytes(b"fine\nbad \xff byte\n")
    lines = numbered_lines(path, Mine)
    assert next(lines) == (1, "fine")
    with pytest.raises(Mine, match=rf"^{path}:2: invalid UTF-8 at byte 5 of the line$"):
        next(lines)
    with pytest.raises(Mine, match=rf"^{path}:2: invalid UTF-8"):
        read_lines(path, Mine)  # the whole file at once: the error, not the lines before it
    with pytest.raises(UserError, match="no such file"):
        read_lines(tmp_path / "missing.txt")
    with pytest.raises(UserError, match="is a directory"):
        list(numbered_lines(tmp_path))
    path.write_bytes("\ufeffa\u2028b\r\n\nc".encode("utf-8"))
    assert read_lines(path) == ["a\u2028b", "", "c"]


def test_atomic_path_leaves_the_old_file_on_failure_and_no_temporary(tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(out) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert out.read_text() == "old" and os.listdir(tmp_path) == ["out.txt"]
    write_lines(out, ["a", "b"])
    assert out.read_text() == "a\nb\n" and os.listdir(tmp_path) == ["out.txt"]
    with pytest.raises(ValueError, match="line 2 contains a newline"):
        write_lines(out, ["a", "b\nc"])
    assert out.read_text() == "a\nb\n"


@pytest.mark.parametrize("kind, text, value", [(positive_int, "3", 3), (probability, "0.5", 0.5),
                                               (non_negative_float, "0", 0.0)])
def test_argument_types_accept(kind, text, value):
    assert kind(text) == value


@pytest.mark.parametrize("kind, text, message", [
    (positive_int, "0", "must be at least 1, got 0"), (positive_int, "two", "'two' is not an integer"),
    (probability, "1", "must be a number in [0, 1), got 1"), (non_negative_float, "-1", "must be a number >= 0"),
])
def test_argument_types_refuse(kind, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message.replace("[", r"\[").replace(")", r"\)")):
        kind(text)


def test_parser_errors_are_one_line(capsys):
    parser = Parser(prog="tool")
    parser.add_argument("--n", type=positive_int)
    with pytest.raises(SystemExit) as caught:
        parser.parse_args(["--n", "0"])
    assert caught.value.code == 2
    assert capsys.readouterr().err == "error: argument --n: must be at least 1, got 0 (see tool --help)\n"


def test_run_main_exit_statuses(capsys):
    def body(exc):
        def run(argv):
            assert argv == ["x"]
            if exc is not None:
                raise exc
            return 0
        return run

    assert run_main(body(None), ["x"]) == 0
    assert run_main(body(UserError("bad\ninput")), ["x"]) == 2
    assert capsys.readouterr().err == "error: bad input\n"
    assert run_main(body(KeyboardInterrupt()), ["x"]) == 130
    assert capsys.readouterr().err == "interrupted\n"
    with pytest.raises(ValueError):  # a bug is not a user error: its traceback shows
        run_main(body(ValueError("bug")), ["x"])
