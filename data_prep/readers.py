"""Corpus readers behind one interface: each yields raw ``(zh, en)`` pairs.

Every reader is a :class:`Reader`: iterate it (or call :meth:`Reader.pairs`) for the pairs
exactly as stored (no cleaning), and call :meth:`Reader.describe` for a JSON-able record of
where they came from (paths with SHA-256, ids, revisions) for the manifest. Readers raise
:class:`~data_prep.errors.DataError` with ``file:line`` for malformed input.
"""
from __future__ import annotations

import abc
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator
from xml.sax.saxutils import unescape

from .errors import DataError
from .foundation import numbered_lines, read_lines
from .textio import sha256_file

Pair = tuple[str, str]

#: Entities that WIT3 leaves escaped in the plain-text IWSLT files.
_XML_ENTITIES = {"&quot;": '"', "&apos;": "'"}


class Reader(abc.ABC):
    """A source of aligned Chinese-English sentence pairs."""

    #: short kind name used in the manifest ("tatoeba", "iwslt", "hf", "parallel").
    kind = "reader"

    @abc.abstractmethod
    def pairs(self) -> Iterator[Pair]:
        """Yield ``(zh, en)`` pairs in corpus order."""

    @abc.abstractmethod
    def describe(self) -> dict:
        """A JSON-able description (kind, paths with sha256, ids) for the manifest."""

    def __iter__(self) -> Iterator[Pair]:
        return self.pairs()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()!r})"


def file_record(path: Path) -> dict:
    """``{"path": absolute path, "sha256": ...}`` of one input file, for :meth:`Reader.describe`."""
    return {"path": str(path.resolve()), "sha256": sha256_file(path)}


class TatoebaReader(Reader):
    """The Tatoeba/Anki ``cmn-eng`` file: ``English<TAB>Chinese<TAB>attribution`` per line."""

    kind = "tatoeba"
    columns = 3

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def pairs(self) -> Iterator[Pair]:
        for number, line in numbered_lines(self.path, DataError):
            fields = line.split("\t")
            if len(fields) != self.columns:
                raise DataError(
                    f"{self.path}:{number}: expected {self.columns} tab-separated columns "
                    f"(English, Chinese, attribution), found {len(fields)}")
            yield fields[1], fields[0]

    def describe(self) -> dict:
        return {"kind": self.kind, **file_record(self.path),
                "licence": "CC-BY 2.0 (France); per-pair attribution in column 3 of the file"}


class ParallelReader(Reader):
    """Any user-supplied pair of aligned plain-text files, one sentence per line."""

    kind = "parallel"

    def __init__(self, zh_path: str | Path, en_path: str | Path):
        self.zh_path, self.en_path = Path(zh_path), Path(en_path)

    def _check_line_counts(self, n_zh: int, n_en: int) -> None:
        if n_zh != n_en:
            raise DataError(f"{self.zh_path} has {n_zh} lines but {self.en_path} has {n_en}: "
                            "parallel files must be aligned line by line")

    def pairs(self) -> Iterator[Pair]:
        zh_lines = read_lines(self.zh_path, DataError)
        en_lines = read_lines(self.en_path, DataError)
        self._check_line_counts(len(zh_lines), len(en_lines))
        yield from zip(zh_lines, en_lines)

    def describe(self) -> dict:
        return {"kind": self.kind, "zh": file_record(self.zh_path),
                "en": file_record(self.en_path)}


class IwsltReader(Reader):
    """One IWSLT TED evaluation set (e.g. ``tst2010``) from a WIT3 release folder.

    ``fmt="xml"`` reads ``*.{set}.zh-en.{zh,en}.xml`` (segments matched by talk and segment
    id), ``fmt="plain"`` the aligned ``*.{set}.zh-en.{zh,en}`` files (XML entities, which
    WIT3 leaves escaped there, are unescaped so both formats give the same text);
    ``fmt="auto"`` prefers XML. Segment text is stripped of the padding spaces.
    """

    kind = "iwslt"

    def __init__(self, directory: str | Path, set_name: str, fmt: str = "auto"):
        if fmt not in ("auto", "xml", "plain"):
            raise ValueError(f"unknown IWSLT format {fmt!r}")
        self.directory, self.set_name = Path(directory), set_name
        if not self.directory.is_dir():
            raise DataError(f"{self.directory}: no such directory")
        if fmt == "auto":
            fmt = "xml" if self._find("zh", ".xml", required=False) else "plain"
        self.fmt = fmt
        suffix = ".xml" if fmt == "xml" else ""
        self.zh_path = self._find("zh", suffix)
        self.en_path = self._find("en", suffix)

    def _find(self, lang: str, suffix: str, required: bool = True) -> Path | None:
        pattern = f"*.{self.set_name}.zh-en.{lang}{suffix}"
        matches = sorted(self.directory.glob(pattern))
        if not matches and required:
            raise DataError(f"{self.directory}: no file matching {pattern} "
                            f"(IWSLT set {self.set_name!r} not found)")
        return matches[0] if matches else None

    def pairs(self) -> Iterator[Pair]:
        if self.fmt == "plain":
            plain = ParallelReader(self.zh_path, self.en_path)
            for zh, en in plain.pairs():
                yield (unescape(zh.strip(), _XML_ENTITIES), unescape(en.strip(), _XML_ENTITIES))
            return
        zh_segs, en_segs = _read_xml_segments(self.zh_path), _read_xml_segments(self.en_path)
        if [key for key, _ in zh_segs] != [key for key, _ in en_segs]:
            raise DataError(f"{self.zh_path} and {self.en_path}: talk/segment ids differ "
                            f"({len(zh_segs)} vs {len(en_segs)} segments)")
        for (_, zh), (_, en) in zip(zh_segs, en_segs):
            yield zh, en

    def describe(self) -> dict:
        return {"kind": self.kind, "set": self.set_name, "format": self.fmt,
                "zh": file_record(self.zh_path), "en": file_record(self.en_path)}


def _read_xml_segments(path: Path) -> list[tuple[tuple[str, str], str]]:
    """``[((docid, segid), text), ...]`` of an mteval-style XML file, in file order."""
    segments = []
    try:
        for doc in ET.parse(path).getroot().iter("doc"):
            docid = doc.get("docid", "")
            for seg in doc.iter("seg"):
                segments.append(((docid, seg.get("id", "")), (seg.text or "").strip()))
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else 0
        raise DataError(f"{path}:{line}: malformed XML ({exc})") from None
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: invalid UTF-8 ({exc.reason})") from None
    return segments
