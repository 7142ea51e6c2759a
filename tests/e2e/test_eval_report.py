"""``reencoder-eval`` end to end: the table (with signatures), results.json and bleu.png."""
from __future__ import annotations

import json

from tests.helpers import run_cli


def test_cli_writes_table_json_and_png(tmp_path, shared_data):
    rows = (shared_data / "tatoeba-cmn-eng" / "cmn-eng.tsv").read_text(encoding="utf-8").splitlines()[5000:5120]
    en = [r.split("\t")[0] for r in rows]
    (tmp_path / "test.zh").write_text("".join(r.split("\t")[1] + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "test.en.0").write_text("".join(e + "\n" for e in en), encoding="utf-8")
    (tmp_path / "test.en.1").write_text("".join(("" if i % 3 else e.lower()) + "\n" for i, e in enumerate(en)),
                                        encoding="utf-8")
    (tmp_path / "pb.txt").write_text("".join(" ".join(e.split()[:-1]) + "\n" for e in en), encoding="utf-8")
    (tmp_path / "nmt.txt").write_text("".join(e + "\n" for e in en), encoding="utf-8")
    out = tmp_path / "eval"
    proc = run_cli(["reencoder-eval", "--refs", tmp_path, "--baseline", "phrase_based",
                    "--system", f"nmt={tmp_path / 'nmt.txt'}", "--system", f"phrase_based={tmp_path / 'pb.txt'}",
                    "--out", out])
    assert "BLEU signature: `nrefs:var|bs:1000|seed:12345|case:mixed|eff:no|tok:13a" in proc.stdout
    table = (out / "table.md").read_text(encoding="utf-8")
    assert table.splitlines()[4].startswith("| phrase_based |") and "| baseline |" in table
    assert table.splitlines()[5].startswith("| nmt | 100.00 |")
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["baseline"] == "phrase_based" and results["n_lines"] == 120 and results["n_refs"] == 2
    nmt = next(s for s in results["systems"] if s["name"] == "nmt")
    assert nmt["bleu"] == 100.0 and nmt["p_bleu"] < 0.05 and set(nmt["buckets"]) == set(results["bucket_sizes"])
    png = (out / "bleu.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
