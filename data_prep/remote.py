"""Sources that need the internet: the Tatoeba download and HuggingFace ``datasets`` ids.

Downloads are cached under a data directory (``--cache-dir``, default
``~/.cache/reencoder``); a second run reads the cache. Offline, each fails with one clear
:class:`~data_prep.errors.DataError` instead of a stack of network exceptions.
"""
from __future__ import annotations

import io
import os
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Iterator

from .errors import DataError
from .foundation import atomic_write_text
from .progress import step, track
from .readers import Pair, Reader, TatoebaReader

TATOEBA_URL = "https://www.manythings.org/anki/cmn-eng.zip"
TATOEBA_MEMBER = "cmn.txt"
DEFAULT_CACHE = Path(os.environ.get("REENCODER_CACHE", Path.home() / ".cache" / "reencoder"))

#: Known HuggingFace ids -> (default config, parquet data-file pattern or None).
#: IWSLT/iwslt2017 ships a loading script that datasets >= 4 refuses, so its parquet export
#: (revision refs/convert/parquet) is read directly.
HF_DATASETS = {
    "Helsinki-NLP/news_commentary": ("en-zh", None),
    "Helsinki-NLP/opus-100": ("en-zh", None),
    "wmt/wmt19": ("zh-en", None),
    "IWSLT/iwslt2017": (
        "iwslt2017-zh-en",
        "hf://datasets/IWSLT/iwslt2017@refs%2Fconvert%2Fparquet/{config}/{split}/*.parquet"),
}


def download_tatoeba(cache_dir: str | Path = DEFAULT_CACHE, url: str = TATOEBA_URL,
                     timeout: float = 30.0) -> TatoebaReader:
    """Return a reader over the cached Tatoeba ``cmn.txt``, downloading it first if needed."""
    target = Path(cache_dir) / "tatoeba" / TATOEBA_MEMBER
    if target.is_file():
        return TatoebaReader(target)
    step(f"downloading {url}")
    request = urllib.request.Request(url, headers={"User-Agent": "reencoder-data/0.1"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            text = archive.read(TATOEBA_MEMBER).decode("utf-8")
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise DataError(f"cannot download {url} ({getattr(exc, 'reason', exc)}); are you "
                        "offline? Download it by hand and pass --tatoeba PATH") from None
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError) as exc:
        raise DataError(f"{url}: not the expected zip with {TATOEBA_MEMBER} ({exc})") from None
    atomic_write_text(target, text)
    return TatoebaReader(target)


class HFReader(Reader):
    """A HuggingFace ``datasets`` translation corpus (rows ``{"translation": {"zh", "en"}}``)."""

    kind = "hf"

    def __init__(self, dataset_id: str, config: str | None = None, split: str = "train",
                 cache_dir: str | Path = DEFAULT_CACHE, limit: int | None = None):
        default_config, self.parquet = HF_DATASETS.get(dataset_id, (None, None))
        self.dataset_id, self.config = dataset_id, config or default_config
        self.split, self.limit = split, limit
        self.cache_dir = Path(cache_dir) / "hf"

    @classmethod
    def from_spec(cls, spec: str, **kwargs) -> "HFReader":
        """Build from ``ID[:CONFIG]``, e.g. ``Helsinki-NLP/opus-100:en-zh``."""
        dataset_id, _, config = spec.partition(":")
        return cls(dataset_id, config or None, **kwargs)

    def _load(self):
        try:
            import datasets
        except ImportError as exc:  # pragma: no cover - datasets is a requirement
            raise DataError(f"--hf needs the 'datasets' package ({exc})") from None
        try:
            if self.parquet:
                files = self.parquet.format(config=self.config, split=self.split)
                return datasets.load_dataset("parquet", data_files={self.split: files},
                                             split=self.split, cache_dir=str(self.cache_dir))
            return datasets.load_dataset(self.dataset_id, self.config, split=self.split,
                                         cache_dir=str(self.cache_dir))
        except Exception as exc:  # datasets raises many types: connection, hub, config errors
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(f"cannot load HuggingFace dataset {self.dataset_id}"
                            f"{':' + self.config if self.config else ''} split {self.split} "
                            f"({type(exc).__name__}: {first}); offline? it is cached under "
                            f"{self.cache_dir} once downloaded") from None

    def pairs(self) -> Iterator[Pair]:
        table = self._load()
        total = len(table) if self.limit is None else min(self.limit, len(table))
        for index, row in enumerate(track(table, f"read {self.dataset_id}", total)):
            if self.limit is not None and index >= self.limit:
                break
            pair = row.get("translation", row)
            try:
                yield pair["zh"], pair["en"]
            except KeyError:
                raise DataError(f"{self.dataset_id} row {index}: no 'zh'/'en' fields "
                                f"(found {sorted(pair)})") from None

    def describe(self) -> dict:
        return {"kind": self.kind, "id": self.dataset_id, "config": self.config,
                "split": self.split, "limit": self.limit,
                "revision": "refs/convert/parquet" if self.parquet else "main"}
