"""Heat-maps of the re-encoding grid of a real (tiny) trained model, through the API and the CLI."""

import json

import matplotlib.image
import numpy as np
import pytest
import torch

from reencoder.cli import heatmap as heatmap_cli
from reencoder.grid.reencoder_grid import DEPTH
from reencoder.translate import Translator
from reencoder.visualize import depth_gate_preactivations, grid_heatmap
from tests.helpers import BIN

SRC, TGT = "我们明天去北京吧。", "Let's go to Beijing tomorrow."


pytestmark = pytest.mark.usefixtures("one_thread")


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
    # observing changes nothing but the runner: an observed grid runs through the autograd
    # runner (run_grid), which computes the same function as the fused one in another order
    torch.testing.assert_close(observed, plain, rtol=1e-4, atol=1e-4)


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
