#!/usr/bin/env bash
# The full recipe's results tables, after `SYSTEM=NAME bash recipes/tatoeba_full.sh` for each of
# reencoder, transformer and lstm: the Thot phrase-based baseline (THOT, default the demo's
# runs/demo/phrase_based, trained here into $RUNS/phrase_based when missing) and every neural
# system that finished, scored on
#   1. the Tatoeba test set (multi-reference): $RUNS/eval/table.md, results.json
#   2. IWSLT15 TED tst2010 (out of domain, one reference): $RUNS/eval_ted/table.md, results.json
# with BLEU, chrF, 95 % CIs, paired bootstrap against Thot, and how each system was trained.
source "$(dirname "$0")/tatoeba_env.sh"  # strict mode, the repository root, lib.sh; SHARED, DATA, TED
RUNS=${RUNS:-runs/full}
THOT=${THOT:-runs/demo/phrase_based}
mkdir -p "$RUNS"
touch "$RUNS/times.tsv"

if [ ! -s "$THOT/test.hyp" ] || [ ! -d "$THOT/model" ]; then
    THOT=$RUNS/phrase_based
    [ -s "$THOT/test.hyp" ] || stage phrase_based "$BIN/reencoder-baseline" run --data "$DATA" --out "$THOT" --quiet
fi
ted_data tst2010 "$DATA" "$TED"
newer "$THOT/ted.hyp" "$THOT/test.hyp" || stage ted_phrase_based "$BIN/reencoder-baseline" translate \
    --model "$THOT/model" --input "$TED/split/test.zh" --output "$THOT/ted.hyp"

test_flags=(--system "phrase_based=$THOT/test.hyp") ted_flags=(--system "phrase_based=$THOT/ted.hyp")
for name in reencoder transformer lstm; do
    [ -s "$RUNS/$name/test.hyp" ] || { echo "($name: no $RUNS/$name/test.hyp, left out)" >&2; continue; }
    # shellcheck disable=SC2207
    test_flags+=($(system_flags "$name" "$RUNS/$name/test.hyp"))
    # shellcheck disable=SC2207
    [ -s "$RUNS/$name/ted.hyp" ] && ted_flags+=($(system_flags "$name" "$RUNS/$name/ted.hyp"))
done
stage eval "$BIN/reencoder-eval" --refs "$DATA/split" --prefix test --baseline phrase_based "${test_flags[@]}" \
    --out "$RUNS/eval" > /dev/null
stage eval_ted "$BIN/reencoder-eval" --refs "$TED/split" --prefix test --baseline phrase_based "${ted_flags[@]}" \
    --out "$RUNS/eval_ted" > /dev/null
echo "== Tatoeba test"; cat "$RUNS/eval/table.md"
echo; echo "== IWSLT15 TED tst2010 (out of domain)"; cat "$RUNS/eval_ted/table.md"
for name in reencoder transformer lstm; do
    [ -s "$RUNS/$name/dev_tuning.txt" ] && { echo; echo "$name: $(tail -n 1 "$RUNS/$name/dev_tuning.txt")"; }
done
true
