"""The manifest: what an output folder was built from, and whether it is up to date.

``manifest.json`` is written last, so its presence marks a complete folder. Its
``fingerprint`` hashes the sources (with file SHA-256s), the settings and the format version;
a re-run with the same fingerprint has nothing to do.
"""
from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import json
import platform
from pathlib import Path

from .foundation import atomic_write_text

MANIFEST = "manifest.json"
FORMAT_VERSION = 2
PACKAGES = ("reencoder", "sentencepiece", "ve-fairseq", "torch", "jieba", "sacremoses",
            "opencc-python-reimplemented", "datasets", "sacrebleu", "tqdm")


def package_versions(packages=PACKAGES) -> dict:
    """Versions of Python and of the packages that shape the output (None if absent)."""
    versions = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def fingerprint(sources: list[dict], settings: dict) -> str:
    """SHA-256 over the format version, the source descriptions and the settings."""
    blob = json.dumps({"format": FORMAT_VERSION, "sources": sources, "settings": settings},
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def read(out_dir: str | Path) -> dict | None:
    """The manifest of ``out_dir``, or None if it has none (or an unreadable one)."""
    try:
        return json.loads((Path(out_dir) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def t2s(out_dir: str | Path) -> bool:
    """Whether ``out_dir``'s Chinese was converted Traditional -> Simplified (its manifest's
    ``settings.t2s``; False without a readable manifest): inputs must be normalised the same."""
    settings = (read(out_dir) or {}).get("settings") or {}
    return bool(settings.get("t2s", False))


def is_up_to_date(out_dir: str | Path, expected: str) -> bool:
    """True if ``out_dir`` holds a complete build with fingerprint ``expected``."""
    manifest = read(out_dir)
    return manifest is not None and manifest.get("fingerprint") == expected


def write(out_dir: str | Path, content: dict) -> Path:
    """Atomically write ``manifest.json`` (adds format version, versions and a timestamp)."""
    content = {"format": FORMAT_VERSION, **content, "versions": package_versions(),
               "created": datetime.datetime.now(datetime.timezone.utc).isoformat()}
    return atomic_write_text(Path(out_dir) / MANIFEST,
                             json.dumps(content, indent=2, ensure_ascii=False) + "\n")
