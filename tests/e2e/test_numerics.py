"""NaN/inf during training is reported with the batch that caused it (fp32 and bf16 paths);
the grid's and the output layer's bf16 GEMMs (``--grid-bf16``, ``--output-layer-bf16``,
``--output-layer-bf16-inputs``) stay
close to fp32, follow the hardware under ``auto``, and decode with cached bf16 weights that never
go stale."""

import re

import pytest
import torch

from reencoder.loading import PLUGIN_DIR
from tests.helpers import run_cli
from tests.model_helpers import batches, build_task_and_model, mixed_batch


def diverging_run(tiny_bin, save_dir, extra):
    """An absurd learning rate: the weights overflow after the first update."""
    return run_cli(["fairseq-train", tiny_bin / "bin", "--user-dir", PLUGIN_DIR, "--arch", "reencoder_tiny",
                    "--task", "translation", "--source-lang", "zh", "--target-lang", "en", "--cpu",
                    "--optimizer", "adam", "--lr", "1e30", "--max-tokens", "500", "--max-update", "20",
                    "--save-dir", save_dir, "--no-progress-bar", *extra], check=False)


@pytest.mark.parametrize("bf16", [False, True], ids=["fp32", "bf16-grid"])
def test_divergence_names_the_batch(tiny_bin, tmp_path, bf16):
    proc = diverging_run(tiny_bin, tmp_path / "ckpt", ["--grid-bf16", "always"] if bf16 else [])
    assert proc.returncode != 0
    err = proc.stdout + proc.stderr
    assert ("grid_bf16='always'" in err) == bf16  # the run's logged config: the case is what it says
    m = re.search(r"FloatingPointError: non-finite logits \(NaN/inf, dtype torch\.(\w+)\) for (\d+) of (\d+) "
                  r"sentences of this batch: rows \[[\d, ]+\].*; source token ids of row \d+: \[[\d, ]+\]", err)
    assert m, err[-2000:]
    # the logits are float32 either way: the bf16 grid's output is cast back before the softmax head
    assert m.group(1) == "float32" and 1 <= int(m.group(2)) <= int(m.group(3))
    assert (tmp_path / "ckpt" / "crash.pt").exists()  # fairseq's crash checkpoint for post-mortem


#: each bf16 flag, on a model whose every GEMM it covers runs (the attention readout included)
BF16_FLAGS = {"grid": "--grid-bf16", "output-layer": "--output-layer-bf16", "output-inputs": "--output-layer-bf16-inputs"}
ATTN = ["--grid-readout", "attn", "--decoder-out-embed-dim", "24"]  # readout, projection, fc_out with bias


@pytest.mark.parametrize("flag", list(BF16_FLAGS.values()), ids=list(BF16_FLAGS))
def test_bf16_gemms_match_fp32_to_bf16_precision(tiny_bin, flag):
    _, task, model = build_task_and_model(tiny_bin / "bin", extra=ATTN)
    _, _, model_bf16 = build_task_and_model(tiny_bin / "bin", extra=[*ATTN, flag, "always"])
    model_bf16.load_state_dict(model.state_dict())
    sample = mixed_batch(task, "valid", [0, 4, 9, 13])
    with torch.no_grad():
        a, _ = model.eval()(**sample["net_input"])
        b, _ = model_bf16.eval()(**sample["net_input"])
    assert b.dtype == torch.float32
    assert (a - b).abs().max() < 0.05 * a.abs().max()  # bf16 has ~3 significant digits
    assert not torch.equal(a, b)  # the flag really changes the arithmetic


@pytest.mark.parametrize("flag", list(BF16_FLAGS.values()), ids=list(BF16_FLAGS))
@pytest.mark.parametrize("flags,native", [({"avx2"}, False), ({"avx2", "avx512f", "avx512_bf16"}, True),
                                          ({"avx2", "avx512f", "amx_bf16"}, True)], ids=["avx2", "avx512_bf16", "amx"])
def test_bf16_auto_follows_the_hardware(tiny_bin, monkeypatch, flags, native, flag):
    """``auto``: bf16 GEMMs for float32 models exactly where the CPU has AMX or AVX512-BF16 (the
    output layer's bf16-input kernel only with AVX512-BF16 and without AMX, where it beats fp32);
    float64 models and ``never`` stay exact."""
    from reencoder.grid import hardware

    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset(flags))
    assert hardware.native_bf16(torch.device("cpu"))[0] == native
    if flag == BF16_FLAGS["output-inputs"]:
        native = "avx512_bf16" in flags and "amx_bf16" not in flags
        assert hardware.bf16_dot_kernel_pays(torch.device("cpu"))[0] == native
    _, task, exact = build_task_and_model(tiny_bin / "bin", extra=[*ATTN, flag, "never"])
    _, _, auto = build_task_and_model(tiny_bin / "bin", extra=[*ATTN, flag, "auto"])
    auto.load_state_dict(exact.state_dict())
    sample = mixed_batch(task, "valid", [0, 4, 9, 13])
    with torch.no_grad():
        a, _ = exact.eval()(**sample["net_input"])
        b, _ = auto.eval()(**sample["net_input"])
        a64, _ = exact.double()(**sample["net_input"])
        b64, _ = auto.double()(**sample["net_input"])
    assert torch.equal(a, b) != native
    assert torch.equal(a64, b64)


def decode_rows(model, net, copies=True):
    """The decoder's logits one row at a time (fairseq's incremental decoding); ``copies=False``:
    the bf16 weights cast afresh at every step instead of once per decoding run."""
    enc = model.encoder(net["src_tokens"], net["src_lengths"])
    state, steps, prev = {}, [], net["prev_output_tokens"]
    if not copies:
        model.decoder.weight_copies = lambda incremental_state: None
    try:
        for t in range(prev.shape[1]):
            steps.append(model.decoder(prev[:, : t + 1], encoder_out=enc, incremental_state=state)[0])
    finally:
        model.decoder.__dict__.pop("weight_copies", None)
    return torch.cat(steps, dim=1), state


#: decoder layouts whose bf16 weights are copied: the attention readout, a projection before the
#: output layer, and the output layer's weights packed for its bf16-input forward
BF16_OUT = ["--output-layer-bf16", "always"]
COPIED = {"attn": ([*ATTN, *BF16_OUT], {"readout.query.weight", "readout.out.weight", "readout.out.bias",
                                        "fc_out.weight", "fc_out.bias"}),
          "projection": (["--decoder-out-embed-dim", "24", *BF16_OUT], {"out_proj.weight", "fc_out.weight", "fc_out.bias"}),
          "bf16-inputs": ([*ATTN, "--output-layer-bf16-inputs", "always"], {"fc_out.packed"})}


@pytest.mark.parametrize("layout", list(COPIED))
def test_decoding_reuses_bf16_weights_within_one_run_and_never_a_stale_copy(tiny_bin, layout):
    """The output layer's and readout's bf16 weights (and the grid's row-step matrices) are cast
    (or packed) once per decoding run (kept in its incremental state) and give exactly the logits of casting at every step; after
    the weights change in place (an optimizer step writes through ``p.data``, which no version
    counter sees), the next decoding run uses the new weights."""
    extra, names = COPIED[layout]
    _, task, model = build_task_and_model(tiny_bin / "bin", extra=extra)
    model.eval()
    net = batches(task, "valid", max_sentences=6)[1]["net_input"]
    with torch.no_grad():
        cached, state = decode_rows(model, net)
        fresh, _ = decode_rows(model, net, copies=False)
        full, _ = model(**net)
        copies = next(v for k, v in state.items() if k.endswith("weight_copies"))
        grid_rows = {k for k in copies if k.startswith("grid_row_")}  # the row step's prepared matrices
        assert set(copies) - grid_rows == names and grid_rows
        assert all(copies[k].dtype == torch.bfloat16 for k in names if not k.endswith(".packed"))
        torch.testing.assert_close(cached, fresh, rtol=0, atol=0)
        assert (cached - full).abs().max() < 0.05 * full.abs().max()  # row by row = whole grid, to bf16
        for p in model.parameters():
            p.data.mul_(1.5)
        after, _ = decode_rows(model, net)
        after_fresh, _ = decode_rows(model, net, copies=False)
        torch.testing.assert_close(after, after_fresh, rtol=0, atol=0)
        assert not torch.equal(after, cached)


def test_bf16_output_grads_keep_the_logits_and_change_only_the_backward(tiny_bin):
    """``--output-layer-bf16-grads always``: a training forward gives exactly the fp32 logits and
    loss; the gradients (the tied embedding's, which the output layer's backward writes) are the
    fp32 ones to bf16 precision."""
    _, task, exact = build_task_and_model(tiny_bin / "bin", extra=[*ATTN, "--output-layer-bf16-grads", "never"])
    _, _, cast = build_task_and_model(tiny_bin / "bin", extra=[*ATTN, "--output-layer-bf16-grads", "always"])
    cast.load_state_dict(exact.state_dict())
    sample = mixed_batch(task, "valid", [0, 4, 9, 13])
    results = []
    for model in (exact, cast):
        model.train()
        torch.manual_seed(0)  # the same dropout masks
        logits, _ = model(**sample["net_input"])
        logits.logsumexp(-1).sum().backward()
        results.append((logits.detach(), model.decoder.fc_out.weight.grad.clone()))
    (a, ga), (b, gb) = results
    assert torch.equal(a, b)
    assert not torch.equal(ga, gb)
    assert (ga - gb).abs().max() < 0.02 * ga.abs().max()


def test_bf16_output_inputs_give_the_same_logits_in_training_and_decoding(tiny_bin):
    """``--output-layer-bf16-inputs always``: the training forward (autograd's path) and evaluation
    give the same logits, and decoding row by row those of the whole grid to fp32 rounding (the
    sums stay fp32)."""
    _, task, model = build_task_and_model(tiny_bin / "bin", extra=COPIED["bf16-inputs"][0])
    net = batches(task, "valid", max_sentences=6)[1]["net_input"]
    with torch.no_grad():
        full, _ = model.eval()(**net)
        rows, _ = decode_rows(model, net)
    torch.testing.assert_close(rows, full, rtol=1e-5, atol=1e-5)
    logits, _ = model.train()(**net)  # reencoder_tiny has no dropout: training's logits are evaluation's
    assert "Bf16OperandLinear" in type(logits.grad_fn).__name__
    torch.testing.assert_close(logits.detach(), full, rtol=0, atol=0)
