#!/usr/bin/env bash
# Out-of-domain robustness: models trained on Tatoeba (make demo or recipes/tatoeba_full.sh)
# translate the official IWSLT15 TED tst2010 set (1,570 long, spoken-style segments), encoded
# with the Tatoeba sentencepiece models and dictionaries.  Expect low BLEU: the point is
# robustness to long inputs and the relative order of the systems.  Single reference.
source "$(dirname "$0")/tatoeba_env.sh"  # strict mode, the repository root, lib.sh; SHARED, DATA, TED
RUNS=${RUNS:-runs/ted}
MODELS=${MODELS:-runs/demo}   # a folder with reencoder/ transformer/ lstm/ phrase_based/
SET=${SET:-tst2010}
mkdir -p "$RUNS"
: > "$RUNS/times.tsv"

ted_data "$SET" "$DATA" "$TED"

systems=()
for name in reencoder transformer lstm; do
    ckpt="$MODELS/$name/ckpt/checkpoint_last.pt"
    [ -f "$ckpt" ] || continue
    mkdir -p "$RUNS/$name"
    stage "decode_$name" generate_nmt "$name" "$TED/bin" "$ckpt" --max-len-a 1.5 --max-len-b 10
    systems+=(--system "$name=$RUNS/$name/test.hyp")
done
if [ -d "$MODELS/phrase_based/model" ]; then
    mkdir -p "$RUNS/phrase_based"
    stage decode_phrase_based "$BIN/reencoder-baseline" translate --model "$MODELS/phrase_based/model" \
        --input "$TED/split/test.zh" --output "$RUNS/phrase_based/test.hyp"
    systems=(--system "phrase_based=$RUNS/phrase_based/test.hyp" "${systems[@]}")
fi
stage eval "$BIN/reencoder-eval" --refs "$TED/split" --prefix test "${systems[@]}" --out "$RUNS/eval"
