"""Fixtures of the end-to-end tests around the tiny real model folder."""

import pytest

from tests.translate_fixtures import build_tiny_model, single_thread


@pytest.fixture(scope="session")
def tiny(tmp_path_factory, shared_data):
    """The tiny trained Reencoder, its data and its model folder (built once per session)."""
    return build_tiny_model(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def one_thread():
    """torch on one intra-op thread for a module (see :func:`tests.translate_fixtures.single_thread`)."""
    yield from single_thread()
