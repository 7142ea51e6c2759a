"""Character-level text for the Grid LSTM language-model recipe (Grid LSTM paper §5.1).

fairseq's ``language_modeling`` task reads whitespace-separated tokens, one line per sequence,
and appends an end-of-sentence token to every line.  We therefore write every *character* as a
token and real spaces as the visible symbol ``▁``: the EOS of a line stands for its newline, so
fairseq's base-2 loss per token is bits per character with the newline counted as a character.

Corpora:

* ``ted`` (offline, the default): the English side of the official IWSLT 2015 TED talk sets in
  ``../shared/data/iwslt15-ted-zh-en`` (plain ``*.en`` files, one segment per line, XML entities
  unescaped).  The split is by evaluation set, hence by whole talks:
  train = tst2010 + tst2011 + tst2012 (37 talks, 4,212 lines, ~375k characters),
  valid = dev2010 (8 talks, 887 lines), test = tst2013 (19 talks, 1,261 lines).
* ``enwik8`` (needs internet): the Hutter Prize Wikipedia data of the paper, from HuggingFace
  ``datasets`` (``LTCB/enwik8``, its parquet export).  Tokens are UTF-8 *bytes* written as
  decimal numbers, as in the usual enwik8 protocol (bits per character = bits per byte), and
  the split is the standard one: the first 90M bytes train, the next 5M valid, the last 5M
  test (at line granularity).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Dict, Iterable, Iterator, List

SPACE = "▁"
TED_SPLITS = {
    "train": ["tst2010", "tst2011", "tst2012"],
    "valid": ["dev2010"],
    "test": ["tst2013"],
}
ENWIK8_DATASET = "LTCB/enwik8"
ENWIK8_REVISION = "refs/convert/parquet"  # datasets >= 4 refuses the repository's loading script
ENWIK8_SPLIT_BYTES = (90_000_000, 5_000_000, 5_000_000)


class CorpusUnavailable(RuntimeError):
    """A corpus cannot be read or downloaded."""


def to_char_tokens(text: str) -> str:
    """``"Hi there."`` → ``"H i ▁ t h e r e ."``: one token per character, runs of whitespace
    collapsed to one visible space, no leading or trailing space."""
    return " ".join(SPACE.join(text.split()))


def from_char_tokens(tokens: str) -> str:
    """Inverse of :func:`to_char_tokens` (for reading generated text)."""
    return tokens.replace(" ", "").replace(SPACE, " ")


def to_byte_tokens(text: str) -> str:
    """enwik8 style: the UTF-8 bytes of a line as decimal tokens."""
    return " ".join(str(b) for b in text.encode("utf-8"))


def ted_lines(shared: Path, sets: Iterable[str]) -> Iterator[str]:
    for name in sets:
        path = shared / "iwslt15-ted-zh-en" / f"IWSLT15.TED.{name}.zh-en.en"
        if not path.is_file():
            raise CorpusUnavailable(f"TED file not found: {path} (pass --shared DIR)")
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = html.unescape(line).strip()
                if line:
                    yield line


def ted_splits(shared: Path) -> Dict[str, List[str]]:
    """The deterministic talk-level split of the TED English text, as character tokens."""
    return {split: [to_char_tokens(line) for line in ted_lines(shared, sets)] for split, sets in TED_SPLITS.items()}


def enwik8_splits(cache_dir=None) -> Dict[str, List[str]]:
    """enwik8 from HuggingFace as byte tokens, standard 90M/5M/5M split (needs internet)."""
    try:
        import datasets
    except ImportError as err:  # pragma: no cover - the venv has it
        raise CorpusUnavailable("enwik8 needs the `datasets` package: pip install datasets") from err
    try:
        ds = datasets.load_dataset(ENWIK8_DATASET, "enwik8", revision=ENWIK8_REVISION, split="train", cache_dir=cache_dir)
    except Exception as err:  # offline: ConnectionError, OfflineModeIsEnabled, HfHubHTTPError, ...
        raise CorpusUnavailable(
            f"could not download enwik8 ({ENWIK8_DATASET}@{ENWIK8_REVISION}) from HuggingFace: "
            f"{type(err).__name__}: {err}. enwik8 needs internet; use --corpus ted offline."
        ) from err
    out: Dict[str, List[str]] = {"train": [], "valid": [], "test": []}
    limits = [ENWIK8_SPLIT_BYTES[0], ENWIK8_SPLIT_BYTES[0] + ENWIK8_SPLIT_BYTES[1]]
    seen = 0
    for row in ds:
        line = row["text"]
        split = "train" if seen < limits[0] else "valid" if seen < limits[1] else "test"
        seen += len(line.encode("utf-8")) + 1  # + the newline
        if line:
            out[split].append(to_byte_tokens(line))
    return out


def write_splits(splits: Dict[str, List[str]], out_dir: Path) -> Dict[str, int]:
    """Write ``{split}.txt``; returns characters per split (newlines included, as scored)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split, lines in splits.items():
        (out_dir / f"{split}.txt").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        counts[split] = sum(len(line.split()) + 1 for line in lines)
    return counts
