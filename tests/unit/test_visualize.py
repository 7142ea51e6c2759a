"""Heat-map drawing without a model: CJK labels fall back to escapes when no CJK font is found,
and the font search itself."""

from types import SimpleNamespace

import matplotlib.image
import numpy as np

from reencoder.visualize import GridHeatmap, axis_labels, find_cjk_font, plot_heatmap


def heatmap():
    return GridHeatmap(values=np.arange(6, dtype=float).reshape(3, 2), src_labels=["我们", "走(unk)", "</s>"],
                       tgt_labels=["▁Let", "</s>"], quantity="target_state_change", depth=0)


def test_without_a_cjk_font_cjk_labels_become_escapes():
    src, tgt, note = axis_labels(heatmap(), None)
    assert src == ["\\u6211\\u4eec", "\\u8d70(unk)", "</s>"] and tgt == ["▁Let", "</s>"]
    assert "no CJK font found" in note
    assert axis_labels(heatmap(), "Noto Sans CJK SC") == (heatmap().src_labels, heatmap().tgt_labels, "")


def test_find_cjk_font_prefers_known_families_and_says_none(monkeypatch):
    from matplotlib import font_manager

    fonts = lambda *names: [SimpleNamespace(name=n) for n in names]  # noqa: E731
    monkeypatch.setattr(font_manager.fontManager, "ttflist", fonts("DejaVu Sans", "Noto Sans CJK JP"))
    assert find_cjk_font() == "Noto Sans CJK JP"
    monkeypatch.setattr(font_manager.fontManager, "ttflist", fonts("DejaVu Sans"))
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda: ["/usr/share/fonts/DejaVuSans.ttf"])
    monkeypatch.setattr("reencoder.visualize.packaged_cjk_font", lambda: None)
    assert find_cjk_font() is None


def test_plot_without_a_cjk_font_falls_back(tmp_path):
    out = plot_heatmap(heatmap(), tmp_path / "nofont.png", font=None)
    assert matplotlib.image.imread(out).shape[2] in (3, 4)
    wide = plot_heatmap(heatmap(), tmp_path / "auto.png")  # whatever this machine has
    assert wide.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["auto.png", "nofont.png"]  # written atomically
