"""``reencoder-serve``: translate from a browser, every loaded model side by side.

    reencoder-serve --model runs/demo/reencoder/model --model runs/demo/lstm/model \\
        --model runs/demo/transformer/model --model runs/demo/phrase_based/model
    reencoder-serve --model tiny=work/tiny/model --host 127.0.0.1 --port 0   # any free port

Loads every ``--model`` folder (a neural model folder of ``reencoder-export``, or Thot's of
``reencoder-baseline``; named after the folder, or its parent for one called ``model``, or
``NAME=DIR``), binds the address, prints ``serving NAMES at http://HOST:PORT/`` on stdout and
serves the page and the JSON API (:mod:`eval.serve.app`) with uvicorn until Ctrl-C or SIGTERM
(exit status 0).  A folder that fails to load, or an address that cannot be bound, stops the
start with one ``error: ...`` line and exit status 2, as every CLI of the project does.
"""

from __future__ import annotations

import signal
import socket
import sys
from typing import List, Optional

from data_prep.foundation import Parser, UserError, non_negative_float, positive_int
from reencoder.cli.common import run_main

from .app import Limits


def build_parser() -> Parser:
    limits = Limits()
    p = Parser(prog="reencoder-serve", description="Serve the models' translations and the Reencoder's grid "
                                                   "to a web page and a JSON API.")
    p.add_argument("--model", action="append", required=True, metavar="[NAME=]DIR",
                   help="a model folder to serve (repeat for several; the page shows them in this order)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s: this machine only)")
    p.add_argument("--port", type=int, default=8080, help="port (default %(default)s; 0: any free port)")
    p.add_argument("--batch-window-ms", type=non_negative_float, default=10.0,
                   help="how long a model waits for more requests to batch with the first (default %(default)s)")
    p.add_argument("--max-batch-tokens", type=positive_int, default=1024,
                   help="source tokens (characters + end of sentence) per beam search (default %(default)s)")
    p.add_argument("--max-batch-lines", type=positive_int, default=32,
                   help="lines per beam search (default %(default)s)")
    p.add_argument("--max-queued-lines", type=positive_int, default=1024,
                   help="lines waiting per model before requests get 503 (default %(default)s)")
    p.add_argument("--max-chars", type=positive_int, default=limits.max_chars,
                   help="characters of text per request (default %(default)s)")
    p.add_argument("--max-lines", type=positive_int, default=limits.max_lines,
                   help="lines of text per request (default %(default)s)")
    p.add_argument("--max-body", type=positive_int, default=limits.max_body,
                   help="bytes of request body (default %(default)s)")
    p.add_argument("--cpu-threads", type=positive_int, default=1, metavar="N",
                   help="torch intra-op threads (default %(default)s; each model decodes in its own thread)")
    p.add_argument("--access-log", action="store_true", help="log every request on stderr")
    return p


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (connections wait in its backlog until uvicorn accepts
    them); a one-line UserError when it cannot be had."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except (OSError, OverflowError) as exc:
        raise UserError(f"cannot listen on {host}:{port} ({getattr(exc, 'strerror', None) or exc})") from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def _main(argv: List[str]) -> int:
    args = build_parser().parse_args(argv)
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port}: must be from 0 to 65535")
    import torch
    import uvicorn

    from reencoder.cjk_font import packaged_font_file

    from .app import build_app
    from .backends import load_backends

    torch.set_num_threads(args.cpu_threads)
    log = lambda message: print(f"reencoder-serve: {message}", file=sys.stderr, flush=True)  # noqa: E731
    backends = load_backends(args.model, log)
    sock = bind(args.host, args.port)
    limits = Limits(max_chars=args.max_chars, max_lines=args.max_lines, max_body=args.max_body)
    batching = dict(window_s=args.batch_window_ms / 1000, max_tokens=args.max_batch_tokens,
                    max_lines=args.max_batch_lines, max_queued_lines=args.max_queued_lines)
    app = build_app(backends, limits, batching, font=packaged_font_file())
    config = uvicorn.Config(app, log_level="warning", access_log=args.access_log, lifespan="on")
    server = uvicorn.Server(config)
    print(f"serving {', '.join(backends)} at {url_of(sock)}", flush=True)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the handler it
    # found: let that be a no-op, so that a stop is a normal exit (status 0)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    server.run(sockets=[sock])
    log("stopped")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
