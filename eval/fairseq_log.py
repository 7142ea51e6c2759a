"""The one reader of fairseq-train logs: records as ``(tag, {field: number})``.

Reads the console output of ``fairseq-train`` or its ``--log-file`` (whose lines carry no
``| INFO | tag |`` prefix), in ``--log-format simple`` or ``json``: ``train_inner`` lines
(every ``--log-interval`` updates), the ``train`` epoch summaries and the validation lines,
tagged with their subset (``valid``; a ``simple`` log names any other subset too).  Field names
lose fairseq's ``train_`` / ``valid_`` prefixes.  Lines of other formats are ignored.
``--log-format json`` is the most robust input (every record is one JSON object); ``simple``
is parsed field by field.  :func:`valid_curve` is a validation metric over updates.
"""

from __future__ import annotations

import json
import re
from typing import Dict, Iterator, List, Optional, Tuple

_TAG = re.compile(r"\| (train_inner|train|valid) \| (.*)$")
# a validation record of --log-format simple, console or --log-file: its subset is in the text
_VALID = re.compile(r"(epoch \d+ \| valid on '([^']+)' subset.*)$")
# the other records as fairseq's --log-file writes them, without the "time | INFO | tag |" prefix
_BARE = [("train_inner", re.compile(r"^epoch \d+:\s+\d+ / \d+ (.*=.*)$")),
         ("train", re.compile(r"^(epoch \d+ \| loss .*)$"))]
_EQ = re.compile(r"([A-Za-z_]+)=([-+0-9.eE]+|inf|nan)")


def _number(text) -> Optional[float]:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _fields(tag: str, body: str) -> Dict[str, float]:
    """``{name: value}`` of one log record, prefixes like ``valid_`` removed."""
    body = body.strip()
    if body.startswith("{"):
        try:
            raw = json.loads(body)
        except ValueError:
            return {}
        out = {}
        for key, value in raw.items():
            for prefix in ("train_", "valid_"):
                if key.startswith(prefix):
                    key = key[len(prefix):]
            number = _number(value)
            if number is not None:
                out[key] = number
        return out
    if tag == "train_inner":
        return {k: float(v) for k, v in _EQ.findall(body)}
    out = {}
    for part in body.split(" | "):
        bits = part.strip().split(" ")
        if len(bits) == 2 and _number(bits[1]) is not None:
            out[bits[0]] = float(bits[1])
    return out


def _record(line: str) -> Optional[Tuple[str, str]]:
    """``(tag, body)`` of a fairseq log record, from console or ``--log-file`` lines."""
    match = _VALID.search(line)
    if match:
        return match.group(2), match.group(1)
    match = _TAG.search(line)
    if match:
        return match.group(1), match.group(2)
    line = line.strip()
    if line.startswith("{"):  # --log-format json in a --log-file: the keys say which record
        try:
            keys = json.loads(line).keys()
        except (ValueError, AttributeError):
            return None
        if any(k.startswith("valid_") for k in keys):
            return "valid", line
        if any(k.startswith("train_") for k in keys):
            return "train", line
        return ("train_inner", line) if "loss" in keys else None
    for tag, pattern in _BARE:
        match = pattern.match(line)
        if match:
            return tag, match.group(1)
    return None


def log_records(text: str) -> Iterator[Tuple[str, Dict[str, float]]]:
    """``(tag, fields)`` for every train_inner / train / valid record of a log, in order."""
    for line in text.splitlines():
        record = _record(line)
        if record is not None:
            yield record[0], _fields(*record)


def valid_curve(text: str, subset: str = "valid", field: str = "loss") -> List[Tuple[int, float]]:
    """``[(num_updates, value)]`` of a validation ``field`` of ``subset`` (any logged metric,
    e.g. ``seq_acc`` of the ``sequence_accuracy`` criterion), by update; a repeated update
    keeps its last value."""
    points: Dict[int, float] = {}
    for tag, fields in log_records(text):
        if tag == subset and field in fields and "num_updates" in fields:
            points[int(fields["num_updates"])] = fields[field]
    return sorted(points.items())


_PARAMS = re.compile(r"num\. (?:shared )?model params: ([0-9,]+)")


def parameter_count(text: str) -> Optional[int]:
    """The model's parameter count as fairseq-train logs it at start, or None."""
    match = _PARAMS.search(text)
    return int(match.group(1).replace(",", "")) if match else None
