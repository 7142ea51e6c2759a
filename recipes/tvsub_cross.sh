# The cross-domain matrix of recipes/tvsub.sh (sourced by it, after its table; its variables):
# every model folder of $RUNS (TVsub, and fine-tuned on Tatoeba: recipes/tvsub_adapt.sh) and of $DEMO (the Tatoeba demo, where `make demo` ran) on the
# Tatoeba test set ($TATOEBA), the TVsub test set ($DATA) and IWSLT15 TED tst2010 ($TED), the first
# CROSS_LINES lines of each (0: all).  A model's in-domain test output is reused; the rest is
# translated from the raw Chinese with the model folder (reencoder-translate at the model's
# dev-chosen beam and length penalty, the demo's models at beam 5; reencoder-baseline translate
# for Thot).  Output: $RUNS/cross/SET/{MODEL.hyp,eval/} and $RUNS/cross/matrix.md.
CROSS_SETS=(tatoeba tvsub ted)

# cross_refs SET SPLIT: $RUNS/cross/SET/refs: SPLIT's test.zh and test.en.K (the first CROSS_LINES
# lines), each file rewritten only when it changes (a newer test.zh makes the outputs stale)
cross_refs() {
    local out=$RUNS/cross/$1/refs file
    mkdir -p "$out"
    for file in "$2"/test.zh "$2"/test.en.[0-9]*; do
        cut_lines < "$file" > "$out/tmp"
        if cmp -s "$out/tmp" "$out/${file##*/}"; then rm "$out/tmp"; else mv "$out/tmp" "$out/${file##*/}"; fi
    done
}

# cut_lines: stdin's first CROSS_LINES lines (all when 0)
cut_lines() {
    if [ "$CROSS_LINES" -gt 0 ]; then head -n "$CROSS_LINES"; else cat; fi
}

# model_home KEY: the run folder of a model key (tvsub_NAME, tvsub+tatoeba_NAME: fine-tuned on
# Tatoeba by recipes/tvsub_adapt.sh, or demo_NAME; NAME a system folder)
model_home() {
    case "$1" in
        tvsub_*)         echo "$RUNS/${1#tvsub_}" ;;
        tvsub+tatoeba_*) echo "$RUNS/${1#tvsub+tatoeba_}_tatoeba" ;;
        demo_*)          echo "$DEMO/${1#demo_}" ;;
    esac
}

# decoding_flags HOME: the beam search flags a model folder's run chose on dev (the demo's: beam 5)
decoding_flags() {
    cat "$1/decoding.txt" 2> /dev/null || echo "--beam 5 --lenpen 1.0"
}

# cross_decode KEY:SET: the model's output on SET into $RUNS/cross/SET/KEY.hyp
cross_decode() {
    local key=${1%%:*} set=${1#*:} home own flags
    home=$(model_home "$key")
    own=$([ "${key%%_*}" = tvsub ] && echo tvsub || echo tatoeba)
    local out=$RUNS/cross/$set/$key.hyp src=$RUNS/cross/$set/refs/test.zh
    newer "$out" "$home/test.hyp" && newer "$out" "$src" && return 0
    if [ "$set" = "$own" ] && [ -s "$home/test.hyp" ]; then
        cut_lines < "$home/test.hyp" > "$out"
    elif [ "${key#*_}" = phrase_based ]; then
        stage "cross_${key}_$set" "$BIN/reencoder-baseline" translate --model "$home/model" --input "$src" --output "$out"
    else
        flags=$(decoding_flags "$home")
        # shellcheck disable=SC2086
        stage "cross_${key}_$set" "$BIN/reencoder-translate" --model "$home/model" --input "$src" \
            --output "$out.tmp" $flags --quiet
        mv "$out.tmp" "$out"
    fi
}

ted_data tst2010 "$TATOEBA" "$TED"
cross_refs tatoeba "$TATOEBA/split"
cross_refs tvsub "$DATA/split"
cross_refs ted "$TED/split"
cross_models=()
for origin in tvsub tvsub+tatoeba demo; do
    for name in phrase_based reencoder lstm transformer; do
        home=$(model_home "${origin}_$name")
        [ -e "$home/model" ] && [ -s "$home/test.hyp" ] && cross_models+=("${origin}_$name")
    done
done
cross_entries=()
for key in "${cross_models[@]}"; do
    for set in "${CROSS_SETS[@]}"; do cross_entries+=("$key:$set"); done
done
in_lanes 2 "$RUNS/cross" cross_decode "${cross_entries[@]}"
matrix=()
for set in "${CROSS_SETS[@]}"; do
    flags=()
    for key in "${cross_models[@]}"; do flags+=(--system "$key=$RUNS/cross/$set/$key.hyp"); done
    # shellcheck disable=SC2046
    stage "cross_eval_$set" "$BIN/reencoder-eval" --refs "$RUNS/cross/$set/refs" --prefix test \
        $([ "$set" = tvsub ] && echo "${EVAL_ARGS[*]}") "${flags[@]}" --out "$RUNS/cross/$set/eval" > /dev/null
    matrix+=(--set "$set test=$RUNS/cross/$set/eval/results.json")
done
"$BIN/python" -m eval.matrix "${matrix[@]}" --out "$RUNS/cross/matrix.md" > /dev/null

# the demo's sentences (recipes/demo_sentences.zh: the README's examples and a few lines of
# dialogue) translated by every neural model folder above, side by side: $RUNS/cross/sentences.md
sentence_models=()
for key in "${cross_models[@]}"; do [ "${key#*_}" != phrase_based ] && sentence_models+=("$key"); done
mkdir -p "$RUNS/cross/sentences"
files=()
for key in "${sentence_models[@]}"; do
    out=$RUNS/cross/sentences/$key.txt home=$(model_home "$key")
    files+=("$out")
    newer "$out" recipes/demo_sentences.zh && newer "$out" "$home/model/model.pt" && continue
    # shellcheck disable=SC2046
    "$BIN/reencoder-translate" --model "$home/model" --input recipes/demo_sentences.zh \
        --output "$out.tmp" $(decoding_flags "$home") --quiet
    mv "$out.tmp" "$out"
done
{
    printf '| Chinese |'; printf ' %s |' "${sentence_models[@]}"; echo
    printf '|---|'; printf -- '---|%.0s' "${sentence_models[@]}"; echo
    paste recipes/demo_sentences.zh "${files[@]}" | awk -F'\t' '{ printf "|"; for (i = 1; i <= NF; i++) printf " %s |", $i; print "" }'
} > "$RUNS/cross/sentences.md"
