"""eval.profile_step: every backward node is charged to the part whose forward made it."""

import torch

from eval.profile_step import StepTimer, graph_labels


def test_nodes_are_charged_to_the_part_that_made_them():
    torch.manual_seed(0)
    a, b = torch.nn.Linear(4, 3), torch.nn.Linear(3, 2)
    timer = StepTimer()
    x = torch.randn(5, 4)
    timer.enter("outer")
    timer.enter("a")
    y = torch.tanh(a(x))
    timer.exit()
    y = y * 2  # outer's own op
    timer.enter("b")
    z = b(y)
    timer.exit()
    timer.exit()
    loss = z.pow(2).sum()  # outside every range
    params = {id(a.weight): "a", id(a.bias): "a", id(b.weight): "b"}
    pairs = graph_labels(loss.grad_fn, timer.ranges, params)
    labels = {type(n).__name__ + ("" if getattr(n, "variable", None) is None else f":{tuple(n.variable.shape)}"): lab
              for n, lab in pairs}
    assert labels["TanhBackward0"] == "a"
    assert labels["MulBackward0"] == "outer"  # innermost range: outer, not a or b
    assert labels["SumBackward0"] == labels["PowBackward0"] == "model glue"
    assert labels["AccumulateGrad:(3, 4)"] == "a" and labels["AccumulateGrad:(2, 3)"] == "b"
    assert labels["AccumulateGrad:(2,)"] == "other parameters"  # b.bias is not in the map
    assert sorted(lab for n, lab in pairs if type(n).__name__ == "AddmmBackward0") == ["a", "b"]


def test_hooked_backward_times_every_part():
    a, b = torch.nn.Linear(64, 64), torch.nn.Linear(64, 64)
    timer = StepTimer()
    x = torch.randn(32, 64)
    timer.enter("a")
    y = a(x).relu()
    timer.exit()
    timer.enter("b")
    z = b(y)
    timer.exit()
    loss = z.square().mean()
    timer.hook_graph(loss.grad_fn, {id(p): "a" for p in a.parameters()} | {id(p): "b" for p in b.parameters()})
    loss.backward()
    assert set(timer.bwd) == {"a", "b", "model glue"}
    assert all(t > 0 for t in timer.bwd.values())
    assert a.weight.grad is not None and b.weight.grad is not None  # the hooks change nothing


def test_graph_hooks_are_removed_once_the_backward_ran():
    """A parameter's gradient accumulation node outlives the step (here: a reference kept, as
    the trainer's state does): hooks left on it would time, and slow, every later backward."""
    p = torch.nn.Parameter(torch.ones(3))
    timer = StepTimer()
    loss = (p * 2).sum()
    accumulate = loss.grad_fn.next_functions[0][0].next_functions[0][0]  # noqa: F841 (kept alive)
    timer.hook_graph(loss.grad_fn, {id(p): "w"})
    loss.backward()
    assert timer.bwd["w"] > 0 and timer.handles
    timer.unhook_graph()
    before = dict(timer.bwd)
    (p * 3).sum().backward()  # the same accumulation node, now without hooks
    assert dict(timer.bwd) == before and not timer.handles
