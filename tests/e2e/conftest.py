"""Fixtures of the end-to-end tests: the tiny real model folder, and a slice of the real TVsub
corpus prepared once per session (for the data tests and the TVsub training test)."""

from pathlib import Path

import pytest

from data_prep import cli as data_cli
from tests.translate_fixtures import build_tiny_model, single_thread

#: training pairs read from the TVsub corpus by the ``prepared`` slice
TVSUB_LIMIT = 20_000


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
def tiny(tmp_path_factory, shared_data):
    """The tiny trained Reencoder, its data and its model folder (built once per session)."""
    return build_tiny_model(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def one_thread():
    """torch on one intra-op thread for a module (see :func:`tests.translate_fixtures.single_thread`)."""
    yield from single_thread()
