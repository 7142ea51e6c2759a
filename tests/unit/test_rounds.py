"""eval.rounds: benchmark rounds go on until every row's two best rounds agree."""

import pytest

from eval.rounds import Rounds


def run(rounds: Rounds, times_per_round):
    """Feed one list of row times per round; returns the rounds that ran."""
    ran = []
    for r in rounds:
        for key, t in times_per_round[r].items():
            rounds.add(key, t)
        ran.append(r)
    return ran


def test_settled_rows_stop_after_the_minimum():
    rounds = Rounds(2, 6, tolerance=0.025)
    assert run(rounds, [{"a": 1.00, "b": 2.00}, {"a": 1.01, "b": 2.02}] + [{"a": 9, "b": 9}] * 4) == [0, 1]
    assert rounds.best("a") == 1.00 and rounds.spread("b") == pytest.approx(0.01)
    assert rounds.report()["rounds_run"] == 2


def test_a_row_that_keeps_moving_gets_more_rounds(capsys):
    # b's best is confirmed only in round 4 (1.50 then 1.51); a settled in round 2
    times = [{"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 1.5}, {"a": 1.0, "b": 1.8}, {"a": 1.0, "b": 1.51}, {"a": 1.0, "b": 1.0}]
    rounds = Rounds(2, 6, tolerance=0.025)
    assert run(rounds, times) == [0, 1, 2, 3]
    assert rounds.best("b") == 1.5 and rounds.settled()
    assert "not settled after 2 rounds" in capsys.readouterr().err


def test_rounds_stop_at_the_maximum_unsettled():
    rounds = Rounds(2, 3, tolerance=0.01)
    assert run(rounds, [{"a": 1.0}, {"a": 1.2}, {"a": 1.4}]) == [0, 1, 2]
    assert not rounds.settled() and rounds.worst_spread() == pytest.approx(0.2)
    assert "within 20.0 %" in rounds.summary()


def test_rows_timed_once_do_not_hold_the_others_back():
    rounds = Rounds(2, 5)
    assert run(rounds, [{"a": 1.0, "slow": 10.0}, {"a": 1.0}] + [{"a": 1.0}] * 3) == [0, 1]


def test_one_round_asked_for_is_one_round():
    rounds = Rounds(1)
    assert run(rounds, [{"a": 1.0}, {"a": 0.5}]) == [0]
    assert rounds.report()["worst_spread"] is None
    with pytest.raises(ValueError, match="at least 1"):
        Rounds(0)
