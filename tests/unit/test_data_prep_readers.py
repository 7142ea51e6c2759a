"""data_prep readers on the real files in ../shared/data, plus their error messages."""
from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from pathlib import Path

import pytest

from data_prep import cli, remote
from data_prep.errors import DataError
from data_prep.readers import IwsltReader, ParallelReader, Reader, TatoebaReader

IWSLT_SIZES = {"dev2010": 887, "tst2010": 1570, "tst2011": 1245, "tst2012": 1397, "tst2013": 1261}


@pytest.fixture(scope="module")
def tatoeba_tsv(shared_data) -> Path:
    return shared_data / "tatoeba-cmn-eng" / "cmn-eng.tsv"


@pytest.fixture(scope="module")
def iwslt_dir(shared_data) -> Path:
    return shared_data / "iwslt15-ted-zh-en"


def test_tatoeba_reader_reads_every_line_as_zh_en(tatoeba_tsv):
    reader = TatoebaReader(tatoeba_tsv)
    pairs = list(reader)
    assert isinstance(reader, Reader)
    assert len(pairs) == 27780
    assert pairs[0] == ("嗨。", "Hi.")
    described = reader.describe()
    assert described["kind"] == "tatoeba"
    assert described["sha256"] == hashlib.sha256(tatoeba_tsv.read_bytes()).hexdigest()


def test_tatoeba_reader_rejects_wrong_column_count(tmp_path, tatoeba_tsv):
    bad = tmp_path / "bad.tsv"
    lines = tatoeba_tsv.read_text(encoding="utf-8").splitlines()[:3]
    lines[1] = "Hello.\t你好。"  # attribution column missing
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"{bad}:2: expected 3 tab-separated columns.*found 2"):
        list(TatoebaReader(bad))


@pytest.mark.parametrize("set_name", sorted(IWSLT_SIZES))
def test_iwslt_xml_and_plain_readers_agree(iwslt_dir, set_name):
    xml = list(IwsltReader(iwslt_dir, set_name, "xml"))
    plain = list(IwsltReader(iwslt_dir, set_name, "plain"))
    assert len(xml) == IWSLT_SIZES[set_name]
    assert xml == plain  # plain files have escaped entities; the reader unescapes them
    assert all(zh == zh.strip() and en == en.strip() for zh, en in xml)


def test_iwslt_reader_unescapes_entities_and_describes(iwslt_dir):
    reader = IwsltReader(iwslt_dir, "tst2010")  # auto: XML
    assert reader.fmt == "xml"
    english = [en for _, en in reader]
    assert any("R&D" in en for en in english)
    assert not any("&amp;" in en for en in english)
    described = reader.describe()
    assert described["set"] == "tst2010" and described["zh"]["path"].endswith(".zh.xml")


def test_iwslt_reader_errors(tmp_path, iwslt_dir):
    with pytest.raises(DataError, match="IWSLT set 'tst1999' not found"):
        IwsltReader(iwslt_dir, "tst1999")
    for lang in ("zh", "en"):
        src = iwslt_dir / f"IWSLT15.TED.tst2010.zh-en.{lang}.xml"
        text = src.read_text(encoding="utf-8")
        if lang == "en":
            text = text.replace('<seg id="2">', '<seg id="2"', 1)  # broken tag on line 11
        (tmp_path / src.name).write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=r"tst2010\.zh-en\.en\.xml:1[0-9]: malformed XML"):
        list(IwsltReader(tmp_path, "tst2010"))


def test_parallel_reader_on_real_plain_files(iwslt_dir):
    zh, en = (iwslt_dir / f"IWSLT15.TED.dev2010.zh-en.{lang}" for lang in ("zh", "en"))
    pairs = list(ParallelReader(zh, en))
    assert len(pairs) == 887
    assert pairs[5] == (zh.read_text(encoding="utf-8").split("\n")[5],
                        en.read_text(encoding="utf-8").split("\n")[5])


def test_parallel_reader_errors(tmp_path):
    zh, en = tmp_path / "a.zh", tmp_path / "a.en"
    zh.write_text("你好\n再见\n", encoding="utf-8")
    en.write_text("hello\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"{zh} has 2 lines but {en} has 1"):
        list(ParallelReader(zh, en))
    en.write_bytes(b"hello\nbad \xff byte\n")
    with pytest.raises(DataError, match=rf"{en}:2: invalid UTF-8 at byte 5"):
        list(ParallelReader(zh, en))
    with pytest.raises(DataError, match=rf"{tmp_path / 'missing.zh'}: no such file"):
        list(ParallelReader(tmp_path / "missing.zh", en))


@pytest.fixture
def hf_offline(monkeypatch):
    """Make the HuggingFace hub fail at once, as it does offline (without the retries)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)


def test_hf_reader_offline_is_one_clear_error(tmp_path, hf_offline):
    for spec in ("Helsinki-NLP/news_commentary", "IWSLT/iwslt2017"):
        reader = remote.HFReader.from_spec(spec, cache_dir=tmp_path)
        with pytest.raises(DataError, match=rf"cannot load HuggingFace dataset {spec}.*offline"):
            list(reader)


def test_cli_hf_offline_exits_2_without_output(tmp_path, hf_offline, capsys):
    out = tmp_path / "nc"
    with pytest.raises(SystemExit) as caught:
        cli.main(["--hf", "wmt/wmt19", "--cache-dir", str(tmp_path / "cache"), "--out", str(out),
                  "--quiet"])
    assert caught.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot load HuggingFace dataset wmt/wmt19:zh-en") and "\n" not in err
    assert not out.exists() and not list(tmp_path.glob("nc.tmp-*"))


def test_hf_reader_maps_translation_rows(tmp_path, monkeypatch, tatoeba_tsv):
    import datasets

    rows = [line.split("\t") for line in tatoeba_tsv.read_text(encoding="utf-8").splitlines()[:50]]
    table = datasets.Dataset.from_dict({"translation": [{"en": en, "zh": zh} for en, zh, _ in rows]})
    calls = []

    def fake_load(*args, **kwargs):
        calls.append((args, kwargs))
        return table

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    reader = remote.HFReader.from_spec("Helsinki-NLP/opus-100", cache_dir=tmp_path, limit=20)
    pairs = list(reader)
    assert pairs == [(zh, en) for en, zh, _ in rows[:20]]
    assert calls[0][0] == ("Helsinki-NLP/opus-100", "en-zh")  # default config filled in
    assert reader.describe()["config"] == "en-zh"
    list(remote.HFReader.from_spec("IWSLT/iwslt2017", cache_dir=tmp_path))
    assert calls[1][0] == ("parquet",)  # the script-free parquet export
    assert "refs%2Fconvert%2Fparquet/iwslt2017-zh-en/train" in str(calls[1][1]["data_files"])


def _serve(folder: Path):
    def handler(*a, **k):
        return http.server.SimpleHTTPRequestHandler(*a, directory=str(folder), **k)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *a: None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_tatoeba_download_caches_and_fails_clearly(tmp_path, tatoeba_tsv):
    site = tmp_path / "site"
    site.mkdir()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cmn.txt", "".join(tatoeba_tsv.open(encoding="utf-8").readlines()[:100]))
    (site / "cmn-eng.zip").write_bytes(buffer.getvalue())
    server = _serve(site)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/cmn-eng.zip"
        reader = remote.download_tatoeba(tmp_path / "cache", url=url)
        assert len(list(reader)) == 100
        assert reader.path == tmp_path / "cache" / "tatoeba" / "cmn.txt"
    finally:
        server.shutdown()
    # cached: no network needed any more
    again = remote.download_tatoeba(tmp_path / "cache", url="http://127.0.0.1:9/none.zip")
    assert again.path == reader.path
    with pytest.raises(DataError, match="cannot download http://127.0.0.1:9/none.zip.*--tatoeba"):
        remote.download_tatoeba(tmp_path / "empty-cache", url="http://127.0.0.1:9/none.zip")
