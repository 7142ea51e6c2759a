"""Checkpoints load under torch's safe unpickler with the plugin's allow-list; anything else is
refused in one line that says it is unsafe and names what it pickles, never torch's advice to
load it with weights_only=False."""

import argparse

import pytest
import torch

from reencoder.checkpoint_average import save_average
from reencoder.checkpoint_safety import CheckpointError, load_checkpoint_safely, unsafe_globals


class Payload:
    def __reduce__(self):
        import os

        return (os.system, ("touch PWNED",))


def fairseq_like(path, **extra):
    state = {"args": argparse.Namespace(arch="reencoder_tiny"), "model": {"w": torch.ones(2)}, **extra}
    torch.save(state, path)
    return path


def test_a_fairseq_like_checkpoint_loads_safely(tmp_path):
    path = fairseq_like(tmp_path / "ok.pt")
    assert unsafe_globals(path) == []
    state = load_checkpoint_safely(path)
    assert state["args"].arch == "reencoder_tiny" and torch.equal(state["model"]["w"], torch.ones(2))


def test_a_crafted_checkpoint_is_refused_as_unsafe_naming_the_global(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = fairseq_like(tmp_path / "evil.pt", extra_state={"evil": Payload()})
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint_safely(evil)
    message = str(caught.value)
    assert message.startswith(f"checkpoint {evil} refused as unsafe: it pickles posix.system"), message
    assert "weights_only" not in message and "\n" not in message
    assert not (tmp_path / "PWNED").exists()
    with pytest.raises(CheckpointError, match="refused as unsafe: it pickles posix.system"):
        save_average([evil], tmp_path / "avg.pt")  # averaging reads through the same loader
    assert not (tmp_path / "avg.pt").exists()


def test_truncated_and_foreign_files_are_one_line(tmp_path):
    data = fairseq_like(tmp_path / "ok.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=rf"^cannot read checkpoint {tmp_path / 'cut.pt'}: "):
        load_checkpoint_safely(tmp_path / "cut.pt")
    torch.save({"weights": torch.ones(1)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="is not a fairseq checkpoint"):
        load_checkpoint_safely(tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint_safely(tmp_path / "none.pt")
