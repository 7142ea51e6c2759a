"""The README's examples run as written.

A fenced code block of README.md preceded by the line ``<!-- example -->`` is an example: it
runs here, in a fresh folder, against the tiny trained model folder of the ``tiny`` fixture
(:mod:`tests.translate_fixtures`), with the demo's model path ``runs/demo/reencoder/model``
replaced by that folder's path and nothing else changed.  ``bash`` blocks run under ``bash -euo
pipefail`` with the venv's console scripts on ``PATH`` (one torch thread); ``python`` blocks run
in this process, in a fresh namespace.  An example fails the test if it exits non-zero, prints a
traceback or an ``error:`` line, or raises.

Every block that uses the demo's model must be marked, so that a new example cannot escape the
test; and the links from the README into recipes/RESULTS.md (and RESULTS' own links) must name
headings that exist.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import BIN, REPO

README = REPO / "README.md"
RESULTS = REPO / "recipes" / "RESULTS.md"
MARKER = "<!-- example -->"
DEMO_MODEL = "runs/demo/reencoder/model"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    marked: bool


def code_blocks(text: str) -> list[Block]:
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        line = text.count("\n", 0, match.start()) + 1
        blocks.append(Block(line, match.group(1), match.group(2), before == MARKER))
    return blocks


EXAMPLES = [b for b in code_blocks(README.read_text(encoding="utf-8")) if b.marked]


def test_examples_are_marked():
    """The README has examples, each a bash or python block, and every block that uses the
    demo's model is one of them."""
    blocks = code_blocks(README.read_text(encoding="utf-8"))
    assert len(EXAMPLES) >= 4, f"expected the README's examples, found {len(EXAMPLES)} marked blocks"
    assert all(b.lang in ("bash", "python") for b in EXAMPLES), [(b.line, b.lang) for b in EXAMPLES]
    unmarked = [b.line for b in blocks if DEMO_MODEL in b.code and not b.marked]
    assert not unmarked, f"README blocks at lines {unmarked} use {DEMO_MODEL} without {MARKER!r} before them"


@pytest.mark.parametrize("block", EXAMPLES, ids=[f"line{b.line}-{b.lang}" for b in EXAMPLES])
def test_readme_example_runs(block, tiny, tmp_path, monkeypatch, one_thread):
    code = block.code.replace(DEMO_MODEL, str(tiny.folder))
    monkeypatch.chdir(tmp_path)
    if block.lang == "python":
        # in this process: the imports a fresh interpreter would spend most of its time on are done
        exec(compile(code, f"README.md, line {block.line + 1}", "exec"), {"__name__": "__readme__"})
        return
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "OMP_NUM_THREADS": "1",
           "MPLBACKEND": "Agg"}
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    report = f"README.md line {block.line} (bash) failed:\n{code}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    assert proc.returncode == 0, report
    assert "Traceback" not in proc.stderr, report
    assert not re.search(r"^error: ", proc.stderr, re.M), report


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a file's headings: lower case, punctuation dropped (``-`` and
    ``_`` kept), spaces to ``-``; a repeated heading gets ``-1``, ``-2``, ..."""
    anchors, seen = set(), {}
    in_fence = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else re.match(r"^#{1,6}\s+(.*?)\s*#*$", line)
        if not match:
            continue
        slug = re.sub(r"[^\w\- ]", "", match.group(1).lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def test_results_links_resolve():
    readme = README.read_text(encoding="utf-8")
    results = RESULTS.read_text(encoding="utf-8")
    targets = {"README.md": github_anchors(readme), "RESULTS.md": github_anchors(results)}
    broken = []
    for name, text, own in (("README.md", readme, "README.md"), ("RESULTS.md", results, "RESULTS.md")):
        for link, anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", text):
            target = own if not link else Path(link).name
            if target in targets and anchor not in targets[target]:
                broken.append(f"{name}: {link}#{anchor}")
    assert not broken, "links to headings that do not exist:\n" + "\n".join(broken)
