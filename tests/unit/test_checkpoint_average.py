"""reencoder-average's checkpoint choice: the newest N, or the N ending at the lowest dev loss
(``--around-best``: a run stopped by --patience ends past its best)."""
import pytest
import torch

from reencoder.checkpoint_average import AverageError, average_checkpoints, best_window, final_window, last_checkpoints


def save(folder, epoch, update, val_loss):
    extra = {} if val_loss is None else {"val_loss": val_loss}
    torch.save({"model": {"w": torch.zeros(1)}, "extra_state": extra}, folder / f"checkpoint_{epoch}_{update}.pt")


@pytest.fixture
def run(tmp_path):
    # update 1000 sorts after 250 by number, not by name; the best dev loss is at update 750
    for epoch, update, loss in [(1, 250, 5.0), (2, 500, 4.5), (3, 750, 4.1), (4, 1000, 4.3), (5, 1250, 4.4)]:
        save(tmp_path, epoch, update, loss)
    (tmp_path / "checkpoint_last.pt").write_bytes(b"not numbered")
    return tmp_path


def names(paths):
    return [p.name for p in paths]


def test_the_newest_n_by_update(run):
    assert names(last_checkpoints(run, 2)) == ["checkpoint_4_1000.pt", "checkpoint_5_1250.pt"]
    with pytest.raises(AverageError, match="has 5 numbered checkpoints, 6 requested"):
        last_checkpoints(run, 6)


def test_the_window_ends_at_the_lowest_dev_loss(run):
    assert names(best_window(run, 2)) == ["checkpoint_2_500.pt", "checkpoint_3_750.pt"]
    # fewer when the best comes early
    assert names(best_window(run, 5)) == ["checkpoint_1_250.pt", "checkpoint_2_500.pt", "checkpoint_3_750.pt"]


def test_a_checkpoint_without_a_dev_loss_is_named(run):
    save(run, 6, 1500, None)
    with pytest.raises(AverageError, match="checkpoint_6_1500.pt records no dev loss"):
        best_window(run, 2)


def test_no_numbered_checkpoints(tmp_path):
    with pytest.raises(AverageError, match="no numbered checkpoints"):
        best_window(tmp_path, 2)


def test_the_final_state_and_the_interval_saves_before_it(run):
    def last_at(update):
        torch.save({"model": {"w": torch.zeros(1)}, "optimizer_history": [{"num_updates": update}]},
                   run / "checkpoint_last.pt")

    last_at(1300)  # stopped at its time budget 50 updates after the last interval save
    assert names(final_window(run, 3)) == ["checkpoint_4_1000.pt", "checkpoint_5_1250.pt", "checkpoint_last.pt"]
    assert names(final_window(run, 1)) == ["checkpoint_last.pt"]
    assert len(final_window(run, 9)) == 6  # fewer saved than asked for: all of them
    last_at(1250)  # stopped on an interval save: that one is the same state, not counted twice
    assert names(final_window(run, 3)) == ["checkpoint_3_750.pt", "checkpoint_4_1000.pt", "checkpoint_last.pt"]
    torch.save({"model": {}}, run / "checkpoint_last.pt")
    with pytest.raises(AverageError, match="records no update count"):
        final_window(run, 3)


def test_the_average_is_the_mean_model_without_the_optimizer_and_the_run_clock(tmp_path):
    for update, value in ((10, 1.0), (20, 3.0)):
        torch.save({"model": {"w": torch.full((2,), value), "steps": torch.tensor([update])},
                    "last_optimizer_state": {"m": 1},
                    "extra_state": {"val_loss": 4.0, "previous_training_time": 3600.0 + update}},
                   tmp_path / f"checkpoint_1_{update}.pt")
    state = average_checkpoints(last_checkpoints(tmp_path, 2))
    assert torch.equal(state["model"]["w"], torch.full((2,), 2.0))
    assert torch.equal(state["model"]["steps"], torch.tensor([10]))  # not a float: the first one's
    assert "last_optimizer_state" not in state
    # a fine-tuning run started from it (--finetune-from-model) starts its own clock
    assert state["extra_state"] == {"val_loss": 4.0}
