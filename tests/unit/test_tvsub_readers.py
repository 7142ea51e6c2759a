"""The TVsub readers on the real files in ../shared/data/tvsub-zh-en and on damaged slices of
them: the streamed gzip training pairs, the SGML references, the fixed dev/test sets."""
from __future__ import annotations

import gzip
import itertools
import shutil
from pathlib import Path

import pytest

from data_prep import fixed_sets
from data_prep.errors import DataError
from data_prep.sgml import read_references
from data_prep.tvsub import EVAL_FILES, TvsubReader

FIRST_PAIRS = [("抱歉 怎么称呼", "Sorry about that, Mr...."), ("麦克维", "McVeigh.")]


@pytest.fixture(scope="module")
def tvsub_dir(shared_data) -> Path:
    return shared_data / "tvsub-zh-en"


def gz_head(source: Path, target: Path, lines: int) -> Path:
    """The first ``lines`` lines of the gzip file ``source``, recompressed into ``target``."""
    with gzip.open(source, "rb") as src, gzip.open(target, "wb") as out:
        out.writelines(itertools.islice(src, lines))
    return target


def small_copy(tvsub_dir: Path, folder: Path, zh_lines: int = 100, en_lines: int = 100) -> Path:
    """A TVsub folder in ``folder``: the real dev/test files and slices of the training files."""
    folder.mkdir()
    for name in (name for files in EVAL_FILES.values() for name in files):
        shutil.copy(tvsub_dir / name, folder / name)
    gz_head(tvsub_dir / "train.zh.gz", folder / "train.zh.gz", zh_lines)
    gz_head(tvsub_dir / "train.en.gz", folder / "train.en.gz", en_lines)
    return folder


# ---------------------------------------------------------------- SGML references ------------

def test_sgml_test_references_three_systems_in_segment_order(tvsub_dir):
    refs = read_references(tvsub_dir / "test_trg.sgm")
    assert list(refs) == ["reference_1", "reference_2", "reference_3"]
    assert [len(segments) for segments in refs.values()] == [1154, 1154, 1154]
    # entities unescaped, padding stripped
    assert refs["reference_1"][1] == "no problems . it 's all taken care of ."
    assert refs["reference_2"][0] == "how 'd it go ?"
    assert not any("&apos;" in s or "&quot;" in s for segs in refs.values() for s in segs)
    assert any('"' in s for s in refs["reference_1"])
    # the second document (SUB02, seg ids from 1 again) follows the 330 segments of SUB01
    assert [refs[name][330] for name in refs] == ["23 , red and odd ."] * 3


def test_sgml_dev_reference_is_one_system(tvsub_dir):
    refs = read_references(tvsub_dir / "dev_trg.sgm")
    assert list(refs) == ["E01"] and len(refs["E01"]) == 1086
    assert refs["E01"][:2] == ["okay , this is it .", "you sure you wanna do this ?"]


def write_sgm(path: Path, *docs: str) -> Path:
    path.write_text('<refset setid="x" srclang="Chinese" trglang="English">\n' + "".join(docs)
                    + "</refset>\n", encoding="utf-8")
    return path


def test_sgml_entities_and_seg_id_order(tmp_path):
    path = write_sgm(tmp_path / "r.sgm",
                     '<DOC docid="A" sysid="r1">\n<p>\n<seg id=2> b &amp; c &quot;d&quot; </seg>\n'
                     "</p>\n<seg id=1>it &apos;s &#39;x&#39; &lt;y&gt;</seg>\n</DOC>\n",
                     '<DOC docid="A" sysid="r2">\n<seg id="1">one</seg>\n<seg id=2>two</seg>\n'
                     "</DOC>\n")
    refs = read_references(path)
    assert refs == {"r1": ["it 's 'x' <y>", 'b & c "d"'], "r2": ["one", "two"]}


@pytest.mark.parametrize("body, line, fragment", [  # line 1 is <refset>
    ('<DOC docid="A" sysid="r">\n<seg id=1> open\n<seg id=2>next</seg>\n</DOC>\n', 4,
     "<seg> inside the <seg> opened on line 3"),
    ('<DOC docid="A" sysid="r">\n<seg id=1>ok</seg>\n<seg>no id</seg>\n</DOC>\n', 4,
     "without a numeric id"),
    ('<DOC docid="A" sysid="r">\n<seg id=1>ok</seg>\nstray</seg>\n</DOC>\n', 4,
     "</seg> without an open <seg>"),
    ('<DOC docid="A" sysid="r">\n<seg id=1>ok</seg>\n<seg id=1>again</seg>\n</DOC>\n', 4,
     "segment id 1 repeated"),
    ('<seg id=1>outside</seg>\n', 2, "<seg> outside a <DOC>"),
    ('<DOC docid="A" sysid="r">\n<seg id=1>ok</seg>\n<seg id=2>never closed\n', 4,
     "file ends inside this <seg>"),
    ('<DOC docid="A" sysid="r">\n<seg id=1>ok\n</DOC>\n', 4,
     "</DOC> inside the <seg> opened on line 3"),
])
def test_sgml_malformed_segment_names_file_and_line(tmp_path, body, line, fragment):
    path = write_sgm(tmp_path / "bad.sgm", body)
    with pytest.raises(DataError) as caught:
        read_references(path)
    assert f"{path}:{line}:" in str(caught.value) and fragment in str(caught.value)


def test_sgml_systems_must_have_the_same_segments(tmp_path):
    path = write_sgm(tmp_path / "r.sgm", '<DOC docid="A" sysid="r1">\n<seg id=1>a</seg>\n</DOC>\n',
                     '<DOC docid="A" sysid="r2">\n<seg id=2>b</seg>\n</DOC>\n')
    with pytest.raises(DataError, match="'r2' has other documents or segment ids than 'r1'"):
        read_references(path)
    with pytest.raises(DataError, match="no <seg> segments"):
        read_references(write_sgm(tmp_path / "empty.sgm"))


# ---------------------------------------------------------------- gzip training pairs --------

def test_reader_streams_the_real_training_pairs(tvsub_dir):
    reader = TvsubReader(tvsub_dir, limit=2000)
    pairs = list(reader)
    assert len(pairs) == 2000 and pairs[:2] == FIRST_PAIRS
    described = reader.describe()
    assert described["kind"] == "tvsub" and described["limit"] == 2000
    assert set(described["files"]) == {"train.zh.gz", "train.en.gz", "dev.orignal.zh",
                                       "dev.orignal.en", "dev_trg.sgm", "test.orignal.zh",
                                       "test.orignal.en", "test_trg.sgm"}


def test_truncated_gzip_names_file_and_line(tvsub_dir, tmp_path):
    folder = small_copy(tvsub_dir, tmp_path / "tv")
    head = (tvsub_dir / "train.zh.gz").read_bytes()[:1 << 20]  # the first MB: a cut stream
    (folder / "train.zh.gz").write_bytes(head)
    gz_head(tvsub_dir / "train.en.gz", folder / "train.en.gz", 200_000)
    reader, read = TvsubReader(folder), 0
    with pytest.raises(DataError) as caught:
        for read, _ in enumerate(reader, start=1):  # noqa: B007  (read is the count after the loop)
            pass
    assert read > 50_000  # a MB of gzip holds tens of thousands of short lines
    assert str(caught.value).startswith(f"{folder / 'train.zh.gz'}:{read + 1}: truncated or "
                                        "corrupt gzip data")


def test_corrupt_gzip_is_a_data_error(tvsub_dir, tmp_path):
    folder = small_copy(tvsub_dir, tmp_path / "tv", 5000, 5000)
    good = (folder / "train.en.gz").read_bytes()
    (folder / "train.en.gz").write_bytes(good[:-8] + bytes(8))  # wrong CRC and size trailer
    with pytest.raises(DataError) as caught:
        list(TvsubReader(folder))
    assert str(caught.value).startswith(f"{folder / 'train.en.gz'}:5001: truncated or corrupt "
                                        "gzip data (CRC check failed")
    (folder / "train.en.gz").write_bytes(b"XX" + good[2:])  # not gzip at all
    with pytest.raises(DataError, match=r"train\.en\.gz:1: truncated or corrupt gzip data "
                                        r"\(Not a gzipped file"):
        list(TvsubReader(folder))


@pytest.mark.parametrize("zh_lines, en_lines, short, other", [
    (100, 101, "train.zh.gz", "train.en.gz"), (101, 100, "train.en.gz", "train.zh.gz")])
def test_misaligned_training_files(tvsub_dir, tmp_path, zh_lines, en_lines, short, other):
    folder = small_copy(tvsub_dir, tmp_path / "tv", zh_lines, en_lines)
    assert len(list(TvsubReader(folder, limit=100))) == 100  # a limit stops before the end
    with pytest.raises(DataError) as caught:
        list(TvsubReader(folder))
    assert str(caught.value).startswith(f"{folder / short}:101: ends before {other} (misaligned")


def test_missing_files_and_folder(tvsub_dir, tmp_path):
    with pytest.raises(DataError, match="no such directory"):
        TvsubReader(tmp_path / "nope")
    folder = small_copy(tvsub_dir, tmp_path / "tv")
    (folder / "test_trg.sgm").unlink()
    with pytest.raises(DataError, match="missing TVsub file"):
        TvsubReader(folder)


# ---------------------------------------------------------------- fixed dev/test sets --------

def test_eval_sets_keep_every_line_with_aligned_references(tvsub_dir):
    reader = TvsubReader(tvsub_dir)
    test = fixed_sets.from_eval_set(reader.eval_set("test"))
    assert len(test.items) == len(test.target) == 1154
    assert all(len(item.refs) == 3 for item in test.items)
    assert test.items[2].zh == "罗斯,谢谢"  # normalised (full-width comma)
    assert test.items[2].refs == ("ross , thank you .", "thanks , ross .", "thanks , ross .")
    assert test.target[:2] == ["did everything go okay with the annulment?",
                               "no problems. it's all taken care of."]
    dev = fixed_sets.from_eval_set(reader.eval_set("dev"))
    assert len(dev.items) == 1086 and {len(item.refs) for item in dev.items} == {1}
    assert dev.target[2] == "hello, Mrs. Ross. woo-hoo!"  # cased, detokenized, like train.en


def test_eval_set_line_counts_must_agree(tvsub_dir, tmp_path):
    folder = small_copy(tvsub_dir, tmp_path / "tv")
    lines = (folder / "test.orignal.zh").read_text(encoding="utf-8").splitlines(keepends=True)
    (folder / "test.orignal.zh").write_text("".join(lines[:-1]), encoding="utf-8")
    with pytest.raises(DataError, match="test.orignal.en has 1154 lines but test.orignal.zh "
                                        "has 1153"):
        TvsubReader(folder).eval_set("test")
