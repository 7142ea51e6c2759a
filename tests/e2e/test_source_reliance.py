"""reencoder-source-reliance: own vs other source NLL per target position, on the tiny real model."""

import json

import pytest
import torch

from reencoder.cli import source_reliance as cli
from reencoder.loading import load_checkpoint_models
from reencoder.source_reliance import measure, token_nll

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def loaded(tiny):
    models, task = load_checkpoint_models(tiny.checkpoint, tiny.data / "bin")
    return tiny, models[0], task


def sentence_alone_nll(model, task, subset):
    """Sum of target-token NLL (bits), every sentence scored in a batch of its own."""
    dataset = task.dataset(subset)
    total, tokens = 0.0, 0
    for index in range(len(dataset)):
        sample = dataset.collater([dataset[index]])
        with torch.no_grad():
            nll = token_nll(model, sample["net_input"], sample["target"])
        total, tokens = total + nll.sum().item(), tokens + sample["target"].numel()
    return total, tokens


def test_own_source_matches_each_sentence_scored_alone(loaded):
    _tiny, model, task = loaded
    result = measure(model, task, "valid", positions=4, max_tokens=400)
    alone, tokens = sentence_alone_nll(model, task, "valid")
    assert result.sentences == len(task.dataset("valid")) and sum(result.tokens) == tokens
    assert sum(result.nll["own"]) == pytest.approx(alone, rel=1e-4)
    # another source changes the scores beyond float noise (40 updates barely teach the tiny
    # model to read its source, so the sign of the gap is not asserted here)
    assert abs(sum(result.nll["other"]) - sum(result.nll["own"])) > 1e-2


def test_shift_zero_scores_the_own_source_twice(loaded):
    _tiny, model, task = loaded
    result = measure(model, task, "valid", positions=3, max_tokens=400, shift=0)
    assert result.nll["own"] == pytest.approx(result.nll["other"], rel=1e-6)


def test_cli_prints_the_table_and_writes_json(loaded, tmp_path, capsys):
    tiny, _model, _task = loaded
    out = tmp_path / "r.json"
    assert cli.main(["--checkpoint", str(tiny.checkpoint), "--data", str(tiny.data), "--positions", "3",
                     "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| 2+ |" in table and "| all |" in table
    numbers = json.loads(out.read_text(encoding="utf-8"))
    assert numbers["sentences"] == 50 and len(numbers["per_position"]) == 3


@pytest.mark.parametrize("problem, named", [("missing_checkpoint", "nope.pt"), ("missing_subset", "dev3"),
                                             ("not_a_checkpoint", "bad.pt")])
def test_cli_errors_are_one_line(loaded, tmp_path, capsys, problem, named):
    tiny, _model, _task = loaded
    ckpt, subset = str(tiny.checkpoint), "valid"
    if problem == "missing_checkpoint":
        ckpt = str(tmp_path / "nope.pt")
    elif problem == "missing_subset":
        subset = "dev3"
    else:
        ckpt = str(tmp_path / "bad.pt")
        (tmp_path / "bad.pt").write_bytes(b"not a zip")
    assert cli.main(["--checkpoint", ckpt, "--data", str(tiny.data / "bin"), "--subset", subset]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1
    assert named in err
