#!/usr/bin/env bash
# Tuning for the demo's equal wall-clock protocol: each neural system's batch size, peak learning
# rate and warm-up, chosen on dev.  Every configuration of GRID trains for exactly the demo's
# budget (BUDGET_MIN minutes of wall-clock, one CPU thread, two configurations side by side as
# in the demo's two lanes; --lr-scheduler wallclock_linear decays to zero at the budget), then
# decodes the multi-reference dev set (beam 5) and is scored on it.  The test set is never read.
#   GRID entries: SYSTEM:MAX_TOKENS:LR:WARMUP[:PRECISION], SYSTEM = reencoder | lstm | transformer;
#   PRECISION (reencoder only) = fp32 | bf16 pins the grid's GEMMs (--grid-bf16 never | always;
#   without it --grid-bf16 auto: bf16 where it is native, fp32 elsewhere)
# Output: runs/tune/eval/table.md (dev BLEU, chrF, training time, updates, last dev loss, exact
# command per configuration) and the best configuration per system on dev BLEU.
# DATA, RUNS, BUDGET_MIN, LANES, EVAL_ARGS (reencoder-eval flags) and TUNE_METRIC (bleu | tok_bleu)
# let another recipe tune on its own data (recipes/tvsub.sh; DECODE_ARGS go to every decode).
# SCHEDULE_MIN (default BUDGET_MIN): the learning rate decays to zero at SCHEDULE_MIN minutes, so
# with SCHEDULE_MIN > BUDGET_MIN each tuning run is the first BUDGET_MIN minutes of a run of
# SCHEDULE_MIN (recipes/tvsub.sh: its training budget; a rate that stalls a long run shows there).
# Copy the winners into recipes/lib.sh's DEMO_* settings.  A re-run skips finished runs.
source "$(dirname "$0")/tatoeba_env.sh"  # strict mode, the repository root, lib.sh; SHARED, DATA, TED
RUNS=${RUNS:-runs/tune}
BUDGET_MIN=${BUDGET_MIN:-10}
SCHEDULE_MIN=${SCHEDULE_MIN:-$BUDGET_MIN}
LANES=${LANES:-2}
# reencoder-eval's extra flags and the score that ranks (recipes/tvsub.sh: --detok-refs --tok-bleu, tok_bleu)
EVAL_ARGS=${EVAL_ARGS:-}
TUNE_METRIC=${TUNE_METRIC:-bleu}
GRID=${GRID:-"reencoder:512:0.005:200 reencoder:1024:0.005:200 lstm:512:0.003:200 lstm:1024:0.003:200 transformer:1024:0.002:200 transformer:2048:0.003:200"}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
read -r -a entries <<< "$GRID"
for entry in "${entries[@]}"; do
    [[ "$entry" =~ ^((reencoder|lstm|transformer):[0-9]+:[0-9.e-]+:[0-9]+|reencoder:[0-9]+:[0-9.e-]+:[0-9]+:(fp32|bf16))$ ]] ||
        { echo "error: GRID entry '$entry' is not SYSTEM:MAX_TOKENS:LR:WARMUP[:fp32|bf16] (a precision for reencoder only)" >&2; exit 2; }
done
mkdir -p "$RUNS"
touch "$RUNS/times.tsv"

[ -f "$DATA/manifest.json" ] || tatoeba_data "$DATA"

# run_name SYSTEM:TOKENS:LR:WARMUP[:PRECISION]: the run's folder name, SYSTEM_tTOKENS_lrLR_wWARMUP[_PRECISION]
run_name() { local IFS=:; set -- $1; echo "${1}_t${2}_lr${3}_w${4}${5:+_$5}"; }
# tune_one SYSTEM:TOKENS:LR:WARMUP[:PRECISION]: train for the budget, then decode dev
tune_one() {
    local sys tok lr wu prec arch name
    IFS=: read -r sys tok lr wu prec <<< "$1"
    # shellcheck disable=SC2207
    arch=($(arch_flags "$sys"))
    case "$prec" in
        fp32) arch+=(--grid-bf16 never) ;;
        bf16) arch+=(--grid-bf16 always) ;;
    esac
    name=$(run_name "$1")
    # shellcheck disable=SC2046
    stage "train_$name" train_nmt "$name" "$DATA/bin" 0 "${arch[@]}" "${DEMO_OPT[@]}" \
        $(budget "$BUDGET_MIN" "$SCHEDULE_MIN") --max-tokens "$tok" --lr "$lr" --warmup-updates "$wu"
    newer "$RUNS/$name/dev.hyp" "$RUNS/$name/ckpt/checkpoint_last.pt" ||
        stage "dev_$name" decode valid "$DATA/bin" "$RUNS/$name/ckpt/checkpoint_last.pt" "$RUNS/$name/dev"
}

in_lanes "$LANES" "$RUNS" tune_one "${entries[@]}"

flags=()
for entry in "${entries[@]}"; do
    name=$(run_name "$entry")
    # shellcheck disable=SC2207
    flags+=($(system_flags "$name" "$RUNS/$name/dev.hyp"))
done
# shellcheck disable=SC2086
stage eval "$BIN/reencoder-eval" --refs "$DATA/split" --prefix dev $EVAL_ARGS "${flags[@]}" --out "$RUNS/eval" > /dev/null
cat "$RUNS/eval/table.md"
echo
echo "Best on dev $TUNE_METRIC per system (budget $BUDGET_MIN min, $OMP_NUM_THREADS thread):"
"$BIN/python" -m eval.tuning_best --metric "$TUNE_METRIC" "$RUNS/eval/results.json"
