"""Fixtures of the end-to-end tests: the tiny real model folder, and slices of the real TVsub and
Tatoeba corpora prepared once per session (for the data tests and the training tests)."""

from pathlib import Path

import pytest

from data_prep import cli as data_cli
from tests.serve_fixtures import SERVE_LIMITS, serving
from tests.translate_fixtures import build_tiny_model, single_thread

#: training pairs read from the TVsub corpus by the ``prepared`` slice
TVSUB_LIMIT = 20_000
#: lines of the real Tatoeba file in ``tatoeba_tsv``, and reencoder-data's options for it
TATOEBA_LINES = 3000
SMALL = ["--dev-size", "30", "--test-size", "60", "--spm-vocab-zh", "1500",
         "--spm-vocab-en", "1000", "--quiet"]


@pytest.fixture(scope="session")
def tvsub_dir(shared_data) -> Path:
    return shared_data / "tvsub-zh-en"


@pytest.fixture(scope="session")
def prepared(tvsub_dir, tmp_path_factory) -> Path:
    """``reencoder-data --tvsub`` on the first TVSUB_LIMIT training pairs (the full dev and test sets)."""
    out = tmp_path_factory.mktemp("tvsub") / "tvsub"
    args = ["--tvsub", str(tvsub_dir), "--tvsub-limit", str(TVSUB_LIMIT), "--out", str(out), "--quiet"]
    assert data_cli.main(args) == 0
    return out


@pytest.fixture(scope="session")
def tatoeba_tsv(shared_data, tmp_path_factory) -> Path:
    """The first TATOEBA_LINES lines of the real Tatoeba cmn-eng file."""
    lines = (shared_data / "tatoeba-cmn-eng" / "cmn-eng.tsv").read_text(encoding="utf-8")
    path = tmp_path_factory.mktemp("tatoeba") / "cmn-eng-subset.tsv"
    path.write_text("".join(lines.splitlines(keepends=True)[:TATOEBA_LINES]), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tatoeba_prepared(tatoeba_tsv, tmp_path_factory) -> Path:
    """``reencoder-data --tatoeba`` on ``tatoeba_tsv`` (small dev/test sets and vocabularies)."""
    out = tmp_path_factory.mktemp("prep") / "tatoeba"
    assert data_cli.main(["--tatoeba", str(tatoeba_tsv), "--out", str(out), *SMALL]) == 0
    return out


@pytest.fixture(scope="session")
def tiny(tmp_path_factory, shared_data):
    """The tiny trained Reencoder, its data and its model folder (built once per session)."""
    return build_tiny_model(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def tiny_server(tiny):
    """reencoder-serve on the tiny model folder, twice (``tiny`` and ``again``), a long batching
    window so that requests sent together meet, small limits (``SERVE_LIMITS``) so that the bad
    inputs stay small: its base URL (for the API and page tests)."""
    limits = [arg for key, value in SERVE_LIMITS.items() for arg in (f"--{key.replace('_', '-')}", value)]
    with serving(["--model", f"tiny={tiny.folder}", "--model", f"again={tiny.folder}", "--batch-window-ms", "300",
                  *limits]) as url:
        yield url


@pytest.fixture(scope="module")
def one_thread():
    """torch on one intra-op thread for a module (see :func:`tests.translate_fixtures.single_thread`)."""
    yield from single_thread()
