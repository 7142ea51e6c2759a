#!/usr/bin/env bash
# Tuning for the full recipe: each configuration of GRID runs recipes/tatoeba_full.sh with
# DEV_ONLY=1 (trained to its budget or to early stopping on one CPU thread, LANES side by side,
# the checkpoints around the best dev loss averaged, beam size and length penalty tuned on dev;
# the test set is never read), then every configuration's best dev decode is scored together.
#   GRID entries: SYSTEM:MAX_TOKENS:LR:WARMUP:SCHEDULE:BUDGET_MIN:DROPOUT, SYSTEM = reencoder |
#   lstm | transformer, SCHEDULE = wallclock (linear decay to zero at the budget) | invsqrt
#   (inverse square root; --patience stops it early)
# Output: $RUNS/eval/table.md (dev BLEU, chrF, training minutes, updates, exact command per
# configuration) and the best configuration per system as tatoeba_full.sh settings.
# A re-run skips finished configurations.
source "$(dirname "$0")/tatoeba_env.sh"  # strict mode, the repository root, lib.sh; SHARED, DATA, TED
RUNS=${RUNS:-runs/full_tune}
LANES=${LANES:-2}
GRID=${GRID:-"reencoder:1024:0.005:300:invsqrt:60:0.1 reencoder:512:0.005:200:wallclock:25:0.2
lstm:1024:0.003:300:invsqrt:60:0.1 lstm:512:0.003:200:wallclock:25:0.2 lstm:1024:0.003:300:wallclock:25:0.2
transformer:4096:0.002:400:invsqrt:60:0.1 transformer:4096:0.002:400:wallclock:60:0.1"}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$RUNS"
touch "$RUNS/times.tsv"

[ -f "$DATA/manifest.json" ] || tatoeba_data "$DATA"

# run_name ENTRY: the configuration's folder, SYSTEM_tTOKENS_lrLR_wWARMUP_SCHEDULEMIN_dDROPOUT
run_name() { local IFS=:; set -- $1; echo "${1}_t${2}_lr${3}_w${4}_${5}${6}_d${7}"; }
# tune_one ENTRY: the full recipe up to its dev tuning, in $RUNS/NAME/SYSTEM
tune_one() {
    local sys tok lr wu sched min drop
    IFS=: read -r sys tok lr wu sched min drop <<< "$1"
    [ "$sched" = invsqrt ] && sched=inverse_sqrt
    SYSTEM=$sys MAX_TOKENS=$tok LR=$lr WARMUP=$wu SCHEDULE=$sched BUDGET_MIN=$min EXTRA_TRAIN_ARGS="--dropout $drop" \
        SKIP_DATA=1 DEV_ONLY=1 DATA=$DATA SHARED=$SHARED RUNS="$RUNS/$(run_name "$1")" bash recipes/tatoeba_full.sh
}

read -r -a entries <<< "$(echo $GRID)"
for entry in "${entries[@]}"; do
    [[ "$entry" =~ ^(reencoder|lstm|transformer):[0-9]+:[0-9.e-]+:[0-9]+:(wallclock|invsqrt):[0-9.]+:[0-9.]+$ ]] ||
        { echo "error: GRID entry '$entry' is not SYSTEM:MAX_TOKENS:LR:WARMUP:SCHEDULE:BUDGET_MIN:DROPOUT" >&2; exit 2; }
done
in_lanes "$LANES" "$RUNS" tune_one "${entries[@]}"

# every configuration's best dev decode (the beam and length penalty it chose), scored together
flags=()
for entry in "${entries[@]}"; do
    name=$(run_name "$entry") sys=${entry%%:*}
    best=$(grep "^best on dev:" "$RUNS/$name/$sys/dev_tuning.txt" | tail -n 1)
    [[ "$best" =~ --beam\ ([0-9]+)\ --lenpen\ ([0-9.]+) ]] ||
        { echo "error: $RUNS/$name/$sys/dev_tuning.txt: no 'best on dev' line" >&2; exit 1; }
    flags+=(--system "$name=$RUNS/$name/$sys/dev_b${BASH_REMATCH[1]}_lp${BASH_REMATCH[2]}.hyp"
            --training "$name=$RUNS/$name/$sys/training.json")
done
stage eval "$BIN/reencoder-eval" --refs "$DATA/split" --prefix dev "${flags[@]}" --out "$RUNS/eval" > /dev/null
cat "$RUNS/eval/table.md"
echo
echo "Best on dev BLEU per system (full recipe, $OMP_NUM_THREADS thread):"
"$BIN/python" -m eval.tuning_best "$RUNS/eval/results.json"
