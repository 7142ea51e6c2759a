"""Build real fairseq tasks and Reencoder models from binarized data, for the tests."""

from pathlib import Path

import torch

from reencoder.loading import build_model


def build_task_and_model(data_dir: Path, arch="reencoder_tiny", extra=(), seed=0):
    """``(args, task, model)`` of a translation model on ``data_dir``, as fairseq-train builds it."""
    return build_model([data_dir, "--arch", arch, "--task", "translation", "--source-lang", "zh",
                        "--target-lang", "en", "--cpu", *extra], seed=seed)


def batches(task, split, max_sentences=8):
    """Real collated batches (left-padded sources, as fairseq makes them)."""
    task.load_dataset(split)
    ds = task.dataset(split)
    itr = task.get_batch_iterator(ds, max_sentences=max_sentences, seed=1, ignore_invalid_inputs=True)
    return list(itr.next_epoch_itr(shuffle=False))


def mixed_batch(task, split, indices):
    """A collated batch of chosen items: different lengths, so it really holds padding."""
    task.load_dataset(split)
    ds = task.dataset(split)
    return ds.collater([ds[i] for i in indices])


def target_log_probs(model, sample):
    """Teacher-forced log-probabilities of the reference tokens, ``[B, T]``, in the model's
    dtype (fairseq's get_normalized_probs would cast to float32)."""
    logits, _ = model(**sample["net_input"])
    lprobs = torch.log_softmax(logits, dim=-1)
    return lprobs.gather(-1, sample["target"].unsqueeze(-1)).squeeze(-1)
