"""Multi-reference files (data_prep.references): written by data_prep, read by the one loader that
reencoder-eval and the phrase-based baseline use; a blank line is a missing reference."""

import pytest

from data_prep.errors import DataError
from data_prep.references import load_items, load_reference_streams, reference_count, write_items
from data_prep.split import Item
from tests.helpers import make_set


def test_reference_files_use_empty_lines_for_missing(tmp_path):
    items = [Item("你好。", ("Hello.", "Hi.", "Hey.")), Item("再见。", ("Bye.",))]
    info = write_items(tmp_path, "test", items)
    assert info["K"] == 2 and info["refs_per_item"] == {"1": 1, "3": 1}
    assert (tmp_path / "test.en.2").read_text(encoding="utf-8") == "Hey.\n\n"
    assert (tmp_path / "test.en").read_text() == (tmp_path / "test.en.0").read_text()
    assert load_items(tmp_path, "test") == [["Hello.", "Hi.", "Hey."], ["Bye."]]
    assert load_reference_streams(tmp_path, "test")[1] == ["Hi.", None]


def test_missing_reference_files(tmp_path):
    make_set(tmp_path, refs=3)
    (tmp_path / "test.en.1").unlink()
    with pytest.raises(DataError, match=r"reference test\.en\.1 is missing"):
        load_reference_streams(tmp_path, "test")
    with pytest.raises(DataError, match=r"no reference files dev\.en\.0"):
        load_reference_streams(tmp_path, "dev")
    with pytest.raises(DataError, match="no such directory"):
        load_reference_streams(tmp_path / "nowhere", "test")


def test_ragged_reference_files(tmp_path):
    make_set(tmp_path)
    (tmp_path / "test.en.1").write_text("a\nb\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"differ in length \(test\.en\.0=3, test\.en\.1=2\)"):
        load_reference_streams(tmp_path, "test")


def test_item_without_any_reference(tmp_path):
    make_set(tmp_path)
    for k in range(2):
        lines = (tmp_path / f"test.en.{k}").read_text(encoding="utf-8").splitlines()
        lines[1] = "" if k == 0 else "   "
        (tmp_path / f"test.en.{k}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"test\.en\.0:2: empty in all 2 reference files"):
        load_reference_streams(tmp_path, "test")


def test_a_blank_line_is_a_missing_reference_whatever_its_spaces(tmp_path):
    """The one rule for blank lines: empty or whitespace only, the line is no reference (None),
    never a reference of 0 words (sacrebleu would count it, shortening the closest length)."""
    make_set(tmp_path, n=3, refs=3)
    lines = ["first\n", "   \n", "\t\n"]
    (tmp_path / "test.en.2").write_text("".join(lines), encoding="utf-8")
    streams = load_reference_streams(tmp_path, "test")
    assert streams[2] == ["first", None, None]
    assert reference_count(streams) == [3, 2, 2]
    assert load_items(tmp_path, "test")[1] == ["sentence 1 ref 0", "sentence 1 ref 1"]
