#!/usr/bin/env bash
# `make tvsub`: the TVsub corpus (DCU-Tencent Chinese-English TV-subtitle dialogues, 2.15M pairs;
# Wang et al., AAAI 2018) end to end under the project's equal wall-clock protocol, on a 2-core CPU:
#   1. data: `reencoder-data --tvsub` (streamed; the corpus's own dev set and 3-reference test set)
#   2. tuning on dev (recipes/tune_demo.sh on this data): every SYSTEM:MAX_TOKENS:LR:WARMUP of
#      TUNE_GRID trains for the first TUNE_MIN minutes (default BUDGET_MIN / 6) of a BUDGET_MIN run
#      (its learning rate on the full run's schedule: a rate that stalls the full run shows), two
#      side by side, one thread each; the best per system on dev BLEU (tokenized, lowercased) is kept
#   3. training in two lanes side by side, one CPU thread each, as in `make demo`:
#        lane 0: the Reencoder (reencoder_base), then fairseq's lstm
#        lane 1: the Thot phrase-based baseline (first THOT_MAX_TRAIN pairs), then fairseq's transformer
#      every neural system trains for BUDGET_MIN minutes of wall clock at its dev-chosen settings
#      (--lr-scheduler wallclock_linear: decayed to zero at the budget), saving AVERAGE checkpoints
#      over its last 40 % (interval from the tuning run's speed), averaged with the final state;
#      then, again two at a time: every BEAM:LENPEN of DEV_GRID decoded on dev (the same grid for
#      every neural system), the best on dev BLEU (tok, lc) decodes the test set once, and a model
#      folder per neural system ($RUNS/NAME/model, for reencoder-translate)
#   4. the table ($RUNS/table.md): BLEU the paper's way (Moses-tokenized, lowercased hypotheses
#      against the 3 tokenized, lowercased references, sacrebleu --tokenize none -lc), sacrebleu's
#      standard BLEU and chrF on detokenized text (references detokenized by sacremoses), paired
#      bootstrap against Thot, training time, updates, sentences, parameters, commands
#   5. domain adaptation (recipes/tvsub_adapt.sh; ADAPT_MIN=0 skips it): every neural TVsub model
#      fine-tuned on the Tatoeba training set for ADAPT_MIN minutes (default 10, the demo's budget)
#      in TVsub's vocabulary ($RUNS/NAME_tatoeba, with a model folder)
#   6. the cross-domain matrix ($RUNS/cross/matrix.md): these models, and the demo's if
#      $DEMO/NAME/model exist, on the Tatoeba test set, the TVsub test set and TED tst2010
#      (CROSS_LINES > 0: the first N lines of each; CROSS=0 skips it), and the demo's sentences
#      (recipes/demo_sentences.zh) by every neural model, side by side ($RUNS/cross/sentences.md)
# Re-running skips finished stages.  DEVICE_FLAGS= (empty) trains and decodes on CUDA.
# BUDGET_MIN < 10 is a quick check: smaller defaults for TUNE_GRID, THOT_MAX_TRAIN and CROSS_LINES,
# e.g. `BUDGET_MIN=3 TVSUB_LIMIT=200000 RUNS=runs/tvsub_check bash recipes/tvsub.sh` (19 min on 2 idle cores, 2026-12-05).
set -eEuo pipefail
cd "$(dirname "$0")/.."
source recipes/lib.sh

SHARED=${SHARED:-../shared/data}
TVSUB_LIMIT=${TVSUB_LIMIT:-}
DATA=${DATA:-work/data/tvsub${TVSUB_LIMIT:+_$TVSUB_LIMIT}}
RUNS=${RUNS:-runs/tvsub}
BUDGET_MIN=${BUDGET_MIN:-60}
QUICK=$(awk -v b="$BUDGET_MIN" 'BEGIN { print (b < 10) ? 1 : 0 }')
TUNE_MIN=${TUNE_MIN:-$(awk -v b="$BUDGET_MIN" 'BEGIN { print b / 6 }')}
if [ "$QUICK" = 1 ]; then
    TUNE_GRID=${TUNE_GRID:-"reencoder:512:0.007:200 lstm:512:0.005:200 transformer:1024:0.002:200 reencoder:1024:0.007:200 lstm:1024:0.005:200 transformer:2048:0.002:200"}
    THOT_MAX_TRAIN=${THOT_MAX_TRAIN:-20000}
    CROSS_LINES=${CROSS_LINES:-300}
else
    # batch size x peak learning rate around the demo's winners (recipes/lib.sh DEMO_*)
    TUNE_GRID=${TUNE_GRID:-"reencoder:512:0.007:200 reencoder:1024:0.007:200 reencoder:512:0.003:200 reencoder:1024:0.003:200
        lstm:512:0.005:200 lstm:1024:0.005:200 lstm:512:0.003:200 lstm:1024:0.003:200
        transformer:1024:0.002:600 transformer:2048:0.002:600 transformer:1024:0.001:600 transformer:2048:0.001:600"}
    # Thot's training + dev tuning in <= 45 min of one core (recipes/RESULTS.md, "TVsub")
    THOT_MAX_TRAIN=${THOT_MAX_TRAIN:-250000}
    CROSS_LINES=${CROSS_LINES:-0}
fi
AVERAGE=${AVERAGE:-5}
ADAPT_MIN=${ADAPT_MIN:-$([ "$QUICK" = 1 ] && echo 1 || echo 10)}
CROSS=${CROSS:-1}
TATOEBA=${TATOEBA:-work/data/tatoeba}
TED=${TED:-work/data/ted-tst2010}
DEMO=${DEMO:-runs/demo}
# SYSTEMS: the neural systems (any of reencoder, lstm, transformer); TRAIN_ORDER: the training
# entries, entry k in lane k mod 2; by default lane 0: reencoder, lstm; lane 1: Thot, transformer
# (as in the demo).  E.g. SYSTEMS="reencoder lstm" TRAIN_ORDER="reencoder lstm phrase_based" trains
# the two side by side, then Thot (skipped where $RUNS/phrase_based already holds its test output).
# shellcheck disable=SC2206
NEURAL=(${SYSTEMS:-reencoder lstm transformer})
for name in "${NEURAL[@]}"; do arch_flags "$name" > /dev/null; done
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# every fairseq-generate: output length at most 2 x source pieces + 10, as reencoder-translate
export DECODE_ARGS=${DECODE_ARGS---max-len-a 2 --max-len-b 10}
EVAL_ARGS=(--detok-refs --tok-bleu --lc)
trap 'echo "error: recipes/tvsub.sh: stage ${CURRENT_STAGE:-setup} failed (exit $?), see the message above; lane logs in $RUNS" >&2' ERR
mkdir -p "$RUNS"
touch "$RUNS/times.tsv"  # appended to by every invocation: a resumed run's stages add up
echo "TVsub: data $DATA, runs $RUNS, $BUDGET_MIN min per neural system (tuning $TUNE_MIN min per configuration)," \
     "Thot on $THOT_MAX_TRAIN pairs, $OMP_NUM_THREADS thread each" >&2

stage data "$BIN/reencoder-data" --tvsub "$SHARED/tvsub-zh-en" ${TVSUB_LIMIT:+--tvsub-limit "$TVSUB_LIMIT"} --out "$DATA"
# the grid's C++ gate kernels built before any timed run (a cold build inside the first tuning run
# would eat its budget: 4 updates in 30 s against 48 for the next one, on this machine)
stage kernels "$BIN/python" -c "from reencoder.grid.gate_kernels import report; print(report())" > /dev/null
stage tune env DATA="$DATA" RUNS="$RUNS/tune" BUDGET_MIN="$TUNE_MIN" SCHEDULE_MIN="$BUDGET_MIN" GRID="$(echo $TUNE_GRID)" \
    EVAL_ARGS="${EVAL_ARGS[*]}" TUNE_METRIC=tok_bleu bash recipes/tune_demo.sh > "$RUNS/tune.txt"

# interval_flags TRAINING_JSON: fairseq-train flags that save (and validate) AVERAGE checkpoints over
# the last 40 % of a BUDGET_MIN run, its updates estimated from a tuning run's (TUNE_MIN minutes);
# at least 10 updates apart
interval_flags() {
    "$BIN/python" - "$1" "$BUDGET_MIN" "$TUNE_MIN" "$AVERAGE" <<'EOF'
import json, sys
updates = json.load(open(sys.argv[1], encoding="utf-8"))["updates"]
expected = updates * float(sys.argv[2]) / float(sys.argv[3])
every = max(10, round(0.4 * expected / int(sys.argv[4])))
print(f"--save-interval-updates {every} --keep-interval-updates {sys.argv[4]} "
      f"--validate-after-updates {round(0.6 * expected)}")
EOF
}

# train_system NAME: BUDGET_MIN minutes at the settings NAME's tuning run won with on dev
train_system() {
    local name=$1 winner tuned flags saves
    winner=$("$BIN/python" -m eval.tuning_best --metric tok_bleu --winner "$name" "$RUNS/tune/eval/results.json")
    read -r tuned flags <<< "$winner"
    saves=$(interval_flags "$RUNS/tune/$tuned/training.json")
    echo "=== $name: tuning winner $tuned; $saves" >&2
    # shellcheck disable=SC2046,SC2086
    stage "train_$name" train_nmt "$name" "$DATA/bin" 0 $(arch_flags "$name") "${DEMO_OPT[@]}" \
        $(budget "$BUDGET_MIN") $flags $saves ${EXTRA_TRAIN_ARGS:-}
}

# train_entry NAME: one entry of the training lanes: Thot (phrase_based), or a neural system
# trained and its final checkpoints averaged
train_entry() {
    local name=$1 ckpt=$RUNS/$1/ckpt/checkpoint_avg.pt
    if [ "$name" = phrase_based ]; then
        [ -s "$RUNS/phrase_based/test.hyp" ] && return 0
        local cmd=("$BIN/reencoder-baseline" run --data "$DATA" --out "$RUNS/phrase_based" --max-train "$THOT_MAX_TRAIN" --quiet)
        stage phrase_based "${cmd[@]}"
        "$BIN/python" -m eval.training_info --baseline "$RUNS/phrase_based/model" --command "${cmd[*]}" \
            --out "$RUNS/phrase_based/training.json"
        return 0
    fi
    train_system "$name"
    newer "$ckpt" "$RUNS/$name/ckpt/checkpoint_last.pt" || stage "average_$name" "$BIN/reencoder-average" \
        --save-dir "$RUNS/$name/ckpt" --last "$AVERAGE" --final --out "$ckpt"
}

# dev_entry NAME:BEAM:LENPEN: the averaged model's dev decode at that beam and length penalty
dev_entry() {
    dev_decode "${1%%:*}" "$DATA/bin" "$RUNS/${1%%:*}/ckpt/checkpoint_avg.pt" "${1#*:}"
}

# finish_entry NAME: the best dev decode (BLEU tok, lc) -> $RUNS/NAME/decoding.txt, the test set
# decoded once with it, the model folder
finish_entry() {
    local name=$1 ckpt=$RUNS/$1/ckpt/checkpoint_avg.pt
    newer "$RUNS/$name/decoding.txt" "$ckpt" || pick_decoding "$name" "$DATA/split" tok_bleu "${EVAL_ARGS[@]}"
    # shellcheck disable=SC2046
    newer "$RUNS/$name/test.hyp" "$RUNS/$name/decoding.txt" ||
        stage "decode_$name" generate_nmt "$name" "$DATA/bin" "$ckpt" $(cat "$RUNS/$name/decoding.txt")
    # shellcheck disable=SC2046
    newer "$RUNS/$name/model/config.json" "$RUNS/$name/decoding.txt" || stage "export_$name" \
        "$BIN/reencoder-export" --checkpoint "$ckpt" --data "$DATA" --out "$RUNS/$name/model" \
        $(cat "$RUNS/$name/decoding.txt")
}

# shellcheck disable=SC2086
phase lanes_train train_entry ${TRAIN_ORDER:-reencoder phrase_based lstm transformer}
dev_entries=()
for name in "${NEURAL[@]}"; do
    for entry in $DEV_GRID; do dev_entries+=("$name:$entry"); done
done
phase lanes_dev dev_entry "${dev_entries[@]}"
phase lanes_test finish_entry "${NEURAL[@]}"

systems=()
for name in phrase_based "${NEURAL[@]}"; do
    # shellcheck disable=SC2207
    systems+=($(system_flags "$name" "$RUNS/$name/test.hyp"))
done
stage eval "$BIN/reencoder-eval" --refs "$DATA/split" --prefix test --baseline phrase_based "${EVAL_ARGS[@]}" \
    "${systems[@]}" --out "$RUNS/eval" > /dev/null
# the Tatoeba data, for the fine-tuning and the cross-domain matrix
if [ "$ADAPT_MIN" != 0 ] || [ "$CROSS" = 1 ]; then
    [ -f "$TATOEBA/manifest.json" ] || stage data_tatoeba "$BIN/reencoder-data" \
        --tatoeba "$SHARED/tatoeba-cmn-eng/cmn-eng.tsv" --out "$TATOEBA"
fi
if [ "$ADAPT_MIN" != 0 ]; then source recipes/tvsub_adapt.sh; fi
if [ "$CROSS" = 1 ]; then source recipes/tvsub_cross.sh; fi

{
    echo "TVsub test set (1,154 lines, 3 references; baseline Thot), $BUDGET_MIN min per neural system:"
    echo
    cat "$RUNS/eval/table.md"
    echo "Decoding, chosen on dev (BLEU tok, lc) for every neural system alike from $DEV_GRID (BEAM:LENPEN):"
    for name in "${NEURAL[@]}"; do echo "* $name: $(cat "$RUNS/$name/decoding.txt")"; done
    echo "* phrase_based: Thot on the first $THOT_MAX_TRAIN training pairs, its own weights tuned on dev"
    echo
    echo "Published numbers: the TVsub paper's SMT and NMT baselines (Wang et al., AAAI 2018, the same test set," \
         "case-insensitive BLEU) could not be read in this environment; they are not quoted here."
    if [ -s "$RUNS/cross/matrix.md" ]; then
        echo
        echo "Cross-domain (rows: tvsub_* trained here, tvsub+tatoeba_* those fine-tuned on Tatoeba, demo_* by make demo;" \
             "$([ "$CROSS_LINES" -gt 0 ] && echo "the first $CROSS_LINES" || echo all) lines of each set):"
        echo
        cat "$RUNS/cross/matrix.md"
    fi
    if [ -s "$RUNS/cross/sentences.md" ]; then
        echo
        echo "The demo's sentences (recipes/demo_sentences.zh), every neural model:"
        echo
        cat "$RUNS/cross/sentences.md"
    fi
    echo
    echo "Wall time per stage (s, summed over the recipe's invocations; two lanes side by side):"
    awk -F'\t' '!($1 in s) { order[n++] = $1 } { s[$1] += $2 } END { for (i = 0; i < n; i++) print order[i], s[order[i]] }' \
        "$RUNS/times.tsv" | column -t
    echo
    echo "Translate raw Chinese: echo '你好,我们走吧。' | $BIN/reencoder-translate --model $RUNS/reencoder/model"
} | tee "$RUNS/table.md"
