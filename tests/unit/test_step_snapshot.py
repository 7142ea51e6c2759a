"""eval.step_snapshot: a training step's loss and gradients, compared between code versions."""

import torch

from eval.step_snapshot import differences, one_step


def test_the_same_code_is_bitwise_equal_and_a_changed_gradient_is_found(tiny_bin):
    flags = ["--arch", "reencoder_tiny", "--grid-readout", "attn"]
    first = {mode: one_step(str(tiny_bin / "bin"), flags, mode == "train") for mode in ("eval", "train")}
    again = {mode: one_step(str(tiny_bin / "bin"), flags, mode == "train") for mode in ("eval", "train")}
    assert differences(first, again) == []
    name = next(iter(again["train"]["grads"]))
    again["train"]["grads"][name] = again["train"]["grads"][name] + 1e-12
    found = differences(first, again)
    assert len(found) == 1 and found[0].startswith(f"train grad {name}")


def test_a_renamed_parameter_is_matched_by_shape_and_order(tiny_bin):
    flags = ["--arch", "reencoder_tiny"]
    old = {mode: one_step(str(tiny_bin / "bin"), flags, mode == "train") for mode in ("eval", "train")}
    new = {mode: {"loss": old[mode]["loss"].clone(),
                  "grads": {n.replace("decoder.", "dec."): g for n, g in old[mode]["grads"].items()}}
           for mode in old}
    assert differences(old, new) == []
    new["eval"]["grads"]["extra"] = torch.zeros(3)
    assert any("gradients before" in line for line in differences(old, new))
