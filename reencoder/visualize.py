"""Seeing the re-encoding: per-cell quantities of the teacher-forced 3D grid, as heat-maps.

The grid has a cell ``(i, j, d)`` for every source piece ``i``, target row ``j`` and depth
``d`` (see :mod:`reencoder.grid.reencoder_grid`).  Row ``j`` re-reads the source while predicting
target piece ``j``.  At one depth (default: the top) we collect, per cell ``(i, j)``:

* ``target_state_change``: ``||h'_j - h_j||``, the norm of the change the cell makes to the
  hidden vector passed along the target axis (how much re-reading source piece ``i`` while
  predicting target piece ``j`` rewrites what the next row will see);
* ``depth_gate``: the mean activation of the depth transform's forget gate (``--gate
  forget``: how much of the memory coming from below is kept) or input gate (``--gate
  input``: how much new content is written) over the n units.

Both come from the observer of :func:`reencoder.grid.wavefront.run_grid` (every grid given an
observer runs through it: :meth:`reencoder.grid.grid_stack.DepthGridStack.run`), which sees every
hyperplane of cells with their incoming and outgoing hidden vectors.  The gates are *recomputed* from
those vectors with the block's own weights (the same ``linear`` the block applies), so the
model code runs unchanged; :func:`depth_gate_preactivations` documents the exact inputs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from data_prep import subwords
from data_prep.cleaning import normalize
from data_prep.foundation import atomic_path

from .cjk_font import packaged_cjk_font
from .grid.reencoder_grid import DEPTH, SRC, TGT

QUANTITIES = ("target_state_change", "depth_gate")
GATES = {"input": 0, "forget": 1, "output": 2}
#: Font families with CJK glyphs, tried in order (Debian: fonts-noto-cjk, fonts-wqy-*, ...).
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Serif CJK SC", "Source Han Sans SC",
             "Source Han Sans CN", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "AR PL UMing CN",
             "AR PL UKai CN", "Droid Sans Fallback", "SimHei", "Microsoft YaHei", "PingFang SC",
             "Heiti SC", "Arial Unicode MS")

#: File-name fragments of CJK font files (for fonts matplotlib's cached list does not know).
CJK_FILE_HINTS = ("notosanscjk", "notoserifcjk", "wqy-", "sourcehan", "droidsansfallback", "uming", "ukai",
                  "simhei", "msyh", "pingfang")


@dataclass
class GridHeatmap:
    """``values[i, j]``: the quantity at source piece ``i``, target row ``j``, one depth."""

    values: np.ndarray
    src_labels: List[str]
    tgt_labels: List[str]
    quantity: str
    depth: int
    meta: Dict[str, object] = field(default_factory=dict)


def depth_gate_preactivations(block, hs_in: Sequence[Tensor], hs_out: Sequence[Tensor]) -> Tensor:
    """The depth transform's gate pre-activations ``[..., 4n]`` (layout ``u | f | o | c``), with
    the rows of the block's matrices that its :attr:`~reencoder.grid.grid_lstm.GridLSTMBlock.layout`
    names for the depth dimension (its own, the first transforms' matrix it shares (§3.4), or its
    slice of the first GEMM's).

    With depth as the priority dimension (the default) the depth LSTM sees the *updated*
    source and target hidden vectors and the incoming depth vector,
    ``H' = [h'_src; h'_tgt; h_depth]`` (paper §3.5); otherwise all three incoming vectors
    (eq. 4).
    """
    transform = block.layout.transform_of(DEPTH)
    if not transform.lstm:
        raise ValueError("the depth dimension of this model has no gates (non-LSTM transform)")
    if block.layout.priority_dim == DEPTH:
        H = torch.cat([hs_out[SRC], hs_out[TGT], hs_in[DEPTH]], dim=-1)
    else:
        H = torch.cat(list(hs_in), dim=-1)  # depth is one of the first (non-priority) transforms
    weight, bias = block.transform_params(transform)
    return F.linear(H, weight, bias)


class _Collector:
    """Observer for :func:`reencoder.grid.wavefront.run_grid`: one value per cell at one depth."""

    def __init__(self, grid, shape: Tuple[int, int], depth: int, quantity: str, gate: str):
        self.grid, self.depth, self.quantity, self.gate = grid, depth, quantity, gate
        self.values = np.full(shape, np.nan, dtype=np.float64)

    def __call__(self, coords: Tensor, hs_in, hs_out, ms_out) -> None:
        rows = (coords[:, DEPTH] == self.depth).nonzero().flatten()
        if rows.numel() == 0:
            return
        pick = lambda ts: [t.index_select(0, rows) for t in ts]  # noqa: E731
        h_in, h_out = pick(hs_in), pick(hs_out)
        if self.quantity == "target_state_change":
            value = (h_out[TGT] - h_in[TGT]).norm(dim=-1)  # [cells, B]
        else:
            blocks = self.grid.blocks
            block = blocks[self.depth] if len(blocks) > 1 else blocks[0]
            n = block.hidden_size
            g = GATES[self.gate]
            pre = depth_gate_preactivations(block, h_in, h_out)
            value = torch.sigmoid(pre[..., g * n : (g + 1) * n]).mean(dim=-1)
        cells = coords.index_select(0, rows)
        for (i, j), v in zip(cells[:, :2].tolist(), value[:, 0].tolist()):
            self.values[i, j] = v


def _piece_ids(dictionary, pieces: List[str]) -> torch.Tensor:
    return torch.tensor([dictionary.index(p) for p in pieces] + [dictionary.eos()], dtype=torch.long)


@torch.inference_mode()
def grid_heatmap(translator, src: str, tgt: str, quantity: str = "target_state_change",
                 depth: Optional[int] = None, gate: str = "forget") -> GridHeatmap:
    """Run the teacher-forced grid of ``translator``'s first model on one sentence pair.

    ``src`` is raw Chinese (normalised like every input), ``tgt`` raw English (NFKC-normalised
    and spm-encoded).  ``depth`` is 0-based, default the top layer; negative counts from the
    top.  Rows are the source pieces plus ``</s>`` in sentence order (also for a model that
    lays the source reversed: its grid rows are flipped back), columns the target pieces plus
    ``</s>`` (column ``j`` is the row of the grid that predicts target piece ``j``).
    """
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {QUANTITIES}, got {quantity!r}")
    if gate not in GATES:
        raise ValueError(f"gate must be one of {sorted(GATES)}, got {gate!r}")
    model = translator.models[0]
    grid = model.decoder.grid
    D = grid.depth
    depth = D - 1 if depth is None else depth
    if depth < 0:
        depth += D
    if not 0 <= depth < D:
        raise ValueError(f"depth must be in [0, {D}) for this model, got {depth}")
    src_text, tgt_text = translator.normalize(src), normalize(tgt)
    if not src_text or not tgt_text:
        raise ValueError("source and target must both be non-empty")
    src_limit = translator.max_source_tokens - 1
    tgt_limit = model.decoder.max_positions() - 1
    src_pieces = subwords.encode_lines(translator.spm_src, [src_text])[0].split(" ")[:src_limit]
    tgt_pieces = subwords.encode_lines(translator.spm_tgt, [tgt_text])[0].split(" ")[:tgt_limit]
    src_ids = _piece_ids(translator.src_dict, src_pieces).unsqueeze(0)
    tgt_ids = _piece_ids(translator.tgt_dict, tgt_pieces)
    prev = torch.cat([tgt_ids.new_tensor([translator.tgt_dict.eos()]), tgt_ids[:-1]]).unsqueeze(0)
    collector = _Collector(grid, (src_ids.shape[1], prev.shape[1]), depth, quantity, gate)
    model.eval()
    encoder_out = model.encoder(src_ids, src_lengths=torch.tensor([src_ids.shape[1]]))
    logits, _ = model.decoder(prev, encoder_out, observer=collector)
    lprobs = torch.log_softmax(logits.float(), dim=-1)[0].gather(-1, tgt_ids.unsqueeze(-1)).squeeze(-1)
    unk = lambda d, ids, pieces: [p if i != d.unk() else f"{p}(unk)" for p, i in zip(pieces, ids.tolist())]  # noqa: E731
    values = collector.values
    if getattr(model.encoder, "reverse", False):  # grid position i holds source piece S-1-i
        values = values[::-1].copy()
    return GridHeatmap(
        values=values,
        src_labels=unk(translator.src_dict, src_ids[0], src_pieces) + ["</s>"],
        tgt_labels=unk(translator.tgt_dict, tgt_ids, tgt_pieces) + ["</s>"],
        quantity=quantity if quantity != "depth_gate" else f"depth {gate} gate",
        depth=depth,
        meta={"target_logprob": float(lprobs.sum()), "depth_layers": D},
    )


def find_cjk_font() -> Optional[str]:
    """The family name of an installed font with CJK glyphs, or None.

    Looks at matplotlib's font list first, then at the font ``make install`` brings
    (:func:`reencoder.cjk_font.packaged_cjk_font`), then at the system's font files (matplotlib
    caches its list, so a font installed later is only found there) and registers the first CJK
    file it finds.
    """
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in installed:
            return name
    for name in sorted(installed):  # any other family that says it is CJK
        if "CJK" in name or "Hei" in name:
            return name
    packaged = packaged_cjk_font()
    if packaged is not None:
        return packaged
    try:
        files = sorted(font_manager.findSystemFonts())
    except Exception:  # noqa: BLE001  (no fontconfig, unreadable folders: no CJK font then)
        return None
    for path in files:
        lowered = Path(path).name.lower()
        if any(hint in lowered for hint in CJK_FILE_HINTS):
            try:
                font_manager.fontManager.addfont(path)
                return font_manager.FontProperties(fname=path).get_name()
            except Exception:  # noqa: BLE001  (a broken font file: try the next)
                continue
    return None


def _escape(label: str) -> str:
    """Characters DejaVu Sans lacks (CJK and beyond) as ``\\uXXXX``: readable, no boxes."""
    return "".join(ch if ord(ch) < 0x2E80 else f"\\u{ord(ch):04x}" for ch in label)


def axis_labels(heatmap: GridHeatmap, font: Optional[str]) -> Tuple[List[str], List[str], str]:
    """``(source labels, target labels, note)`` as drawn with the CJK font family ``font``;
    without one (``None``) CJK characters become ``\\uXXXX`` escapes and the note says why."""
    if font is not None:
        return heatmap.src_labels, heatmap.tgt_labels, ""
    note = "\n(no CJK font found: CJK shown as \\u escapes; make install brings one)"
    return [_escape(s) for s in heatmap.src_labels], [_escape(s) for s in heatmap.tgt_labels], note


def plot_heatmap(heatmap: GridHeatmap, out, title: Optional[str] = None, font: Optional[str] = "auto") -> Path:
    """Draw ``heatmap`` (source pieces down, target pieces across) into a PNG, atomically.

    ``font``: a CJK font family for the labels; ``"auto"`` searches the installed fonts
    (:func:`find_cjk_font`); without one, CJK characters are shown as ``\\uXXXX`` escapes.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    font = find_cjk_font() if font == "auto" else font
    S, T = heatmap.values.shape
    src_labels, tgt_labels, note = axis_labels(heatmap, font)
    families = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    fig, ax = plt.subplots(figsize=(min(2.5 + 0.42 * T, 30), min(2.0 + 0.36 * S, 30)))
    image = ax.imshow(np.ma.masked_invalid(heatmap.values), aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_xticks(range(T))
    ax.set_yticks(range(S))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Glyph missing" if a family lacks a rare character
        ax.set_xticklabels(tgt_labels, rotation=90, fontfamily=families)
        ax.set_yticklabels(src_labels, fontfamily=families)
        ax.set_xlabel("target piece (grid row j predicting it)")
        ax.set_ylabel("source piece i")
        fig.colorbar(image, ax=ax, label=heatmap.quantity)
        ax.set_title((title or f"{heatmap.quantity}, depth {heatmap.depth}") + note, fontsize=9)
        fig.tight_layout()
        try:
            with atomic_path(out, suffix=".png") as tmp:
                fig.savefig(tmp, dpi=100)
        finally:
            plt.close(fig)
    return out
