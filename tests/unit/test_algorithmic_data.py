"""The algorithmic tasks of the Grid LSTM paper (§4, addition and memorisation): the examples made on
the fly, the held-out split, the exact-sequence accuracy, and the plot of a comparison."""

import json
import re

import numpy as np
import pytest
import torch

from eval import plot_algo_curves
from reencoder.tasks.algorithmic import exact_counts
from reencoder.tasks.algorithmic_data import (
    EQUALS,
    PLUS,
    AlgorithmicDataset,
    build_dictionary,
    check_config,
    is_held_out,
    make_example,
)


def number(symbols, order):
    return int("".join(symbols[::-1] if order == "lsd" else symbols))


@pytest.mark.parametrize("order", ["lsd", "msd"])
def test_addition_examples_add_up(order):
    rng = np.random.default_rng(0)
    for _ in range(200):
        inp, out = make_example(rng, False, "addition", digits=15, order=order)
        assert len(inp) == 32 and inp[15] == PLUS and inp[-1] == EQUALS
        a, b = number(inp[:15], order), number(inp[16:31], order)
        assert 10**14 <= a < 10**15 and 10**14 <= b < 10**15
        assert number(out, order) == a + b and len(out) == len(str(a + b))


def test_memorisation_examples_repeat_the_input():
    inp, out = make_example(np.random.default_rng(3), True, "memorisation", length=20, symbols=64)
    assert inp[:-1] == out and inp[-1] == "#" and len(out) == 20
    assert len(build_dictionary("memorisation", 64)) == 4 + 64 + 1


def test_held_out_examples_never_appear_in_training():
    """2-digit addition has only 8,100 inputs: a few epochs of training draws cover most of
    them, yet none of the held-out ones; the held-out set does not move with the seed."""
    d = build_dictionary("addition")
    config = dict(task="addition", digits=2, length=20, symbols=64, order="lsd")
    held = AlgorithmicDataset(d, 300, 5, True, **config)
    held_inputs = {" ".join(held.example(i)[0]) for i in range(len(held))}
    assert 0 < len(held_inputs) <= 810
    train = AlgorithmicDataset(d, 2000, 1, False, **config)
    seen = set()
    for epoch in (1, 2, 3):
        train.set_epoch(epoch)
        seen |= {" ".join(train.example(i)[0]) for i in range(len(train))}
    assert len(seen) > 3000 and not seen & held_inputs
    assert all(is_held_out(x.split()) for x in held_inputs)
    again = AlgorithmicDataset(d, 300, 5, True, **config)
    assert [again.example(i) for i in range(5)] == [held.example(i) for i in range(5)]


def test_items_score_only_the_output():
    d = build_dictionary("addition")
    ds = AlgorithmicDataset(d, 4, 1, False, task="addition", digits=3, length=20, symbols=64, order="lsd")
    inp, out = ds.example(0)
    item = ds[0]
    assert item["source"][0] == d.eos() and d.string(item["source"][1:]).split() == inp + out
    assert item["target"][: len(inp)].eq(d.pad()).all()
    assert d.string(item["target"][len(inp):-1]).split() == out and item["target"][-1] == d.eos()
    batch = ds.collater([ds[i] for i in range(4)])
    assert batch["ntokens"] == int(batch["target"].ne(d.pad()).sum())


def test_exact_counts():
    pad = 1
    target = torch.tensor([[pad, pad, 5, 6], [pad, pad, 5, 6], [pad, 7, 7, pad]])
    predicted = torch.tensor([[9, 9, 5, 6], [9, 9, 5, 5], [9, 7, 7, 9]])
    tok, seq = exact_counts(torch.nn.functional.one_hot(predicted, 10).float(), target, pad)
    assert (tok.item(), seq.item()) == (5, 2)


@pytest.mark.parametrize("bad", [("addition", 0, 20, 64, "lsd", "addition digits must be between 2 and 18"),
                                 ("memorisation", 15, 1, 8, "lsd", "too few to hold some out"),
                                 ("parity", 15, 20, 64, "lsd", "task must be one of")])
def test_bad_config_one_line_error(bad):
    *config, message = bad
    with pytest.raises(ValueError, match=re.escape(message)):
        check_config(*config)


def test_plot_algo_curves(tmp_path):
    run = lambda model, depth, accs: {"model": model, "depth": depth, "params": 1000,  # noqa: E731
                                      "seq_acc": [(32 * (i + 1), a) for i, a in enumerate(accs)],
                                      "tok_acc": [(32 * (i + 1), a) for i, a in enumerate(accs)]}
    results = {"tasks": {"addition": [run("grid", 1, [0, 50]), run("lstm", 1, [0, 10]), run("grid", 2, [5, 90])]}}
    (tmp_path / "r.json").write_text(json.dumps(results))
    plot_algo_curves.main([str(tmp_path / "r.json"), "--out", str(tmp_path / "a.png")])
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
