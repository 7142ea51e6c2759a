"""The Reencoder fairseq model: padding invariance, incremental == full, beam search scores."""

import pytest
import torch
from fairseq.sequence_generator import SequenceGenerator

from tests.model_helpers import batches, build_task_and_model, mixed_batch, target_log_probs

# every readout and source input the model offers: the equivalence tests below run on each
VARIANTS = {
    "paper": [],
    "max": ["--grid-readout", "max"],
    "attn": ["--grid-readout", "attn"],
    "attn-bilstm": ["--grid-readout", "attn", "--grid-source-input", "bilstm"],
    # paper §3.4 + §3.6: source and target share one set of gates, depth is h' = tanh(V H')
    "attn-shared-dims-tanh-depth": ["--grid-readout", "attn", "--grid-shared-dims", "--grid-depth-transform", "tanh"],
    # the readout also pools the source words with its attention weights (a lexical path)
    "attn-source-words": ["--grid-readout", "attn", "--grid-readout-source-words"],
}


@pytest.fixture(scope="module", params=list(VARIANTS))
def tiny_flags(request):
    return ["--grid-depth", "3", *VARIANTS[request.param]]


@pytest.fixture(scope="module")
def tiny(tiny_bin, tiny_flags):
    args, task, model = build_task_and_model(tiny_bin / "bin", extra=tiny_flags)
    model = model.double().eval()
    for p in model.parameters():  # larger weights than the init, so differences show
        torch.nn.init.normal_(p, std=0.3)
    return task, model


def test_the_bilstm_source_input_has_half_the_embedding_in_each_direction(tiny_bin):
    _, _, model = build_task_and_model(tiny_bin / "bin", extra=["--grid-source-input", "bilstm"])
    embed = model.encoder.embed_tokens.embedding_dim
    assert model.encoder.lstm.hidden_size == embed // 2 and model.encoder.proj.in_features == embed


def sentence_alone(sample, b, pad):
    """The b-th item of a collated batch as a batch of one, all padding removed."""
    src = sample["net_input"]["src_tokens"][b]
    src = src[src.ne(pad)].unsqueeze(0)
    tgt = sample["target"][b]
    keep = tgt.ne(pad)
    prev = sample["net_input"]["prev_output_tokens"][b][keep].unsqueeze(0)
    return {
        "net_input": {"src_tokens": src, "src_lengths": torch.tensor([src.shape[1]]), "prev_output_tokens": prev},
        "target": tgt[keep].unsqueeze(0),
    }


def test_padded_batch_equals_each_sentence_alone(tiny):
    task, model = tiny
    pad = task.source_dictionary.pad()
    sample = mixed_batch(task, "valid", [0, 5, 11, 17, 23, 40, 52])
    src = sample["net_input"]["src_tokens"]
    assert src.eq(pad).any(), "the batch must actually contain padding"
    assert src[:, 0].eq(pad).any(), "fairseq left-pads sources"
    with torch.no_grad():
        batched = target_log_probs(model, sample)
        for b in range(src.shape[0]):
            alone = target_log_probs(model, sentence_alone(sample, b, pad))[0]
            torch.testing.assert_close(batched[b, : alone.shape[0]], alone, rtol=1e-9, atol=1e-10)


def test_incremental_rows_equal_full_forward(tiny):
    task, model = tiny
    sample = batches(task, "valid", max_sentences=6)[1]
    net = sample["net_input"]
    # padded sources sorted by length: the row step skips their padding cells
    assert net["src_tokens"].eq(task.source_dictionary.pad()).any()
    assert (net["src_lengths"][1:] <= net["src_lengths"][:-1]).all()
    with torch.no_grad():
        full, _ = model(**net)
        enc = model.encoder(net["src_tokens"], net["src_lengths"])
        state = {}
        steps = []
        prev = net["prev_output_tokens"]
        for t in range(prev.shape[1]):
            out, _ = model.decoder(prev[:, : t + 1], encoder_out=enc, incremental_state=state)
            assert out.shape[1] == 1  # one new row per token
            steps.append(out)
        torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-9, atol=1e-10)


def test_reordered_incremental_state_follows_the_beam(tiny):
    task, model = tiny
    sample = batches(task, "valid", max_sentences=4)[0]
    net = sample["net_input"]
    order = torch.tensor([2, 0, 3, 1, 1])
    with torch.no_grad():
        enc = model.encoder(net["src_tokens"], net["src_lengths"])
        prev = net["prev_output_tokens"][:, :3]
        state = {}
        model.decoder(prev[:, :1], encoder_out=enc, incremental_state=state)
        model.decoder(prev[:, :2], encoder_out=enc, incremental_state=state)
        model.decoder.reorder_incremental_state_scripting(state, order)
        enc_r = model.encoder.reorder_encoder_out(enc, order)
        step3, _ = model.decoder(prev[order], encoder_out=enc_r, incremental_state=state)
        full, _ = model.decoder(prev[order], encoder_out=enc_r)
    torch.testing.assert_close(step3[:, 0], full[:, 2], rtol=1e-9, atol=1e-10)


def test_beam_search_scores_equal_teacher_forced_scores(tiny):
    """SequenceGenerator (incremental rows + beam reordering) scores each hypothesis exactly
    as the full forward pass scores the same tokens."""
    task, model = tiny
    sample = mixed_batch(task, "valid", [3, 8, 30, 44, 57])
    gen = SequenceGenerator([model], task.target_dictionary, beam_size=4, max_len_b=12)
    with torch.no_grad():
        hypos = gen.generate([model], sample)
    eos = task.target_dictionary.eos()
    pad = task.source_dictionary.pad()
    for b, nbest in enumerate(hypos):
        for hyp in nbest[:2]:
            tokens = hyp["tokens"]
            alone = sentence_alone(sample, b, pad)["net_input"]
            prev = torch.cat([torch.tensor([eos]), tokens[:-1]]).unsqueeze(0)
            with torch.no_grad():
                lp = target_log_probs(model, {"net_input": {**alone, "prev_output_tokens": prev}, "target": tokens.unsqueeze(0)})
            torch.testing.assert_close(hyp["positional_scores"], lp[0].float(), rtol=1e-5, atol=1e-5)


def test_every_named_architecture_builds(tiny_bin):
    sizes, readouts = {}, {}
    for arch in ["reencoder_tiny", "reencoder_paper", "reencoder_base", "reencoder_big", "reencoder"]:
        _, _, model = build_task_and_model(tiny_bin / "bin", arch=arch)
        sizes[arch] = sum(p.numel() for p in model.decoder.grid.parameters())
        readouts[arch] = model.decoder.readout.kind
        if arch == "reencoder_paper":  # the paper's layout: raw embeddings in, last cell out
            assert model.encoder.lstm is None and model.decoder.readout.kind == "last"
    assert sizes["reencoder_tiny"] < sizes["reencoder_base"] < sizes["reencoder_big"]
    # the same width, but source/target sharing one set of gates and a tanh depth: 4n + n gate rows, not 8n + 4n
    assert sizes["reencoder_base"] < sizes["reencoder_paper"]
    assert readouts["reencoder_base"] == "attn"


def test_size_flags_override_the_architecture(tiny_bin):
    _, _, model = build_task_and_model(
        tiny_bin / "bin",
        extra=["--grid-hidden-size", "8", "--grid-depth", "4", "--grid-tied-depth", "--grid-cell", "gate-then-tanh"],
    )
    grid = model.decoder.grid
    assert grid.hidden_size == 8 and grid.depth == 4 and len(grid.blocks) == 1
    assert grid.blocks[0].cell == "gate-then-tanh"
    # reencoder_base shares one weight matrix between source and target and has a tanh depth; flags undo both
    _, _, base = build_task_and_model(tiny_bin / "bin", arch="reencoder_base")
    assert base.decoder.grid.blocks[0].shared_dims and base.decoder.grid.blocks[0].non_lstm_dims == (2,)
    _, _, lstm_cell = build_task_and_model(tiny_bin / "bin", arch="reencoder_base",
                                           extra=["--grid-unshared-dims", "--grid-depth-transform", "lstm"])
    block = lstm_cell.decoder.grid.blocks[0]
    assert not block.shared_dims and block.non_lstm_dims == () and block.priority_weight.shape[0] == 4 * 128


def test_reversed_source_order_is_the_forward_model_on_reversed_sentences(tiny_bin, tiny, tiny_flags):
    """--grid-source-order reverse (the default) lays each sentence last word first: the same
    weights in forward order, given every source sentence reversed by hand, score alike."""
    task, model = tiny
    _, _, forward = build_task_and_model(tiny_bin / "bin", extra=[*tiny_flags, "--grid-source-order", "forward"])
    forward = forward.double().eval()
    forward.load_state_dict(model.state_dict())
    assert model.encoder.reverse and not forward.encoder.reverse
    pad = task.source_dictionary.pad()
    sample = mixed_batch(task, "valid", [0, 5, 11, 17])
    net = sample["net_input"]
    flipped = []
    for row in net["src_tokens"]:
        real = row[row.ne(pad)].flip(0)
        flipped.append(torch.cat([row.new_full((row.numel() - real.numel(),), pad), real]))  # still left-padded
    with torch.no_grad():
        a = target_log_probs(model, sample)
        b = target_log_probs(forward, {**sample, "net_input": {**net, "src_tokens": torch.stack(flipped)}})
        c = target_log_probs(forward, sample)
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    assert (a - c).abs().max() > 1e-3  # the order really matters
