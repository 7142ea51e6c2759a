"""The CJK font that ``make install`` brings, for the heat maps' Chinese labels on any machine.

A fresh machine has no font with CJK glyphs (matplotlib ships DejaVu only), so the labels of
``reencoder-heatmap`` would fall back to ``\\u6211`` escapes.  ``make install`` therefore installs
:data:`PACKAGE` from PyPI (pinned in ``requirements.txt``): Noto Sans SC Regular, an OpenType
font of the Noto CJK project (SIL Open Font License) that FreeType, hence matplotlib, reads
directly.  :func:`packaged_cjk_font` registers it with matplotlib and returns its family name;
without the package it returns ``None`` and the caller keeps looking (system fonts, then escapes).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Optional

#: the PyPI distribution (import name ``pylopdf_fonts_zh_cn``) and the font file it ships
PACKAGE = "pylopdf-fonts-zh-cn"
MODULE = "pylopdf_fonts_zh_cn"
FONT_FILE = "NotoSansSC-Regular.otf"
#: a sentence every CJK font for the labels must cover
SAMPLE = "我们明天去北京吧"


def packaged_font_file() -> Optional[Path]:
    """The installed font file, or ``None`` when the package is not installed."""
    spec = importlib.util.find_spec(MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / FONT_FILE
        if path.is_file():
            return path
    return None


def missing_glyphs(path, text: str = SAMPLE) -> str:
    """The characters of ``text`` the font file at ``path`` has no glyph for (FreeType's view)."""
    from matplotlib.ft2font import FT2Font

    font = FT2Font(str(path))
    return "".join(ch for ch in text if font.get_char_index(ord(ch)) == 0)


def packaged_cjk_font() -> Optional[str]:
    """The family name of the packaged CJK font, registered with matplotlib's font manager
    (once), or ``None`` when it is not installed or cannot be read."""
    path = packaged_font_file()
    if path is None:
        return None
    from matplotlib import font_manager

    try:
        if not any(getattr(f, "fname", None) == str(path) for f in font_manager.fontManager.ttflist):
            font_manager.fontManager.addfont(str(path))
        return font_manager.FontProperties(fname=str(path)).get_name()
    except Exception:  # noqa: BLE001  (an unreadable file: no packaged font then)
        return None
