"""Driving a ``reencoder-serve`` process from Python: for the tests and the load benchmark.

:func:`launch` starts the console script on a free port (``--port 0``) and returns the process
and the URL it prints; :func:`stop` ends it with SIGTERM; :func:`call` sends one request with
the standard library and returns ``(status, JSON answer)``; :func:`peak_rss_mb` reads a
process's peak resident memory (Linux ``VmHWM``).
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional, Sequence, Tuple

#: how long a server may take to load its models on a busy 2-core machine
START_TIMEOUT_S = 300
SERVING = re.compile(r"^serving (.+) at (http://\S+)$")
SCRIPT = Path(sys.executable).parent / "reencoder-serve"


def launch(args: Sequence, timeout: float = START_TIMEOUT_S, env: Optional[dict] = None) -> Tuple[subprocess.Popen, str]:
    """``(process, base URL)`` of ``reencoder-serve ARGS --port 0`` once it serves."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", **(env or {}))
    proc = subprocess.Popen([str(SCRIPT), *map(str, args), "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 1.0)
        if ready:
            match = SERVING.match(proc.stdout.readline().strip())
            if match:
                return proc, match.group(2)
        if proc.poll() is not None:
            raise RuntimeError(f"reencoder-serve exited {proc.returncode}: {proc.stderr.read()[-3000:]}")
    proc.kill()
    raise RuntimeError(f"reencoder-serve printed no URL within {timeout} s")


def stop(proc: subprocess.Popen, timeout: float = 60) -> Tuple[int, str]:
    """SIGTERM, then ``(exit status, stderr)`` (killed after ``timeout`` seconds)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return proc.returncode, err


def call(url: str, path: str, body=None, *, raw: Optional[bytes] = None, method: Optional[str] = None,
         timeout: float = 120):
    """``(status, JSON answer)`` of one request; ``body`` is sent as JSON, ``raw`` as given."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode("utf-8"))
    request = urllib.request.Request(url.rstrip("/") + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read().decode("utf-8"))


def peak_rss_mb(pid: int) -> Optional[float]:
    """Peak resident memory of a live process in MiB (``VmHWM``), or None where unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
