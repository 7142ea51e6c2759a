"""The Starlette application of ``reencoder-serve``: the page and the JSON API.

    GET  /            the page (static/index.html; static/page.js and page.css beside it)
    GET  /font/cjk.otf  the packaged CJK font (:mod:`reencoder.cjk_font`) for the page's @font-face
    GET  /health      {"status": "ok", "models": N, "batches": {NAME: beam searches run}, "lines": {NAME: lines}}
    GET  /models      {"models": [NAME, ...], "info": {NAME: {kind, folder, heatmap, beam, lenpen}}, "limits": {...}}
    POST /translate   {"text": "lines", "models": [NAME, ...]?, "beam": N?, "lenpen": X?}
                      -> {"translations": {NAME: [line, ...]}, "ms": {NAME: ms of its beam searches}}
    POST /heatmap     {"source": "zh", "target": "en", "model": NAME?}
                      -> {"src_labels", "tgt_labels", "values": [[source i][target j]], "words", ...}

Every error is ``{"error": "one line"}`` with a 4xx status (413: body over the cap; 404/405:
no such route or method; 400: everything else the client sent), 503 when a model's queue is
full (:class:`~.batcher.Overloaded`), 500 for a failure of the server itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .backends import Backend
from .batcher import Batcher, Overloaded

STATIC = Path(__file__).resolve().parent / "static"
MAX_BEAM = 32
MAX_LENPEN = 10.0
TRANSLATE_FIELDS = ("text", "models", "beam", "lenpen")
HEATMAP_FIELDS = ("source", "target", "model")


@dataclass
class Limits:
    """What one request may ask for (the CLI's flags)."""

    max_chars: int = 2000  # characters of text per request
    max_lines: int = 32  # lines per request
    max_body: int = 65536  # bytes of request body


class ApiError(Exception):
    """A request the API refuses: HTTP ``status`` and a one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)


async def read_object(request: Request, limits: Limits) -> dict:
    """The request's JSON object, read up to the body cap (413 past it), strict UTF-8."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_body:
        raise ApiError(413, f"request body of {declared} bytes is over the limit of {limits.max_body} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limits.max_body:
            raise ApiError(413, f"request body is over the limit of {limits.max_body} bytes")
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"request body is not valid UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"request body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    return data


def check_fields(data: dict, allowed) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]!r} (fields: {', '.join(allowed)})")


def checked_text(data: dict, key: str, limits: Limits, max_lines: int) -> List[str]:
    """The lines of ``data[key]`` (split on newlines, a final newline ignored), within limits."""
    text = data.get(key)
    if not isinstance(text, str):
        raise ApiError(400, f"{key} must be a string" if key in data else f"{key} is missing")
    if not text.strip():
        raise ApiError(400, f"{key} is empty")
    if len(text) > limits.max_chars:
        raise ApiError(400, f"{key} has {len(text)} characters, over the limit of {limits.max_chars}")
    lines = [line.removesuffix("\r") for line in text.removesuffix("\n").split("\n")]
    if len(lines) > max_lines:
        raise ApiError(400, f"{key} has {len(lines)} lines, over the limit of {max_lines}")
    return lines


def checked_search(data: dict):
    """``(beam, lenpen)`` of a request, ``None`` where it leaves them to each model folder."""
    beam, lenpen = data.get("beam"), data.get("lenpen")
    if beam is not None and (isinstance(beam, bool) or not isinstance(beam, int) or not 1 <= beam <= MAX_BEAM):
        raise ApiError(400, f"beam must be an integer from 1 to {MAX_BEAM}")
    if lenpen is not None:
        if isinstance(lenpen, bool) or not isinstance(lenpen, (int, float)) or not math.isfinite(lenpen) \
                or not 0 <= lenpen <= MAX_LENPEN:
            raise ApiError(400, f"lenpen must be a number from 0 to {MAX_LENPEN:g}")
        lenpen = float(lenpen)
    return beam, lenpen


def checked_models(data: dict, backends: Dict[str, Backend]) -> List[str]:
    names = data.get("models")
    if names is None:
        return list(backends)
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ApiError(400, "models must be a non-empty list of model names")
    for name in names:
        if name not in backends:
            raise ApiError(400, f"unknown model {name!r} (loaded: {', '.join(backends)})")
    return list(dict.fromkeys(names))


class Service:
    """The loaded models, their batchers and the limits: what the routes answer from."""

    def __init__(self, backends: Dict[str, Backend], limits: Limits, batching: dict):
        self.backends, self.limits = backends, limits
        self.batchers = {name: Batcher(backend, **batching) for name, backend in backends.items()}

    def close(self) -> None:
        for batcher in self.batchers.values():
            batcher.close()

    async def translate(self, data: dict) -> dict:
        check_fields(data, TRANSLATE_FIELDS)
        lines = checked_text(data, "text", self.limits, self.limits.max_lines)
        names = checked_models(data, self.backends)
        beam, lenpen = checked_search(data)
        jobs = []
        try:
            for name in names:
                jobs.append(self.batchers[name].submit(lines, beam, lenpen))
        except Overloaded as exc:
            for job in jobs:
                job.cancel()
            raise ApiError(503, str(exc)) from None
        results = await asyncio.gather(*(asyncio.wrap_future(job.future) for job in jobs))
        return {"translations": {name: out for name, (out, _) in zip(names, results)},
                "ms": {name: round(ms, 1) for name, (_, ms) in zip(names, results)}}

    async def heatmap(self, data: dict) -> dict:
        check_fields(data, HEATMAP_FIELDS)
        drawable = [name for name, backend in self.backends.items() if backend.heatmap]
        name = data.get("model", drawable[0] if drawable else None)
        if name not in self.backends:
            raise ApiError(400, f"unknown model {name!r} (loaded: {', '.join(self.backends)})" if name
                           else "no loaded model has a grid to draw")
        backend = self.backends[name]
        if not backend.heatmap:
            raise ApiError(400, f"model {name!r} ({backend.kind}) has no grid to draw "
                           f"(models with one: {', '.join(drawable) or 'none'})")
        source, target = (checked_text(data, key, self.limits, 1)[0] for key in ("source", "target"))

        def draw():
            with backend.lock:
                return backend.grid_heatmap(source, target)

        try:
            return await run_in_threadpool(draw)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None

    def models(self) -> dict:
        return {"models": list(self.backends),
                "info": {name: backend.describe() for name, backend in self.backends.items()},
                "limits": {**asdict(self.limits), "max_beam": MAX_BEAM, "max_lenpen": MAX_LENPEN}}


def build_app(backends: Dict[str, Backend], limits: Limits | None = None, batching: dict | None = None,
              font: Path | None = None) -> Starlette:
    """The application over loaded ``backends`` (``batching``: :class:`~.batcher.Batcher` options;
    ``font``: the CJK font file the page's ``@font-face`` loads, none: 404)."""
    limits = limits or Limits()
    service = Service(backends, limits, batching or {})

    def api(handler):
        async def endpoint(request: Request):
            try:
                return JSONResponse(await handler(await read_object(request, limits)))
            except ApiError as exc:
                return error_response(exc.status, str(exc))
        return endpoint

    async def health(request):
        return JSONResponse({"status": "ok", "models": len(backends),
                             "batches": {name: b.batches for name, b in service.batchers.items()},
                             "lines": {name: b.lines for name, b in service.batchers.items()}})

    async def models(request):
        return JSONResponse(service.models())

    async def index(request):
        return FileResponse(STATIC / "index.html")

    async def cjk_font(request):
        if font is None or not Path(font).is_file():
            return error_response(404, "no CJK font installed (make install brings one)")
        return FileResponse(font, media_type="font/otf", headers={"Cache-Control": "max-age=86400"})

    async def http_error(request, exc: HTTPException):
        return error_response(exc.status_code, exc.detail)

    async def server_error(request, exc: Exception):
        return error_response(500, f"internal error: {type(exc).__name__}: {exc}")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        service.close()

    routes = [
        Route("/", index),
        Route("/health", health),
        Route("/models", models),
        Route("/translate", api(service.translate), methods=["POST"]),
        Route("/heatmap", api(service.heatmap), methods=["POST"]),
        Route("/font/cjk.otf", cjk_font),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, lifespan=lifespan,
                     exception_handlers={HTTPException: http_error, Exception: server_error})
