"""The 2D Grid LSTM character language model (--arch grid_lstm_lm) and its recipe pieces,
on real TED English text from ../shared/data."""

import math
import re

import pytest
import torch
from fairseq import checkpoint_utils

from data_prep import char_lm as char_lm_data
from eval import plot_lm_curves
from eval.fairseq_log import log_records
from reencoder.loading import PLUGIN_DIR, build_model
from tests.helpers import fairseq_preprocess, run_cli

TPS = 48  # tokens per sample


@pytest.fixture(scope="module")
def char_bin(shared_data, tmp_path_factory):
    """Real TED English as character tokens: 250 train lines (tst2010), 40 valid (dev2010),
    30 test (tst2013), binarized with fairseq-preprocess --only-source."""
    root = tmp_path_factory.mktemp("char_lm")
    take = lambda name, k: [char_lm_data.to_char_tokens(x) for x in list(char_lm_data.ted_lines(shared_data, [name]))[:k]]  # noqa: E731
    splits = {"train": take("tst2010", 250), "valid": take("dev2010", 40), "test": take("tst2013", 30)}
    counts = char_lm_data.write_splits(splits, root)
    fairseq_preprocess(["--only-source", "--trainpref", root / "train.txt", "--validpref", root / "valid.txt",
                        "--testpref", root / "test.txt", "--destdir", root / "bin", "--workers", "1"])
    return root, counts


def build(bin_dir, extra=(), seed=0, break_mode="none"):
    _args, task, model = build_model([bin_dir, "--task", "language_modeling", "--arch", "grid_lstm_lm_tiny",
                                      "--sample-break-mode", break_mode, "--tokens-per-sample", TPS, "--cpu", *extra],
                                     seed=seed)
    model = model.double().eval()
    for p in model.parameters():  # larger weights than the init, so differences show
        torch.nn.init.normal_(p, std=0.3)
    task.load_dataset("valid")
    return task, model


def first_batch(task, max_sentences=5):
    itr = task.get_batch_iterator(task.dataset("valid"), max_sentences=max_sentences, seed=1)
    return next(iter(itr.next_epoch_itr(shuffle=False)))


@pytest.mark.parametrize("flags", [[], ["--grid-depth", "3", "--grid-tied-depth"],
                                   ["--grid-shared-dims", "--grid-cell", "gate-then-tanh", "--share-decoder-input-output-embed"]])
def test_incremental_columns_equal_full_forward(char_bin, flags):
    task, model = build(char_bin[0] / "bin", flags)
    tokens = first_batch(task)["net_input"]["src_tokens"]
    with torch.no_grad():
        full, _ = model(tokens)
        state, steps = {}, []
        for t in range(tokens.shape[1]):
            out, _ = model.decoder(tokens[:, : t + 1], incremental_state=state)
            assert out.shape[1] == 1  # one new column per token
            steps.append(out)
    assert full.shape[1] == TPS
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-9, atol=1e-10)


def test_reordered_state_follows_the_beam(char_bin):
    task, model = build(char_bin[0] / "bin")
    tokens = first_batch(task, 4)["net_input"]["src_tokens"][:, :6]
    order = torch.tensor([2, 0, 3, 1, 1])
    with torch.no_grad():
        state = {}
        model.decoder(tokens[:, :3], incremental_state=state)  # a whole prefix first, then one column
        model.decoder(tokens[:, :4], incremental_state=state)
        model.decoder.reorder_incremental_state_scripting(state, order)
        step, _ = model.decoder(tokens[order][:, :5], incremental_state=state)
        full, _ = model(tokens[order][:, :5])
    torch.testing.assert_close(step[:, 0], full[:, 4], rtol=1e-9, atol=1e-10)


def test_padded_batch_equals_each_line_alone(char_bin):
    """With --sample-break-mode complete, blocks of whole lines have different lengths and are
    right-padded: padding comes after every real column, so it changes nothing.  (Mode
    ``eos`` would do too, but fairseq 0.12.3's TokenBlockDataset needs numpy < 2 for it.)"""
    task, model = build(char_bin[0] / "bin", break_mode="complete")
    ds = task.dataset("valid")
    sample = ds.collater([ds[i] for i in (0, 3, 7, 12)])
    tokens, pad = sample["net_input"]["src_tokens"], task.dictionary.pad()
    assert tokens.eq(pad).any() and not tokens[:, 0].eq(pad).any()
    with torch.no_grad():
        batched, _ = model(tokens)
        for b in range(tokens.shape[0]):
            real = tokens[b][tokens[b].ne(pad)].unsqueeze(0)
            alone, _ = model(real)
            torch.testing.assert_close(batched[b, : real.shape[1]], alone[0], rtol=1e-9, atol=1e-10)


@pytest.fixture(scope="module")
def trained(char_bin, tmp_path_factory):
    root, _ = char_bin
    save_dir = tmp_path_factory.mktemp("lm_ckpt")
    proc = run_cli(
        ["fairseq-train", root / "bin", "--user-dir", PLUGIN_DIR, "--task", "language_modeling", "--arch", "grid_lstm_lm_tiny",
         "--sample-break-mode", "none", "--tokens-per-sample", TPS, "--batch-size", 16, "--seed", 2, "--cpu",
         "--optimizer", "adam", "--lr", 0.02, "--clip-norm", 1.0, "--criterion", "cross_entropy", "--max-epoch", 4,
         "--log-format", "simple", "--log-interval", 5, "--no-progress-bar", "--num-workers", 0, "--save-dir", save_dir],
        env={"OMP_NUM_THREADS": "1"},
    )
    log = save_dir / "train.log"
    log.write_text(proc.stdout + proc.stderr, encoding="utf-8")
    return save_dir, log


def test_training_loss_drops(trained):
    save_dir, log = trained
    valid = plot_lm_curves.valid_curve(log.read_text())
    train = [fields["loss"] for tag, fields in log_records(log.read_text()) if tag == "train"]
    assert len(valid) == 4 and len(train) == 4
    assert train[-1] < train[0] - 0.4, train
    # bits per character: log2(V) ≈ 6.4 untrained; a 16-unit grid beats the unigram (~4.3) here
    assert valid[-1][1] < valid[0][1] - 0.2 and valid[-1][1] < 4.2, valid
    assert (save_dir / "checkpoint_last.pt").exists()


def test_eval_lm_bpc_counts_every_character_and_newline(trained, char_bin):
    """fairseq-eval-lm scores every character token plus one end-of-line token per line, and
    its base-2 loss equals the mean NLL the loaded model gives those tokens."""
    save_dir, _ = trained
    root, counts = char_bin
    ckpt = save_dir / "checkpoint_last.pt"
    proc = run_cli(["fairseq-eval-lm", root / "bin", "--user-dir", PLUGIN_DIR, "--path", ckpt, "--gen-subset", "test",
                    "--task", "language_modeling", "--sample-break-mode", "none", "--tokens-per-sample", TPS,
                    "--batch-size", 8, "--cpu"])
    out = proc.stdout + proc.stderr
    n_tokens = int(re.search(r"Evaluated ([\d,]+) tokens", out).group(1).replace(",", ""))
    bpc = float(re.search(r"Loss \(base 2\): ([\d.]+)", out).group(1))
    assert n_tokens == counts["test"]
    models, _, task = checkpoint_utils.load_model_ensemble_and_task([str(ckpt)])
    model = models[0].eval()
    task.load_dataset("test")
    itr = task.get_batch_iterator(task.dataset("test"), max_sentences=8).next_epoch_itr(shuffle=False)
    nll, count = 0.0, 0
    with torch.no_grad():
        for sample in itr:
            lprobs = model.get_normalized_probs(model(**sample["net_input"]), log_probs=True)
            target = sample["target"]
            keep = target.ne(task.dictionary.pad())
            nll -= lprobs.gather(-1, target.unsqueeze(-1)).squeeze(-1)[keep].sum().item()
            count += keep.sum().item()
    assert count == n_tokens
    assert bpc == pytest.approx(nll / count / math.log(2), abs=1e-3)


def test_plot_script_reads_the_log(trained, tmp_path):
    _, log = trained
    out = tmp_path / "curves.png"
    curves = plot_lm_curves.main(["--out", str(out), f"grid={log}", f"again={log}"])
    assert [u for u, _ in curves["grid"]] == sorted(u for u, _ in curves["grid"]) and len(curves["grid"]) == 4
    assert out.stat().st_size > 1000
