"""Staged output folders (data_prep.staging): a killed run's leftovers, named after their process."""

from __future__ import annotations

import os
import subprocess

from data_prep.staging import recover_stale, staged_folder


def test_a_kill_between_the_two_renames_restores_the_previous_output(tmp_path):
    """The one non-atomic moment of an update: the complete old output was moved aside and the
    new one not yet moved in. The next run puts the old one back before doing anything."""
    out = tmp_path / "out"
    dead = subprocess.Popen(["true"])
    dead.wait()
    aside = tmp_path / f"out.old-{dead.pid}-abcd"
    (aside / "out").mkdir(parents=True)
    (aside / "out" / "manifest.json").write_text("{}")
    half = tmp_path / f"out.tmp-{dead.pid}-efgh"
    (half / "split").mkdir(parents=True)
    live = tmp_path / f"out.tmp-{os.getpid()}-ijkl"  # a concurrent run (this process): untouched
    live.mkdir()
    recover_stale(out)
    assert (out / "manifest.json").is_file()
    assert not aside.exists() and not half.exists() and live.is_dir()


def test_staged_folder_names_its_temp_after_the_process(tmp_path):
    with staged_folder(tmp_path / "x") as tmp:
        assert tmp.name.startswith(f"x.tmp-{os.getpid()}-")
        (tmp / "manifest.json").write_text("{}")
    assert (tmp_path / "x" / "manifest.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["x"]
