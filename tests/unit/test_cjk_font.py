"""The CJK font that `make install` brings (reencoder/cjk_font.py): installed, with glyphs for
Chinese, registered with matplotlib, and drawn without missing glyphs."""

import io
import warnings

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from reencoder import cjk_font  # noqa: E402


def installed_font():
    path = cjk_font.packaged_font_file()
    assert path is not None, f"{cjk_font.PACKAGE} is not installed: run make install (requirements.txt pins it)"
    return path


def test_the_packaged_font_has_glyphs_for_chinese():
    path = installed_font()
    assert cjk_font.missing_glyphs(path) == ""  # FT2Font.get_char_index != 0 for each of 我们明天去北京吧
    assert cjk_font.missing_glyphs(path, "▁Let's go") == ""  # sentencepiece's marker and Latin too
    # the check itself tells a font without them (matplotlib's own DejaVu Sans)
    dejavu = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans"), fallback_to_default=False)
    assert cjk_font.missing_glyphs(dejavu) == cjk_font.SAMPLE


def test_it_is_registered_with_matplotlib_once():
    path = installed_font()
    name = cjk_font.packaged_cjk_font()
    assert name == "Noto Sans SC"
    found = font_manager.findfont(font_manager.FontProperties(family=name), fallback_to_default=False)
    assert found == str(path)
    cjk_font.packaged_cjk_font()
    assert sum(f.fname == str(path) for f in font_manager.fontManager.ttflist) == 1


def test_chinese_labels_are_drawn_without_missing_glyphs():
    name = cjk_font.packaged_cjk_font()
    assert name is not None, "run make install"
    fig = Figure()
    ax = fig.add_subplot()
    ax.set_xticks([0, 1], [cjk_font.SAMPLE, "▁Let"], fontfamily=[name, "DejaVu Sans"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
        fig.savefig(io.BytesIO(), format="png")


def test_without_the_package_there_is_no_packaged_font(monkeypatch):
    monkeypatch.setattr(cjk_font.importlib.util, "find_spec", lambda name: None)
    assert cjk_font.packaged_font_file() is None and cjk_font.packaged_cjk_font() is None
