"""Build an output folder beside its final place and rename it in only when complete."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import DataError


def check_replaceable(out_dir: Path, marker: str, what: str = "a data_prep output",
                      error: type = DataError) -> None:
    """Refuse to replace an existing folder that is not empty and lacks ``marker`` (i.e. that
    this tool did not write), so a mistyped ``--out`` cannot delete a user's files."""
    if out_dir.exists() and not (out_dir / marker).is_file():
        if not out_dir.is_dir() or any(out_dir.iterdir()):
            raise error(f"{out_dir} exists and is not {what} (no {marker}); "
                        "remove it or choose another output folder")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def recover_stale(out_dir: Path) -> None:
    """Clean up after a run that was killed (``kill -9``, power loss) inside :func:`staged_folder`.

    Sibling folders are named ``OUT.tmp-PID-XXXX`` / ``OUT.old-PID-XXXX`` after the process
    that made them. Those of dead processes are removed, except that a previous complete
    ``OUT`` that was moved aside into ``OUT.old-*`` just before the kill is moved back first.
    Folders of live processes (a concurrent run) are left alone.
    """
    if not out_dir.parent.is_dir():
        return
    for kind in ("old", "tmp"):  # restore before the check below can see OUT missing
        for path in sorted(out_dir.parent.glob(f"{out_dir.name}.{kind}-*-*")):
            pid = path.name[len(out_dir.name) + len(kind) + 2:].split("-", 1)[0]
            if not pid.isdigit() or _pid_alive(int(pid)):
                continue
            saved = path / out_dir.name
            if kind == "old" and saved.is_dir() and not out_dir.exists():
                os.replace(saved, out_dir)
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def staged_folder(out_dir: str | Path, marker: str = "manifest.json", what: str = "a data_prep output",
                  error: type = DataError) -> Iterator[Path]:
    """Yield an empty sibling ``OUT.tmp-PID-XXXX``; on success it replaces ``OUT``.

    On any exception (``KeyboardInterrupt`` included) the temporary folder is removed and an
    existing ``OUT`` is left untouched, so a failed run never leaves a partial output. An
    existing ``OUT`` is only replaced if it holds ``marker`` (or is empty); otherwise ``error``
    is raised, describing the expected folder as ``what``. Leftovers of a killed earlier run
    are cleaned up first (:func:`recover_stale`).
    """
    out_dir = Path(out_dir)
    recover_stale(out_dir)
    check_replaceable(out_dir, marker, what, error)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{out_dir.name}.tmp-{os.getpid()}-", dir=out_dir.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f"{out_dir.name}.old-{os.getpid()}-", dir=out_dir.parent))
        os.replace(out_dir, old / out_dir.name)
    os.replace(tmp, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
