"""``reencoder-translate``: translate raw Chinese text with a model folder, streaming.

    reencoder-translate --model runs/base/model < input.zh > output.en
    reencoder-translate --model DIR --input in.zh --output out.en --beam 5 --batch-size 32
    reencoder-translate --model DIR --n-best 3 < in.zh        # LINE<TAB>SCORE<TAB>TEXT

Output formats:

* default: exactly one line of English per input line, same order (empty in -> empty out);
* ``--scores``: one ``SCORE<TAB>TEXT`` line per input line;
* ``--n-best K``: exactly K lines per input line, best first, each ``LINE<TAB>SCORE<TAB>TEXT``
  with LINE the 1-based input line number; an empty input line gives K lines with score 0
  and empty text; if beam search finishes fewer than K hypotheses the rest are
  ``LINE<TAB>-inf<TAB>`` (the beam is raised to K when ``--beam`` is smaller).

SCORE is fairseq's length-normalised log-probability (natural log).  Input is read as UTF-8
lines split on ``\\n`` only (a trailing ``\\r`` and a leading BOM are dropped); it is read
``--buffer-size`` lines at a time and each chunk is written (and flushed) before the next is
read, so memory stays bounded on any input length.  Lines longer than the model's max source
positions are truncated with a warning on stderr.  User errors (missing model folder or
file, bad argument, invalid UTF-8 with its line number) print one ``error: ...`` line on
stderr and exit with status 2; for invalid UTF-8 the lines before the bad one are
translated and written first.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import BinaryIO, List, Optional

from data_prep.foundation import Parser, UserError, non_negative_float, numbered_stream_lines, positive_int

from .common import run_main

DEFAULT_BUFFER = 64


def build_parser() -> Parser:
    from ..translate import DEFAULT_BATCH_SIZE, DEFAULT_BEAM, DEFAULT_MAX_LEN_A, DEFAULT_MAX_LEN_B

    p = Parser(prog="reencoder-translate", description="Translate raw Chinese lines into English.")
    p.add_argument("--model", required=True, metavar="DIR", help="model folder (reencoder-export)")
    p.add_argument("--input", default="-", metavar="FILE", help="UTF-8 input, one sentence a line (- = stdin)")
    p.add_argument("--output", default="-", metavar="FILE", help="output file (- = stdout)")
    p.add_argument("--beam", type=positive_int, default=None,
                   help=f"beam size (default: the model folder's, else {DEFAULT_BEAM})")
    p.add_argument("--lenpen", type=float, default=None,
                   help="length penalty of beam search, fairseq's --lenpen (default: the model folder's, else 1.0)")
    p.add_argument("--n-best", type=positive_int, default=None, metavar="K",
                   help="K lines per input: LINE<TAB>SCORE<TAB>TEXT")
    p.add_argument("--scores", action="store_true", help="1-best lines as SCORE<TAB>TEXT")
    p.add_argument("--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE,
                   help="sentences per beam-search batch (default %(default)s)")
    p.add_argument("--buffer-size", type=positive_int, default=DEFAULT_BUFFER,
                   help="input lines read (and written) at a time (default %(default)s)")
    p.add_argument("--max-len-a", type=non_negative_float, default=DEFAULT_MAX_LEN_A,
                   help="output length limit: a * source pieces + b (default a=%(default)s)")
    p.add_argument("--max-len-b", type=positive_int, default=DEFAULT_MAX_LEN_B, help="(default b=%(default)s)")
    p.add_argument("--t2s", dest="t2s", action="store_true", default=None,
                   help="convert Traditional to Simplified Chinese (default: as the model was trained)")
    p.add_argument("--no-t2s", dest="t2s", action="store_false")
    p.add_argument("--cpu-threads", type=positive_int, default=1, metavar="N",
                   help="torch intra-op CPU threads (default %(default)s: the grid's many small matmuls "
                        "run faster single-threaded; run several processes for throughput)")
    p.add_argument("--quiet", action="store_true", help="no warnings on stderr")
    p.add_argument("--verbose", action="store_true", help="print lines/s at the end (stderr)")
    return p


def format_nbest(number: int, hyps) -> List[str]:
    return [f"{number}\t{score:.4f}\t{text}" if math.isfinite(score) else f"{number}\t-inf\t{text}"
            for text, score in hyps]


def _open_input(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    if Path(path).is_dir():
        raise UserError(f"input {path} is a directory")
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise UserError(f"input file {path} does not exist") from None
    except OSError as exc:
        raise UserError(f"cannot read input {path} ({exc.strerror})") from None


def _open_output(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdout.buffer
    try:
        return open(path, "wb")
    except OSError as exc:
        raise UserError(f"cannot write output {path} ({exc.strerror})") from None


def translate_stream(translator, lines, out: BinaryIO, *, buffer_size: int = DEFAULT_BUFFER,
                     n_best: Optional[int] = None, scores: bool = False) -> int:
    """Translate an iterable of lines chunk by chunk, writing (and flushing) each chunk's
    output before reading on.  Returns the number of input lines."""
    from ..translate import chunks

    done = 0
    for chunk in chunks(lines, buffer_size):
        if n_best:
            results = translator.translate_nbest(chunk, n_best, first_line_number=done + 1)
            rows = [row for k, hyps in enumerate(results) for row in format_nbest(done + 1 + k, hyps)]
        elif scores:
            results = translator.translate_nbest(chunk, 1, first_line_number=done + 1)
            rows = [f"{hyps[0][1]:.4f}\t{hyps[0][0]}" for hyps in results]
        else:
            rows = translator.translate(chunk, first_line_number=done + 1)
        out.write("".join(f"{row}\n" for row in rows).encode("utf-8"))
        out.flush()
        done += len(chunk)
    return done


def _main(argv: List[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.n_best and args.scores:
        raise UserError("--scores and --n-best are exclusive (--n-best output has scores)")
    from ..model_folder import read_model_folder

    read_model_folder(args.model)  # fail fast, before reading input or loading torch state
    source = _open_input(args.input)
    import torch

    threads_before = torch.get_num_threads()
    torch.set_num_threads(args.cpu_threads)
    try:
        return _translate(args, source)
    finally:
        torch.set_num_threads(threads_before)  # main() may run inside another program
        if source is not sys.stdin.buffer:
            source.close()


def _translate(args, source: BinaryIO) -> int:
    from ..translate import load_model_folder

    warn = (lambda message: None) if args.quiet else None
    options = dict(batch_size=args.batch_size, max_len_a=args.max_len_a, max_len_b=args.max_len_b, t2s=args.t2s)
    # the beam search given here, else the model folder's (load_model_folder), else the Translator's
    options.update({key: value for key, value in (("beam", args.beam), ("len_penalty", args.lenpen))
                    if value is not None})
    if warn is not None:
        options["warn"] = warn
    translator = load_model_folder(args.model, **options)
    out = _open_output(args.output)
    start = time.perf_counter()
    name = "<stdin>" if args.input == "-" else args.input
    lines = (text for _, text in numbered_stream_lines(source, name))  # invalid UTF-8: a UserError naming the line
    try:
        count = translate_stream(translator, lines, out, buffer_size=args.buffer_size,
                                 n_best=args.n_best, scores=args.scores)
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    if args.verbose:
        seconds = time.perf_counter() - start
        print(f"translated {count} lines in {seconds:.2f} s ({count / max(seconds, 1e-9):.1f} lines/s, "
              f"beam {translator.beam})", file=sys.stderr)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
