"""reencoder-translate and the Translator API: one output line per input line, whatever comes in."""

import io
import os
import re
import select
import subprocess
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_prep.foundation import numbered_stream_lines
from reencoder.cli import translate as translate_cli
from reencoder.translate import Translator, one_line
from tests.helpers import BIN, run_cli
from tests.translate_fixtures import MAX_POSITIONS

# fairseq's text_to_speech module configures logging and logs this at import time, before any
# of our code runs; it is the only line besides ours that a user error leaves on stderr.
FAIRSEQ_IMPORT_NOTICE = "Please install tensorboardX"

NASTY = [
    "我们走吧。",
    "",
    "   \t  ",
    "😀🎉👍",
    "\x01\x02\x1b[31m控制字符\x7f\x00",
    "這是繁體字的句子。",
    "Hello, world! 123",
    "Привет, мир.",
    "mixed 中文 and English ١٢٣ עברית",
    "我想去北京看看。" * 250,  # 2,000 characters
    "\u200b\u200b\ufeff",  # zero-width only: nothing left after normalisation
    "一\u2028二\u2029三\x85四\x0b五\x0c六",  # Unicode line breaks inside one line
    "ｆｕｌｌｗｉｄｔｈ！",
    "\U0002a6a5\U0002b820",  # CJK extension B/E
    "行尾\r",  # CRLF
    "<unk> </s> <pad> <s>",
]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def translator(tiny):
    return Translator.from_folder(tiny.folder, beam=2, warn=lambda message: None)


def stderr_lines(text):
    return [line for line in text.splitlines() if FAIRSEQ_IMPORT_NOTICE not in line]


def test_api_gives_one_result_per_nasty_line(translator):
    outputs = translator.translate(NASTY)
    assert len(outputs) == len(NASTY)
    assert all(output == one_line(output) for output in outputs)
    nbest = translator.translate_nbest(NASTY, 2)
    assert [len(hyps) for hyps in nbest] == [2] * len(NASTY)
    assert [hyps[0][0] for hyps in nbest] == outputs


def test_traditional_input_with_t2s(translator, tiny):
    assert translator.normalize("這是繁體字的句子。") == "這是繁體字的句子。"  # model trained without t2s
    t2s = Translator(translator.models, translator.task, tiny.folder, translator.config, beam=2, t2s=True)
    assert t2s.normalize("這是繁體字的句子。") == "这是繁体字的句子。"
    assert t2s.translate(["這是繁體字的句子。"]) == translator.translate(["这是繁体字的句子。"])


# a document of random Unicode: any character, newlines included (the CLI splits on \n only)
documents = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=120)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents)
def test_exactly_one_output_line_per_input_line(translator, doc):
    data = doc.encode("utf-8")
    expected = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    out = io.BytesIO()
    lines = (text for _, text in numbered_stream_lines(io.BytesIO(data), "doc"))
    count = translate_cli.translate_stream(translator, lines, out, buffer_size=3)
    written = out.getvalue().decode("utf-8")
    assert count == expected
    assert written.count("\n") == expected and (not written or written.endswith("\n"))


def test_nbest_format(tiny, tmp_path):
    src, out = tmp_path / "in.zh", tmp_path / "out.txt"
    lines = tiny.test_zh[:4] + ["", "你好"]
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert translate_cli.main(["--model", str(tiny.folder), "--input", str(src), "--output", str(out),
                               "--n-best", "3", "--beam", "3"]) == 0
    rows = out.read_text(encoding="utf-8").splitlines()
    assert len(rows) == 3 * len(lines)
    parsed = [re.fullmatch(r"(\d+)\t(-?\d+\.\d{4}|-inf)\t(.*)", row) for row in rows]
    assert all(parsed), rows
    numbers = [int(m.group(1)) for m in parsed]
    assert numbers == [n for n in range(1, len(lines) + 1) for _ in range(3)]
    for k in range(len(lines)):
        scores = [float(m.group(2)) for m in parsed[3 * k : 3 * k + 3]]
        assert scores == sorted(scores, reverse=True)
    assert rows[12:15] == ["5\t0.0000\t"] * 3  # the empty line
    # 1-best with --scores agrees with the first n-best entry
    assert translate_cli.main(["--model", str(tiny.folder), "--input", str(src), "--output", str(out),
                               "--scores", "--beam", "3"]) == 0
    best = out.read_text(encoding="utf-8").splitlines()
    assert best == [f"{m.group(2)}\t{m.group(3)}" for m in parsed[::3]]


def _read_lines_with_timeout(stream, count, timeout):
    got, buf, deadline = [], b"", time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:
            break
        buf += chunk
        *complete, buf = buf.split(b"\n")
        got += complete
    return got


def test_console_script_streams_nasty_input_one_line_per_line(tiny):
    """Through the real console script and pipes: output for the first chunk arrives while
    stdin is still open, and every nasty line gets exactly one output line."""
    proc = subprocess.Popen([str(BIN / "reencoder-translate"), "--model", str(tiny.folder), "--buffer-size", "4",
                             "--beam", "2", "--verbose"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    data = [f"{line}\n".encode("utf-8") for line in NASTY]
    try:
        proc.stdin.write(b"".join(data[:4]))
        proc.stdin.flush()
        first = _read_lines_with_timeout(proc.stdout, 4, timeout=120)
        assert len(first) == 4, "no output while the input was still open"
        proc.stdin.write(b"".join(data[4:]))
        proc.stdin.close()
        rest = proc.stdout.read().split(b"\n")
        err = proc.stderr.read().decode("utf-8")
        assert proc.wait(timeout=60) == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rest[-1] == b""
    outputs = [line.decode("utf-8") for line in first + rest[:-1]]
    assert len(outputs) == len(NASTY)
    for line, output in zip(NASTY, outputs):
        assert output == one_line(output)
        if not line.strip() or line == "\u200b\u200b\ufeff":
            assert output == ""
    long_line = NASTY.index("我想去北京看看。" * 250) + 1
    warnings = [line for line in stderr_lines(err) if line.startswith("warning:")]
    assert len(warnings) == 1 and f"input line {long_line}:" in warnings[0]
    assert f"({MAX_POSITIONS - 1} pieces + end of sentence)" in warnings[0]
    assert "Traceback" not in err
    print("[speed] " + next(line for line in err.splitlines() if line.startswith("translated")))


def _peak_rss_mb(args, input_path):
    """(peak RSS in MB, output lines) of reencoder-translate reading ``input_path``."""
    out_path = input_path.with_suffix(".out")
    with open(input_path, "rb") as stdin, open(out_path, "wb") as stdout:
        proc = subprocess.Popen([str(BIN / "reencoder-translate"), *map(str, args)], stdin=stdin,
                                stdout=stdout, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0
    with open(out_path, "rb") as f:
        lines = sum(1 for _ in f)
    return usage.ru_maxrss / 1024, lines


def test_memory_stays_bounded_on_a_100k_line_input(tiny, tmp_path):
    """Peak RSS for 100,000 input lines (18 MB of UTF-8: short lines and, every 50th, a line of
    2,000 characters) stays within a few MB of that for 1,000 such lines: the input is never
    held whole, and every line gets its output line."""
    block = ("龘" * 20 + "\n") * 49 + "龘" * 2000 + "\n"  # a rare character: one <unk> piece, fast
    small, big = tmp_path / "small.zh", tmp_path / "big.zh"
    small.write_text(block * 20, encoding="utf-8")
    big.write_text(block * 2_000, encoding="utf-8")
    args = ["--model", tiny.folder, "--beam", "1", "--batch-size", "512", "--buffer-size", "512",
            "--max-len-a", "0", "--max-len-b", "1", "--quiet"]
    rss_small, _ = _peak_rss_mb(args, small)
    start = time.perf_counter()
    rss_big, lines_out = _peak_rss_mb(args, big)
    seconds = time.perf_counter() - start
    print(f"[rss] peak RSS 1,000 lines: {rss_small:.1f} MB, 100,000 lines: {rss_big:.1f} MB ({seconds:.1f} s)")
    assert lines_out == 100_000
    assert rss_big - rss_small < 8, (rss_small, rss_big)


def test_user_errors_are_one_line(tiny, tmp_path, capsys):
    bad = tmp_path / "bad.zh"
    bad.write_bytes("好\n".encode() * 2 + b"ok \xff\xfe\n")
    cases = [
        (["--model", str(tiny.folder), "--input", str(tmp_path / "nope.zh")], "does not exist"),
        (["--model", str(tiny.folder), "--input", str(bad), "--output", str(tmp_path / "o")],
         f"{bad}:3: invalid UTF-8 at byte 4"),
        (["--model", str(tiny.folder), "--beam", "0"], "--beam: must be at least 1"),
        (["--model", str(tiny.folder), "--n-best", "2", "--scores"], "exclusive"),
        (["--model", str(tiny.folder), "--frobnicate"], "unrecognized arguments"),
        (["--input", "-"], "--model"),
        (["--model", str(tiny.folder), "--input", str(tmp_path)], "is a directory"),
        (["--model", str(tiny.folder), "--input", str(bad), "--output", str(tmp_path / "no" / "dir" / "o")],
         "cannot write output"),
    ]
    for argv, message in cases:
        try:
            code = translate_cli.main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2, (argv, err)
        assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], (argv, err)
    # the two good lines before the invalid one were still translated
    assert len((tmp_path / "o").read_text(encoding="utf-8").splitlines()) == 2


def test_user_error_from_the_console_script(tmp_path):
    proc = run_cli(["reencoder-translate", "--model", tmp_path / "missing"], check=False)
    assert proc.returncode == 2
    assert stderr_lines(proc.stderr) == [f"error: model folder {tmp_path / 'missing'} does not exist"]
    assert proc.stdout == "" and "Traceback" not in proc.stderr
