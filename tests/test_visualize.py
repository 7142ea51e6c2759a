"""Heat-maps of the re-encoding grid, and training-curve plots from fairseq logs."""

import json

import matplotlib.image
import numpy as np
import pytest
import torch

from conftest import BIN
from eval import plot_training_curves as curves
from reencoder.cli import heatmap as heatmap_cli
from reencoder.grid.reencoder_grid import DEPTH
from reencoder.translate import Translator
from reencoder.visualize import depth_gate_preactivations, find_cjk_font, grid_heatmap, plot_heatmap
from translate_fixtures import build_tiny_model, single_thread

SRC, TGT = "我们明天去北京吧。", "Let's go to Beijing tomorrow."


_one_thread = pytest.fixture(scope="module", autouse=True)(single_thread)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, shared_data):
    return build_tiny_model(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def translator(tiny):
    return Translator.from_folder(tiny.folder, beam=1)


def pieces(translator, model_file, text):
    from data_prep import subwords

    return subwords.encode_lines(model_file, [text])[0].split(" ")


@pytest.mark.parametrize("quantity", ["target_state_change", "depth_gate"])
def test_heatmap_has_one_cell_per_source_and_target_piece(translator, quantity):
    heat = grid_heatmap(translator, SRC, TGT, quantity)
    src_pieces = pieces(translator, translator.spm_src, SRC)
    tgt_pieces = pieces(translator, translator.spm_tgt, TGT)
    assert heat.values.shape == (len(src_pieces) + 1, len(tgt_pieces) + 1)
    assert heat.src_labels[-1] == heat.tgt_labels[-1] == "</s>"
    assert [label.replace("(unk)", "") for label in heat.src_labels[:-1]] == src_pieces
    assert np.isfinite(heat.values).all()
    assert heat.depth == translator.models[0].decoder.grid.depth - 1
    if quantity == "depth_gate":
        assert ((heat.values > 0) & (heat.values < 1)).all()
    else:
        assert (heat.values >= 0).all() and heat.values.max() > 0


def test_recomputed_gates_reproduce_the_blocks_output(translator):
    """The depth gates the heat-map recomputes are the block's own: with the standard cell,
    h'_depth = o * tanh(m'_depth) must hold with the recomputed output gate o."""
    model = translator.models[0]
    grid = model.decoder.grid
    assert grid.blocks[0].cell == "standard"
    src = translator.encode([SRC])[0].unsqueeze(0)
    prev = torch.tensor([[translator.tgt_dict.eos(), 5, 6, 7]])
    checked = []

    def observer(coords, hs_in, hs_out, ms_out):
        for d in coords[:, DEPTH].unique().tolist():
            rows = (coords[:, DEPTH] == d).nonzero().flatten()
            block = grid.blocks[d] if len(grid.blocks) > 1 else grid.blocks[0]
            n = block.hidden_size
            pre = depth_gate_preactivations(block, [h[rows] for h in hs_in], [h[rows] for h in hs_out])
            o = torch.sigmoid(pre[..., 2 * n : 3 * n])
            torch.testing.assert_close(o * torch.tanh(ms_out[DEPTH][rows]), hs_out[DEPTH][rows])
            checked.append(rows.numel())

    with torch.no_grad():
        encoder_out = model.encoder(src, src_lengths=torch.tensor([src.shape[1]]))
        plain, _ = model.decoder(prev, encoder_out)
        observed, _ = model.decoder(prev, encoder_out, observer=observer)
    assert sum(checked) == src.shape[1] * prev.shape[1] * grid.depth
    assert torch.equal(plain, observed)  # observing changes nothing


def test_heatmap_cli_writes_png_and_values(tiny, tmp_path, capsys):
    assert (BIN / "reencoder-heatmap").exists()
    png, values = tmp_path / "grid.png", tmp_path / "grid.json"
    assert heatmap_cli.main(["--model", str(tiny.folder), "--src", SRC, "--tgt", TGT, "--quantity", "depth_gate",
                             "--gate", "input", "--depth", "0", "--out", str(png), "--values", str(values)]) == 0
    image = matplotlib.image.imread(png)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    data = json.loads(values.read_text(encoding="utf-8"))
    assert data["depth"] == 0 and data["quantity"] == "depth input gate"
    assert np.array(data["values"]).shape == (len(data["src_labels"]), len(data["tgt_labels"]))
    assert "wrote" in capsys.readouterr().out
    assert heatmap_cli.main(["--model", str(tiny.folder), "--src", "", "--tgt", TGT, "--out", str(png)]) == 2
    assert capsys.readouterr().err.strip() == "error: source and target must both be non-empty"


def test_plot_without_a_cjk_font_falls_back(translator, tmp_path):
    heat = grid_heatmap(translator, SRC, TGT)
    out = plot_heatmap(heat, tmp_path / "nofont.png", font=None)
    assert matplotlib.image.imread(out).shape[2] in (3, 4)
    assert find_cjk_font() is None or isinstance(find_cjk_font(), str)
    wide = plot_heatmap(heat, tmp_path / "auto.png")  # whatever this machine has
    assert wide.exists()


SIMPLE_LOG = """\
2026-11-22 05:36:08 | INFO | train_inner | epoch 001:      5 / 9 loss=9.747, ppl=107.4, wps=163.7, ups=0.25, wpb=649.9, bsz=68.8, num_updates=5, lr=0.03, gnorm=0.274, clip=0, train_wall=40, wall=66
2026-11-22 05:36:14 | INFO | train | epoch 001 | loss 9.5 | ppl 104.53 | wps 574.5 | ups 0.92 | wpb 624.4 | bsz 66.7 | num_updates 9 | lr 0.03 | gnorm 0.215 | clip 0 | train_wall 10 | wall 71
2026-11-22 05:34:39 | INFO | valid | epoch 001 | valid on 'valid' subset | loss 8.647 | ppl 100.19 | bleu 1.25 | wps 0 | wpb 474 | bsz 48 | num_updates 9 | best_loss 8.647
2026-11-22 05:36:20 | INFO | train_inner | epoch 002:      1 / 9 loss=8.1, ppl=107.4, num_updates=10, lr=0.03
some unrelated line | train | nothing here
"""
JSON_LOG = """\
2026-11-22 05:40:00 | INFO | train_inner | {"epoch": 1, "update": 0.556, "loss": "9.7", "ppl": "832", "num_updates": "5"}
2026-11-22 05:40:01 | INFO | train | {"epoch": 1, "train_loss": "9.5", "train_ppl": "724", "train_num_updates": "9"}
2026-11-22 05:40:02 | INFO | valid | {"epoch": 1, "valid_loss": "8.6", "valid_bleu": "2.5", "valid_num_updates": "9"}
"""
# the same kinds of records as fairseq-train's --log-file writes them (no "time | INFO | tag |")
LOG_FILE_SIMPLE = """\
begin validation on "valid" subset
epoch 001:     10 / 516 loss=11.961, nll_loss=11.961, ppl=3986.58, wps=771.8, num_updates=10, lr=0.0008
epoch 001 | valid on 'valid' subset | loss 10.694 | nll_loss 10.542 | ppl 1491.11 | num_updates 20
epoch 001 | loss 9.978 | nll_loss 9.607 | ppl 779.69 | num_updates 60 | lr 0.00365148
done training in 39.6 seconds
"""
LOG_FILE_JSON = """\
{"epoch": 1, "update": 0.556, "loss": "9.7", "num_updates": "5"}
{"epoch": 1, "valid_loss": "8.6", "valid_num_updates": "9"}
{"epoch": 1, "train_loss": "9.5", "train_num_updates": "9"}
"""


def test_training_curves_read_fairseq_log_files():
    assert curves.parse_log(LOG_FILE_SIMPLE) == {"train_inner": [(10, 11.961)], "valid": [(20, 10.694)],
                                                 "train": [(60, 9.978)]}
    assert curves.parse_log(LOG_FILE_JSON) == {"train_inner": [(5, 9.7)], "valid": [(9, 8.6)], "train": [(9, 9.5)]}


def test_training_curves_parse_simple_and_json_logs(tmp_path):
    simple = curves.parse_log(SIMPLE_LOG)
    assert simple == {"train_inner": [(5, 9.747), (10, 8.1)], "train": [(9, 9.5)], "valid": [(9, 8.647)],
                      "valid_bleu": [(9, 1.25)]}
    parsed = curves.parse_log(JSON_LOG)
    assert parsed == {"train_inner": [(5, 9.7)], "train": [(9, 9.5)], "valid": [(9, 8.6)], "valid_bleu": [(9, 2.5)]}
    (tmp_path / "a.log").write_text(SIMPLE_LOG)
    (tmp_path / "b.log").write_text(JSON_LOG)
    out = tmp_path / "curves.png"
    assert curves.main([str(tmp_path / "a.log"), str(tmp_path / "b.log"), "--labels", "A", "B", "--out", str(out)]) == 0
    assert curves.valid_table([("A", simple), ("B", parsed)]).splitlines() == [
        "| updates | A valid loss | B valid loss |", "|---:|---:|---:|", "| 9 | 8.647 | 8.600 |"]
    assert matplotlib.image.imread(out).shape[1] > 500
    (tmp_path / "empty.log").write_text("nothing\n")
    assert curves.main([str(tmp_path / "empty.log"), "--out", str(out)]) == 2
