"""NIST/WMT SGML reference files: ``<refset>`` / ``<DOC docid=... sysid=...>`` / ``<seg id=N>``.

These files are SGML, not XML (``<seg id=1>`` has an unquoted attribute value), so they are
read with the standard library's tolerant :class:`html.parser.HTMLParser`, which also turns
entities (``&apos;``, ``&quot;``, ``&amp;``, ``&#39;``, ...) into characters. A segment that is
not closed, closed twice, outside a ``<DOC>``, or without a numeric ``id`` is a
:class:`~data_prep.errors.DataError` naming ``file:line``.

:func:`read_references` returns the segments of each reference system (``sysid``) in document
order and, within a document, in ``seg id`` order; every system must have the same documents
and segment ids, so line *i* of each system belongs to the same source segment.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from .errors import DataError


@dataclass
class _Doc:
    sysid: str
    docid: str
    line: int
    segments: dict[int, str] = field(default_factory=dict)


class _SegmentParser(HTMLParser):
    """Collects ``<DOC>``s and their ``<seg>``s; raises :class:`DataError` on malformed ones."""

    def __init__(self, path: Path):
        super().__init__(convert_charrefs=True)
        self.path, self.docs = path, []
        self._doc: _Doc | None = None
        self._seg: tuple[int, int, list[str]] | None = None  # (id, line, text parts)

    def _fail(self, message: str, line: int | None = None) -> None:
        raise DataError(f"{self.path}:{line or self.getpos()[0]}: {message}")

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in ("doc", "seg"):
            return
        if self._seg is not None:
            self._fail(f"<{tag}> inside the <seg> opened on line {self._seg[1]} "
                       "(missing </seg>)")
        values = dict(attrs)
        if tag == "doc":
            if self._doc is not None:
                self._fail(f"<DOC> inside the <DOC> opened on line {self._doc.line}")
            self._doc = _Doc(values.get("sysid") or "", values.get("docid") or "",
                             self.getpos()[0])
            return
        if self._doc is None:
            self._fail("<seg> outside a <DOC>")
        seg_id = (values.get("id") or "").strip()
        if not seg_id.isdigit():
            self._fail(f"<seg> without a numeric id (id={values.get('id')!r})")
        if int(seg_id) in self._doc.segments:
            self._fail(f"segment id {seg_id} repeated in DOC {self._doc.docid!r}")
        self._seg = (int(seg_id), self.getpos()[0], [])

    def handle_data(self, data: str) -> None:
        if self._seg is not None:
            self._seg[2].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "seg":
            if self._seg is None:
                self._fail("</seg> without an open <seg>")
            seg_id, _, parts = self._seg
            self._doc.segments[seg_id] = "".join(parts).strip()
            self._seg = None
        elif tag == "doc":
            if self._seg is not None:
                self._fail(f"</DOC> inside the <seg> opened on line {self._seg[1]} "
                           "(missing </seg>)")
            if self._doc is not None:
                self.docs.append(self._doc)
            self._doc = None

    def finish(self) -> list[_Doc]:
        """Check that nothing is left open at the end of the file; return the documents."""
        self.close()
        if self._seg is not None:
            self._fail("file ends inside this <seg> (missing </seg>)", self._seg[1])
        if self._doc is not None:
            self._fail("file ends inside this <DOC> (missing </DOC>)", self._doc.line)
        return self.docs


def _parse(path: Path) -> list[_Doc]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: invalid UTF-8 ({exc.reason})") from None
    parser = _SegmentParser(path)
    parser.feed(text)
    return parser.finish()


def read_references(path: str | Path) -> dict[str, list[str]]:
    """``{sysid: [segment text, ...]}`` of an SGML reference file, systems in file order.

    Segments are ordered by document (in order of first appearance) and then by ``seg id``;
    their text is entity-unescaped and stripped. A system whose documents or segment ids differ
    from the first system's, or a file without any segment, is a :class:`DataError`.
    """
    path = Path(path)
    systems: dict[str, dict[str, dict[int, str]]] = {}
    for doc in _parse(path):
        docs = systems.setdefault(doc.sysid, {})
        if doc.docid in docs:
            raise DataError(f"{path}:{doc.line}: DOC {doc.docid!r} of {doc.sysid!r} repeated")
        docs[doc.docid] = doc.segments
    if not any(segments for docs in systems.values() for segments in docs.values()):
        raise DataError(f"{path}: no <seg> segments found (expected NIST/WMT SGML)")
    layouts = {sysid: [(docid, sorted(segs)) for docid, segs in docs.items()]
               for sysid, docs in systems.items()}
    first, expected = next(iter(layouts.items()))
    for sysid, layout in layouts.items():
        if sorted(layout) != sorted(expected):
            raise DataError(f"{path}: reference {sysid!r} has other documents or segment ids "
                            f"than {first!r}")
    order = [docid for docid, _ in expected]
    return {sysid: [docs[docid][seg_id] for docid in order for seg_id in sorted(docs[docid])]
            for sysid, docs in systems.items()}
