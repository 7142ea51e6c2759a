"""The TVsub paper's BLEU (tokenized, lowercased) and detokenized references in reencoder-eval."""
from __future__ import annotations

import json

from eval.cli import main as eval_main
from eval.scoring import evaluate
from eval.tokenized import detokenize_references, tokenize_lower

# TVsub-style references: Moses tokens, "@-@" hyphens, lowercased
REFS = [["no problems . it 's all taken care of .", "woo @-@ hoo , mrs. ross !"],
        ["no problem . it 's taken care of .", "woo @-@ hoo !"]]
HYPS = ["No problems. It's all taken care of.", "Woo-hoo, Mrs. Ross!"]


def write_set(root, hyps):
    (root / "test.zh").write_text("没问题\n呜呼\n", encoding="utf-8")
    for k, stream in enumerate(REFS):
        (root / f"test.en.{k}").write_text("".join(r + "\n" for r in stream), encoding="utf-8")
    path = root / "hyp.txt"
    path.write_text("".join(h + "\n" for h in hyps), encoding="utf-8")
    return path


def test_hypotheses_are_tokenized_before_lowercasing_like_the_references():
    assert tokenize_lower(HYPS + [""]) == ["no problems . it 's all taken care of .",
                                           "woo @-@ hoo , mrs. ross !", ""]


def test_references_are_detokenized_and_missing_ones_stay_missing():
    assert detokenize_references([[REFS[0][0], None]]) == [["no problems. it's all taken care of.", None]]


def test_tokenized_bleu_is_100_for_a_detokenized_cased_reference(tmp_path):
    hyp = write_set(tmp_path, HYPS)
    ev = evaluate({"sys": hyp, "copy": hyp}, tmp_path, tok_bleu=True, detok_refs=True)
    first, second = ev.systems
    assert first.tok_bleu == 100.0 and first.p_tok_bleu is None and second.p_tok_bleu == 1.0
    assert "tok:none" in ev.tok_bleu_signature and "case:lc" in ev.tok_bleu_signature
    assert ev.refs_detokenized and first.bleu < 100  # 13a, mixed case against lowercased refs
    lower = write_set(tmp_path, [h.lower() for h in HYPS])
    assert evaluate({"sys": lower}, tmp_path, detok_refs=True).systems[0].bleu == 100.0
    plain = evaluate({"sys": lower}, tmp_path)  # the tokenized references as they are: "it 's"
    assert plain.systems[0].tok_bleu is None and plain.tok_bleu_signature is None
    assert plain.systems[0].bleu < 100


def test_cli_table_has_the_tokenized_columns_and_signature(tmp_path, capsys):
    hyp = write_set(tmp_path, HYPS)
    assert eval_main(["--refs", str(tmp_path), "--system", f"sys={hyp}", "--tok-bleu", "--detok-refs",
                      "--out", str(tmp_path / "eval")]) == 0
    table = (tmp_path / "eval" / "table.md").read_text(encoding="utf-8")
    assert "| System | BLEU (tok, lc) | 95% CI | p | BLEU |" in table
    assert "| sys | 100.00 | 100.00 ± 0.00 | baseline |" in table
    assert "BLEU signature (references detokenized by sacremoses)" in table
    assert "BLEU (tok, lc) signature" in table
    saved = json.loads((tmp_path / "eval" / "results.json").read_text(encoding="utf-8"))
    assert saved["systems"][0]["tok_bleu"] == 100.0 and saved["refs_detokenized"] is True
    assert "BLEU (tok, lc) 100.00" in capsys.readouterr().out


def test_lc_makes_sacrebleus_bleu_case_insensitive_against_lowercased_references(tmp_path):
    hyp = write_set(tmp_path, HYPS)  # cased hypotheses, lowercased references
    cased = evaluate({"sys": hyp}, tmp_path, detok_refs=True).systems[0]
    lc_eval = evaluate({"sys": hyp}, tmp_path, detok_refs=True, lowercase=True)
    lc = lc_eval.systems[0]
    assert cased.bleu < 100 and lc.bleu == 100.0 and "case:lc" in lc_eval.bleu_signature
    assert lc.chrf == cased.chrf  # chrF stays case-sensitive
    assert set(lc.buckets.values()) == {100.0}
    assert eval_main(["--refs", str(tmp_path), "--system", f"sys={hyp}", "--detok-refs", "--lc",
                      "--out", str(tmp_path / "eval")]) == 0
    assert "case:lc" in (tmp_path / "eval" / "table.md").read_text(encoding="utf-8")
