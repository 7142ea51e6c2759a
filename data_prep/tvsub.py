"""The TVsub corpus folder (DCU-Tencent Chinese-English TV-subtitle dialogues, Wang et al. 2018).

Files (``../shared/data/README.md``, section ``tvsub-zh-en``)::

    train.zh.gz train.en.gz          2,150,945 aligned raw lines (English cased, untokenized)
    dev.orignal.zh  dev.orignal.en   1,086 lines: the authors' tuning set (English tokenized,
    test.orignal.zh test.orignal.en  1,154 lines: their test set      ``&apos;`` escapes)
    dev_trg.sgm  test_trg.sgm        the official references (1 for dev, 3 for test),
                                     tokenized and lowercased, NIST/WMT SGML

:class:`TvsubReader` streams the training pairs straight from the two gzip files in lockstep
(constant memory), and :meth:`TvsubReader.eval_set` loads the fixed dev and test sets with
their references. Errors name ``file:line``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from xml.sax.saxutils import unescape

from .errors import DataError
from .foundation import read_lines
from .readers import Pair, Reader, file_record
from .sgml import read_references
from .textio import read_gzip_lines

TRAIN_FILES = {"zh": "train.zh.gz", "en": "train.en.gz"}
#: name -> (source, tokenized English as shipped, SGML references); "orignal" is the authors' spelling
EVAL_FILES = {"dev": ("dev.orignal.zh", "dev.orignal.en", "dev_trg.sgm"),
              "test": ("test.orignal.zh", "test.orignal.en", "test_trg.sgm")}
#: entities the authors' tokenizer left in ``*.orignal.en`` (Moses escaping)
_MOSES_ENTITIES = {"&apos;": "'", "&quot;": '"', "&#124;": "|", "&lt;": "<", "&gt;": ">",
                   "&#91;": "[", "&#93;": "]"}


@dataclass(frozen=True)
class EvalSet:
    """A fixed evaluation set: raw Chinese lines, the shipped (cased, tokenized) English with
    its entities unescaped, and the official references of each line (SGML, in system order)."""

    name: str
    zh: list[str]
    en_tokenized: list[str]
    refs: list[tuple[str, ...]]
    ref_systems: list[str]


class TvsubReader(Reader):
    """The training pairs of a TVsub folder, read lazily; ``limit`` stops after N pairs."""

    kind = "tvsub"

    def __init__(self, directory: str | Path, limit: int | None = None):
        self.directory, self.limit = Path(directory), limit
        if not self.directory.is_dir():
            raise DataError(f"{self.directory}: no such directory (expected the TVsub folder)")
        names = [*TRAIN_FILES.values(), *(name for files in EVAL_FILES.values() for name in files)]
        missing = [name for name in names if not (self.directory / name).is_file()]
        if missing:
            raise DataError(f"{self.directory}: missing TVsub file(s) {', '.join(missing)}")

    def path(self, name: str) -> Path:
        return self.directory / name

    def pairs(self) -> Iterator[Pair]:
        """``(zh, en)`` in corpus order; a file that ends before the other is a DataError."""
        zh_path, en_path = self.path(TRAIN_FILES["zh"]), self.path(TRAIN_FILES["en"])
        zh_lines, en_lines = read_gzip_lines(zh_path), read_gzip_lines(en_path)
        number = 0
        while self.limit is None or number < self.limit:
            number += 1
            zh, en = next(zh_lines, None), next(en_lines, None)
            if zh is None and en is None:
                return
            if zh is None or en is None:
                short, other = (zh_path, en_path) if zh is None else (en_path, zh_path)
                raise DataError(f"{short}:{number}: ends before {other.name} (misaligned: "
                                f"{short.name} has {number - 1} lines, {other.name} has more)")
            yield zh[1], en[1]

    def eval_set(self, name: str) -> EvalSet:
        """The fixed ``dev`` or ``test`` set, every line kept, in order."""
        zh_name, en_name, sgm_name = EVAL_FILES[name]
        zh = read_lines(self.path(zh_name), DataError)
        en = [unescape(text.strip(), _MOSES_ENTITIES) for text in read_lines(self.path(en_name), DataError)]
        systems = read_references(self.path(sgm_name))
        if len(en) != len(zh):
            raise DataError(f"{self.path(en_name)} has {len(en)} lines but {zh_name} has "
                            f"{len(zh)}: they must be aligned line by line")
        for sysid, segments in systems.items():
            if len(segments) != len(zh):
                raise DataError(f"{self.path(sgm_name)}: reference {sysid!r} has "
                                f"{len(segments)} segments but {zh_name} has {len(zh)} lines")
        refs = list(zip(*systems.values()))
        return EvalSet(name, zh, en, refs, list(systems))

    def describe(self) -> dict:
        names = [*TRAIN_FILES.values(), *(n for files in EVAL_FILES.values() for n in files)]
        return {"kind": self.kind, "limit": self.limit,
                "files": {name: file_record(self.path(name)) for name in names},
                "licence": "CC BY-NC-ND 4.0, research only (github.com/longyuewangdcu/tvsub)"}
