"""The TVsub path of recipes/tvsub.sh in small: a few dozen updates of ``reencoder_tiny`` on the
session's real TVsub slice (conftest.py's ``prepared``) through recipes/lib.sh's train_nmt with
interval saves, the final state averaged with the saves before it (``reencoder-average --final``),
a model folder, raw Chinese test lines translated with a length penalty, and the paper's BLEU
(tokenized, lowercased) and sacrebleu's (detokenized references) against the 3 references; and the
recipe itself stopping on a corrupt input file with the file, line and stage named."""
from __future__ import annotations

import gzip
import json
import shlex
import subprocess
from pathlib import Path

from eval.tokenized import detokenize_references
from tests.helpers import BIN, run_cli

REPO = Path(__file__).resolve().parents[2]
LINES = 40


def head(src: Path, dst: Path, n: int = LINES) -> None:
    dst.write_text("".join(src.read_text(encoding="utf-8").splitlines(keepends=True)[:n]), encoding="utf-8")


def test_tiny_training_decoding_and_scoring_on_tvsub(prepared, tmp_path):
    script = (f"source recipes/lib.sh; BIN={shlex.quote(str(BIN))}; RUNS={shlex.quote(str(tmp_path))}; "
              f"OMP_NUM_THREADS=1 train_nmt tiny {shlex.quote(str(prepared / 'bin'))} 30 --arch reencoder_tiny "
              "--optimizer adam --lr 0.01 --max-tokens 400 --save-interval-updates 10 --keep-interval-updates 3 "
              "--max-valid-steps 2 --no-progress-bar")
    proc = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    info = json.loads((tmp_path / "tiny" / "training.json").read_text(encoding="utf-8"))
    assert info["updates"] == 30 and info["sentences"] > 30 and info["params"] > 0

    ckpt = tmp_path / "tiny" / "ckpt"
    avg = run_cli(["reencoder-average", "--save-dir", ckpt, "--last", "3", "--final", "--out", ckpt / "avg.pt"])
    # the save at update 30 is the final state itself: the saves at 10 and 20 and checkpoint_last
    assert "averaged 3 checkpoints" in avg.stdout and "checkpoint_1_20.pt checkpoint_last.pt" in avg.stdout
    run_cli(["reencoder-export", "--checkpoint", ckpt / "avg.pt", "--data", prepared, "--out", tmp_path / "model"])

    refs = tmp_path / "refs"
    refs.mkdir()
    for name in ("test.zh", "test.en.0", "test.en.1", "test.en.2"):
        head(prepared / "split" / name, refs / name)
    hyp = tmp_path / "test.hyp"
    run_cli(["reencoder-translate", "--model", tmp_path / "model", "--input", refs / "test.zh", "--output", hyp,
             "--beam", "2", "--lenpen", "1.4", "--quiet"], env={"OMP_NUM_THREADS": "1"})
    assert len(hyp.read_text(encoding="utf-8").splitlines()) == LINES

    # the first reference as a system's output: detokenized (as a system writes it), re-tokenized
    # by the scorer; in lowercase text Moses keeps a few sentence-internal periods attached
    ref_hyp = tmp_path / "ref.hyp"
    ref_hyp.write_text("".join(line + "\n" for line in detokenize_references([
        (refs / "test.en.0").read_text(encoding="utf-8").splitlines()])[0]), encoding="utf-8")
    run_cli(["reencoder-eval", "--refs", refs, "--system", f"tiny={hyp}", "--system", f"ref={ref_hyp}",
             "--tok-bleu", "--detok-refs", "--out", tmp_path / "eval"])
    results = json.loads((tmp_path / "eval" / "results.json").read_text(encoding="utf-8"))
    tiny, ref = results["systems"]
    assert results["n_refs"] == 3 and "nrefs:3" in results["tok_bleu_signature"]
    assert 0 <= tiny["tok_bleu"] < 50 < 80 < ref["tok_bleu"]
    assert ref["bleu"] == 100.0  # against the detokenized references: itself
    assert ref["p_tok_bleu"] is not None and tiny["p_tok_bleu"] is None
    picked = run_cli(["python", "-m", "eval.pick", "--metric", "tok_bleu", tmp_path / "eval" / "results.json"])
    assert picked.stdout == "ref\n"


def test_the_recipe_stops_with_the_failing_file_and_line(tvsub_dir, tmp_path):
    """recipes/tvsub.sh on a TVsub folder whose train.zh.gz is cut short: the data stage's one-line
    error names the file and line, the recipe names the stage and stops (nothing else runs)."""
    bad = tmp_path / "shared" / "tvsub-zh-en"
    bad.mkdir(parents=True)
    for name in ("dev.orignal.zh", "dev.orignal.en", "test.orignal.zh", "test.orignal.en", "dev_trg.sgm",
                 "test_trg.sgm"):
        (bad / name).symlink_to(tvsub_dir / name)
    with gzip.open(tvsub_dir / "train.zh.gz", "rb") as f:
        head_zh = b"".join(f.readline() for _ in range(2000))
    (bad / "train.en.gz").write_bytes(gzip.compress(head_zh))  # aligned line counts do not matter here
    (bad / "train.zh.gz").write_bytes(gzip.compress(head_zh)[:4000])
    env = {"SHARED": str(tmp_path / "shared"), "DATA": str(tmp_path / "data"), "RUNS": str(tmp_path / "runs"),
           "BUDGET_MIN": "1", "BIN": str(BIN), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(["bash", "recipes/tvsub.sh"], cwd=REPO, capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert f"error: {bad / 'train.zh.gz'}:" in proc.stderr and "truncated or corrupt gzip" in proc.stderr
    assert "error: recipes/tvsub.sh: stage data failed (exit 2)" in proc.stderr
    assert "[tune]" not in proc.stderr and not (tmp_path / "data").exists()


def test_an_unknown_system_stops_the_recipe_before_any_stage(tmp_path):
    env = {"SYSTEMS": "reencoder gru", "SHARED": str(tmp_path / "shared"), "DATA": str(tmp_path / "data"),
           "RUNS": str(tmp_path / "runs"), "BIN": str(BIN), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(["bash", "recipes/tvsub.sh"], cwd=REPO, capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert "error: system must be reencoder, lstm or transformer, got 'gru'" in proc.stderr
    assert "[data]" not in proc.stderr and not (tmp_path / "runs").exists()
