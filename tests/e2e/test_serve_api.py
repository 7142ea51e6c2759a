"""reencoder-serve's JSON API against a real server process on the tiny model folder: the
answers are the Translator's, concurrent requests share beam searches, every bad input is a
4xx with a one-line JSON error and the next good request still succeeds; and the batcher's
round-robin (a long request cannot starve a short one) on the real model, in process."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import threading
import urllib.parse

import numpy as np
import pytest

from eval.serve import cli as serve_cli
from eval.serve.backends import NeuralBackend, target_words
from eval.serve.batcher import Batcher, Overloaded
from reencoder.translate import Translator
from reencoder.visualize import grid_heatmap
from tests.serve_fixtures import SERVE_LIMITS, call

pytestmark = pytest.mark.usefixtures("one_thread")

GOOD = {"text": "我们走吧。"}


@pytest.fixture(scope="module")
def server(tiny_server):
    return tiny_server


@pytest.fixture(scope="module")
def translator(tiny):
    return Translator.from_folder(tiny.folder, beam=2, warn=lambda message: None)


def test_health_and_models(server, tiny):
    status, health = call(server, "/health")
    assert status == 200 and health["status"] == "ok" and health["models"] == 2
    status, models = call(server, "/models")
    assert status == 200 and models["models"] == ["tiny", "again"]
    info = models["info"]["tiny"]
    assert info["kind"] == "reencoder_tiny" and info["heatmap"] is True and info["folder"] == str(tiny.folder)
    assert models["limits"]["max_lines"] == SERVE_LIMITS["max_lines"]


def test_translations_are_the_translators(server, tiny, translator):
    lines = tiny.test_zh[:3] + ["", tiny.test_zh[3]]
    status, answer = call(server, "/translate", {"text": "\n".join(lines) + "\n", "beam": 2, "models": ["tiny"]})
    assert status == 200
    assert answer["translations"] == {"tiny": translator.translate(lines)}
    assert list(answer["ms"]) == ["tiny"] and answer["ms"]["tiny"] > 0
    # every model by default; the length penalty reaches the beam search
    status, answer = call(server, "/translate", {"text": lines[0], "beam": 2, "lenpen": 0.5})
    assert status == 200 and set(answer["translations"]) == {"tiny", "again"}
    assert answer["translations"]["again"] == translator.translate(lines[:1], len_penalty=0.5)


def test_concurrent_requests_share_beam_searches(server, tiny, translator):
    lines = tiny.test_zh[10:16]
    before = call(server, "/health")[1]
    answers = [None] * len(lines)
    barrier = threading.Barrier(len(lines))

    def client(k):
        barrier.wait()
        answers[k] = call(server, "/translate", {"text": lines[k], "beam": 2, "models": ["tiny"]})

    threads = [threading.Thread(target=client, args=(k,)) for k in range(len(lines))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(status == 200 for status, _ in answers)
    # each answer is its own line's (batching merges and splits them back in order)
    expected = translator.translate(lines)
    assert [answer["translations"]["tiny"][0] for _, answer in answers] == expected
    after = call(server, "/health")[1]
    assert after["batches"]["tiny"] - before["batches"]["tiny"] < len(lines)  # fewer searches than requests


def test_heatmap_is_the_grids(server, tiny, translator):
    source, target = tiny.test_zh[0], "Let's go to the park tomorrow."
    status, heat = call(server, "/heatmap", {"source": source, "target": target})
    assert status == 200 and heat["model"] == "tiny"
    expected = grid_heatmap(translator, source, target)
    assert heat["src_labels"] == expected.src_labels and heat["tgt_labels"] == expected.tgt_labels
    np.testing.assert_allclose(np.array(heat["values"], dtype=float), expected.values, rtol=1e-5)
    assert heat["words"] == target_words(expected.tgt_labels[:-1])
    assert [w["text"] for w in heat["words"]] == target.split()


def _chunked_post(url: str, path: str, chunks) -> tuple[int, dict]:
    """A POST without Content-Length (chunked), so only the streamed size can trip the cap."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request("POST", path, body=iter(chunks), encode_chunked=True,
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read().decode("utf-8"))
    finally:
        conn.close()


BAD = [
    # (what, path, raw body, status, message)
    ("empty text", "/translate", {"text": ""}, 400, "text is empty"),
    ("blank lines only", "/translate", {"text": " \n\t\n"}, 400, "text is empty"),
    ("no text", "/translate", {"models": ["tiny"]}, 400, "text is missing"),
    ("text not a string", "/translate", {"text": ["我"]}, 400, "text must be a string"),
    ("too many characters", "/translate", {"text": "我" * 301}, 400, "text has 301 characters, over the limit of 300"),
    ("too many lines", "/translate", {"text": "我\n" * 6}, 400, "text has 6 lines, over the limit of 5"),
    ("invalid UTF-8", "/translate", b'{"text": "\xff\xfe"}', 400, "request body is not valid UTF-8 (byte 10)"),
    ("invalid JSON", "/translate", b'{"text": "', 400, "request body is not valid JSON (Unterminated string starting "
                                                         "at at line 1 column 10)"),
    ("not an object", "/translate", b'["text"]', 400, "request body must be a JSON object"),
    ("unknown model", "/translate", {"text": "我", "models": ["nope"]}, 400, "unknown model 'nope' (loaded: tiny, again)"),
    ("empty model list", "/translate", {"text": "我", "models": []}, 400, "models must be a non-empty list of model names"),
    ("unknown field", "/translate", {"text": "我", "beams": 3}, 400,
     "unknown field 'beams' (fields: text, models, beam, lenpen)"),
    ("beam zero", "/translate", {"text": "我", "beam": 0}, 400, "beam must be an integer from 1 to 32"),
    ("beam as text", "/translate", {"text": "我", "beam": "5"}, 400, "beam must be an integer from 1 to 32"),
    ("lenpen NaN", "/translate", b'{"text": "x", "lenpen": NaN}', 400, "lenpen must be a number from 0 to 10"),
    ("body over the cap", "/translate", {"text": "x" * 5000}, 413, "request body of 5012 bytes is over the limit of 4096 bytes"),
    ("heat map of nothing", "/heatmap", {"source": "我", "target": ""}, 400, "target is empty"),
    ("heat map, two lines", "/heatmap", {"source": "我\n你", "target": "I"}, 400, "source has 2 lines, over the limit of 1"),
    ("heat map, unknown model", "/heatmap", {"source": "我", "target": "I", "model": "x"}, 400,
     "unknown model 'x' (loaded: tiny, again)"),
]


@pytest.mark.parametrize("what,path,body,status,message", BAD, ids=[case[0] for case in BAD])
def test_bad_input_is_a_4xx_with_one_line_and_the_server_goes_on(server, what, path, body, status, message):
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8")
    assert call(server, path, raw=raw) == (status, {"error": message})
    good_status, good = call(server, "/translate", GOOD)
    assert good_status == 200 and len(good["translations"]["tiny"]) == 1


def test_routes_methods_and_streamed_bodies_over_the_cap(server):
    assert call(server, "/nowhere") == (404, {"error": "Not Found"})
    assert call(server, "/translate") == (405, {"error": "Method Not Allowed"})
    chunks = [b'{"text": "', *([b"x" * 1000] * 5), b'"}']
    assert _chunked_post(server, "/translate", chunks) == (413, {"error": "request body is over the limit of 4096 bytes"})
    assert call(server, "/translate", GOOD)[0] == 200


def serve_fails(args, capsys) -> list:
    """reencoder-serve's ``main`` (in process) stops with status 2 before serving: its stderr."""
    assert serve_cli.main([str(arg) for arg in args]) == 2
    out, err = capsys.readouterr()
    assert "serving" not in out
    return [line for line in err.splitlines() if not line.startswith("reencoder-serve: loaded")]


def test_a_folder_that_fails_to_load_stops_the_start(tiny, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(tiny.folder, broken)
    (broken / "spm.en.model").unlink()
    for args, message in [
        (["--model", tmp_path / "missing"], f"error: model folder {tmp_path / 'missing'} does not exist"),
        (["--model", tiny.folder, "--model", broken], f"error: model folder {broken} has no spm.en.model"),
        (["--model", f"a={tiny.folder}", "--model", f"a={tiny.folder}"],
         f"error: --model a={tiny.folder}: a second model named 'a' (give another as NAME=DIR)"),
    ]:
        assert serve_fails([*args, "--port", "0"], capsys) == [message]


def test_an_address_in_use_is_a_one_line_error(tiny, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert serve_fails(["--model", tiny.folder, "--port", port], capsys) == \
            [f"error: cannot listen on 127.0.0.1:{port} (Address already in use)"]


# -- the batcher on the real model, in process -------------------------------------------------


@pytest.fixture(scope="module")
def backend(tiny):
    return NeuralBackend("tiny", tiny.folder)


def test_a_long_request_cannot_starve_a_short_one(backend, tiny):
    batcher = Batcher(backend, window_s=0.0, max_lines=4, max_tokens=10_000)
    try:
        with backend.lock:  # the worker blocks on its first beam search: both jobs are queued
            long = batcher.submit(tiny.test_zh[:20], beam=1)
            short = batcher.submit(tiny.test_zh[20:21], beam=1)
        long_out, _ = long.future.result(timeout=300)
        short_out, _ = short.future.result(timeout=300)
    finally:
        batcher.close()
    assert long_out == backend.translate(tiny.test_zh[:20], beam=1)
    assert short_out == backend.translate(tiny.test_zh[20:21], beam=1)
    # the short request rides in the first or second beam search (the long one's first may have
    # left before it came), the long one takes six (20 lines, 4 a batch, one shared with the short)
    assert short.batches in ([1], [2]) and long.batches == [1, 2, 3, 4, 5, 6]


def test_a_full_queue_refuses_new_requests(backend, tiny):
    batcher = Batcher(backend, window_s=0.0, max_lines=1, max_queued_lines=4)
    try:
        with backend.lock:
            first = batcher.submit(tiny.test_zh[:4], beam=1)
            with pytest.raises(Overloaded, match=r"server overloaded: [34] lines queued for model tiny \(limit 4\)"):
                batcher.submit(tiny.test_zh[4:6], beam=1)
        assert len(first.future.result(timeout=300)[0]) == 4
        assert batcher.submit(tiny.test_zh[4:6], beam=1).future.result(timeout=300)[0] == \
            backend.translate(tiny.test_zh[4:6], beam=1)
    finally:
        batcher.close()


def test_token_cap_splits_batches(backend, tiny):
    lines = tiny.test_zh[:6]
    cap = max(len(line) + 1 for line in lines)  # one line per beam search
    batcher = Batcher(backend, window_s=0.0, max_lines=32, max_tokens=cap)
    try:
        job = batcher.submit(lines, beam=1)
        assert job.future.result(timeout=300)[0] == backend.translate(lines, beam=1)
    finally:
        batcher.close()
    assert len(job.batches) == len(lines)


# -- Thot's folder beside a neural one ---------------------------------------------------------


@pytest.fixture(scope="module")
def thot_folder(tatoeba_prepared, tmp_path_factory):
    """A small Thot model (800 real pairs, 2 tuning runs: ~10 s) of reencoder-baseline's recipe."""
    from eval.phrase_based import recipe

    folder = tmp_path_factory.mktemp("thot") / "model"
    recipe.train(tatoeba_prepared, folder, "HMM", max_train=800, max_dev=10, max_tune_evals=2, progress=False)
    return folder


def test_thot_is_served_beside_the_reencoder(tiny, thot_folder, translator):
    from eval.phrase_based.model import PhraseBasedModel
    from tests.serve_fixtures import serving

    lines = tiny.test_zh[:2] + ["", tiny.test_zh[2]]
    with serving(["--model", f"tiny={tiny.folder}", "--model", f"thot={thot_folder}"]) as url:
        status, models = call(url, "/models")
        assert models["info"]["thot"] == {"kind": "phrase_based (Thot)", "folder": str(thot_folder), "heatmap": False}
        status, answer = call(url, "/translate", {"text": "\n".join(lines), "beam": 2})
        assert call(url, "/heatmap", {"model": "thot", "source": "我", "target": "I"}) == \
            (400, {"error": "model 'thot' (phrase_based (Thot)) has no grid to draw (models with one: tiny)"})
    assert status == 200 and answer["translations"]["tiny"] == translator.translate(lines)
    with PhraseBasedModel(thot_folder) as model:
        assert answer["translations"]["thot"] == model.translate(lines)
