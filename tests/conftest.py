"""Shared fixtures (the real data in ../shared/data and a small binarized corpus built from
it), and the layout: ``tests/unit`` runs in under a minute (``make test-fast``),
``tests/e2e`` drives the real CLIs end to end and is marked ``slow``; ``make test`` runs both."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import SHARED_DATA, fairseq_preprocess, tatoeba_pairs, write_tokenized

E2E = Path(__file__).resolve().parent / "e2e"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if E2E in Path(item.fspath).parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real data not found at {SHARED_DATA} (the tests read ../shared/data)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_bin(tmp_path_factory, shared_data) -> Path:
    """A few hundred real Tatoeba pairs (Chinese by character, English by word), binarized
    with fairseq-preprocess: train 400 short pairs, valid 60, test 40."""
    root = tmp_path_factory.mktemp("tiny_tatoeba")
    pairs = tatoeba_pairs(2000, 500)
    write_tokenized(root / "train", pairs[:400])
    write_tokenized(root / "valid", pairs[400:460])
    write_tokenized(root / "test", pairs[460:])
    fairseq_preprocess(
        ["--source-lang", "zh", "--target-lang", "en",
         "--trainpref", root / "train", "--validpref", root / "valid", "--testpref", root / "test",
         "--destdir", root / "bin", "--workers", "1"]
    )
    return root
