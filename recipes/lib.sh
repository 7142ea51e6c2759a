# Shared shell functions for the recipes (sourced, not run).  Every step calls a public CLI:
# fairseq-train / fairseq-generate with --user-dir reencoder, reencoder-data, reencoder-baseline,
# reencoder-export, reencoder-eval.  A step whose output exists is skipped, so a re-run resumes.

BIN=${BIN:-.venv/bin}
PLUGIN=${PLUGIN:-reencoder}
# --cpu by default; DEVICE_FLAGS= (empty) trains and decodes on CUDA when torch sees a GPU.
DEVICE_FLAGS=${DEVICE_FLAGS---cpu}
export PYTHONUNBUFFERED=1

# The neural baselines' architectures, shared by the recipes (fairseq's own models).
TRANSFORMER_ARCH=(--arch transformer --encoder-layers 3 --decoder-layers 3
    --encoder-embed-dim 256 --decoder-embed-dim 256
    --encoder-ffn-embed-dim 1024 --decoder-ffn-embed-dim 1024
    --encoder-attention-heads 4 --decoder-attention-heads 4
    --share-decoder-input-output-embed --dropout 0.1)
LSTM_ARCH=(--arch lstm --encoder-embed-dim 256 --decoder-embed-dim 256 --decoder-out-embed-dim 256
    --encoder-hidden-size 256 --decoder-hidden-size 256 --encoder-layers 1 --decoder-layers 1
    --share-decoder-input-output-embed --dropout 0.1)

# arch_flags SYSTEM: the fairseq-train architecture flags of a neural system of the recipes
# (reencoder = reencoder_base, lstm, transformer) as words: arch=($(arch_flags lstm))
arch_flags() {
    case "$1" in
        reencoder)   echo "--arch reencoder_base" ;;
        lstm)        echo "${LSTM_ARCH[*]}" ;;
        transformer) echo "${TRANSFORMER_ARCH[*]}" ;;
        *) echo "error: system must be reencoder, lstm or transformer, got '$1'" >&2; return 2 ;;
    esac
}

# The demo's optimiser and loss (every Tatoeba recipe): fairseq's Adam in torch's fused kernel
# (--optimizer fused_adam, the plugin's: the same updates, one pass per parameter).
DEMO_OPT=(--optimizer fused_adam --adam-betas '(0.9,0.98)' --clip-norm 1.0
    --criterion label_smoothed_cross_entropy --label-smoothing 0.1)
# The inverse square root learning-rate schedule after 200 warm-up updates, for runs of unknown
# length (ablation.sh's time budget); a known budget decays linearly to zero (`budget` below).
INVSQRT=(--lr-scheduler inverse_sqrt --warmup-updates 200 --warmup-init-lr 1e-07)
DEMO_TRAIN=("${DEMO_OPT[@]}" "${INVSQRT[@]}")

# hours MINUTES: MINUTES in hours, for fairseq's --stop-time-hours
hours() {
    "$BIN/python" -c "import sys; print(float(sys.argv[1]) / 60)" "$1"
}

# budget MINUTES [SCHEDULE_MINUTES]: fairseq-train flags for a wall-clock training budget: stop
# after MINUTES of training (fairseq's --stop-time-hours) with the learning rate warmed up over
# --warmup-updates and decayed linearly to zero at SCHEDULE_MINUTES (default MINUTES; the plugin's
# --lr-scheduler wallclock_linear).  SCHEDULE_MINUTES > MINUTES: the first MINUTES of a longer run.
budget() {
    echo "--stop-time-hours $(hours "$1") --lr-scheduler wallclock_linear --time-budget-hours $(hours "${2:-$1}")"
}

# The demo's per-system settings under its equal wall-clock protocol: batch size (tokens), peak
# learning rate and warm-up updates, each chosen on dev by recipes/tune_demo.sh at the demo's
# budget (its table: recipes/RESULTS.md, "Tuning the demo's systems").
DEMO_REENCODER=(--max-tokens 512 --lr 0.007 --warmup-updates 200)
DEMO_LSTM=(--max-tokens 512 --lr 0.005 --warmup-updates 200)
DEMO_TRANSFORMER=(--max-tokens 1024 --lr 0.002 --warmup-updates 600)
# Each system's weight decay (decoupled, as fairseq's adam applies --weight-decay), chosen on dev
# loss by single-change runs at the demo's budget (recipes/RESULTS.md, "Weight decay for every
# system").
DEMO_DECAY_REENCODER=(--weight-decay 0.2)
DEMO_DECAY_LSTM=(--weight-decay 0.1)
DEMO_DECAY_TRANSFORMER=(--weight-decay 0.1)

# in_lanes LANES LOG_DIR FUNC ENTRY...: FUNC ENTRY for every entry, LANES at a time side by side
# (lane k runs entries k, k + LANES, ... in order, logging to LOG_DIR/lane_k.log; a failed entry
# ends its lane); fails if a lane failed.
in_lanes() {
    local lanes=$1 logs=$2 func=$3 lane i failed=0 pids=()
    shift 3
    local entries=("$@")
    for ((lane = 0; lane < lanes; lane++)); do
        (
            set -e
            for ((i = lane; i < ${#entries[@]}; i += lanes)); do "$func" "${entries[$i]}"; done
        ) > "$logs/lane_$lane.log" 2>&1 &
        pids+=($!)
        echo "lane $lane: log $logs/lane_$lane.log" >&2
    done
    for i in "${pids[@]}"; do wait "$i" || failed=1; done
    [ "$failed" = 0 ] || { echo "error: a lane failed, see $logs/lane_*.log" >&2; return 1; }
}

# stage NAME CMD...: run CMD, print its wall time, append it to $RUNS/times.tsv (CURRENT_STAGE
# names it meanwhile, for a recipe's error message)
stage() {
    local name=$1; shift
    local t0=$(date +%s)
    CURRENT_STAGE=$name
    echo "=== [$name] $*" >&2
    "$@"
    local dt=$(( $(date +%s) - t0 ))
    printf '%s\t%s\n' "$name" "$dt" >> "$RUNS/times.tsv"
    echo "=== [$name] done in ${dt}s" >&2
}

# train_nmt NAME DATA_BIN MAX_UPDATE FAIRSEQ_ARGS...: fairseq-train into $RUNS/NAME/ckpt
# (MAX_UPDATE 0 = no update limit, use --max-epoch; resumes from checkpoint_last.pt; a run
# whose log reached MAX_UPDATE, or that stopped early on --patience or at --stop-time-hours, is not started again:
# fairseq would train one more update, or start a new patience count).
# Writes $RUNS/NAME/training.json (python -m eval.training_info: wall-clock seconds summed over
# the invocations that trained, updates, threads, parameters, the exact command) for the tables.
train_nmt() {
    local name=$1 data_bin=$2 max_update=$3; shift 3
    mkdir -p "$RUNS/$name"
    local log=$RUNS/$name/train.log t0 u0
    local cmd=("$BIN/fairseq-train" "$data_bin" --user-dir "$PLUGIN" --task translation
        --source-lang zh --target-lang en $DEVICE_FLAGS --seed 1
        --max-update "$max_update" --save-dir "$RUNS/$name/ckpt"
        --no-epoch-checkpoints
        --log-format simple --log-interval 50 --log-file "$log"
        --num-workers 0 "$@")
    t0=$(date +%s) u0=$(last_update "$log")
    if [ -s "$RUNS/$name/ckpt/checkpoint_last.pt" ]; then  # finished: fairseq would train on
        if [ "$max_update" -gt 0 ] && [ "${u0:-0}" -ge "$max_update" ]; then
            echo "=== $name: already trained for $u0 updates" >&2; return 0
        fi
        if grep -qE "early stop since valid performance|Stopping training due to cumulative_training_time" "$log" &&
            tail -n 3 "$log" | grep -q "done training"; then
            echo "=== $name: already stopped (early, or at its time budget) at $u0 updates" >&2; return 0
        fi
    fi
    "${cmd[@]}"
    if [ "$(last_update "$log")" != "$u0" ]; then  # it trained
        echo $(( $(date +%s) - t0 )) >> "$RUNS/$name/train_seconds"
        "$BIN/python" -m eval.training_info --log "$log" --seconds-log "$RUNS/$name/train_seconds" \
            --threads "${OMP_NUM_THREADS:-all}" --command "OMP_NUM_THREADS=${OMP_NUM_THREADS:-} $(printf '%q ' "${cmd[@]}")" \
            --out "$RUNS/$name/training.json"
    fi
}

# last_update LOG: the last update count fairseq-train logged (empty without a log)
last_update() {
    [ -f "$1" ] && grep -oE "num_updates[ =][0-9]+" "$1" | tail -n 1 | grep -oE "[0-9]+$"
    return 0
}

# system_flags NAME HYP: reencoder-eval's --system for NAME, and its --training when train_nmt
# recorded one ($RUNS/NAME/training.json): words for an array, SYSTEMS+=($(system_flags ...))
system_flags() {
    echo "--system $1=$2"
    [ -s "$RUNS/$1/training.json" ] && echo "--training $1=$RUNS/$1/training.json"
    return 0
}

# decode SUBSET DATA_BIN CHECKPOINT OUT_PREFIX [ARGS...]: fairseq-generate beam search on a
# binarized subset (test, or valid = dev); writes OUT_PREFIX.log and the detokenized hypotheses
# (sentencepiece removed, one line per input line, in order) to OUT_PREFIX.hyp.
# --required-batch-size-multiple 1: with fairseq's default 8 it drops a last batch of another
# size (fairseq issue #5036), i.e. the last (n mod 8) sentences of the subset.
# DECODE_ARGS (words, default none) go before ARGS: a recipe's defaults for every decode.
decode() {
    local subset=$1 data_bin=$2 ckpt=$3 out=$4; shift 4
    # shellcheck disable=SC2086
    "$BIN/fairseq-generate" "$data_bin" --user-dir "$PLUGIN" --path "$ckpt" --gen-subset "$subset" \
        --source-lang zh --target-lang en $DEVICE_FLAGS --beam 5 --batch-size 64 \
        --required-batch-size-multiple 1 --post-process sentencepiece ${DECODE_ARGS:-} "$@" > "$out.log"
    grep -P '^D-\d+\t' "$out.log" | sed 's/^D-//' | sort -n -k1,1 | cut -f3- > "$out.hyp.tmp"
    local src=$data_bin/../split/$([ "$subset" = valid ] && echo dev || echo "$subset").zh
    local want=$(wc -l < "$src") got=$(wc -l < "$out.hyp.tmp")
    if [ "$want" != "$got" ]; then
        echo "error: $out: $got hypotheses for the $want lines of $src" >&2; return 1
    fi
    mv "$out.hyp.tmp" "$out.hyp"
    grep -E "^Generate|Translated" "$out.log" >&2 || true
}

# generate_nmt NAME DATA_BIN CHECKPOINT [ARGS...]: the test set into $RUNS/NAME/test.hyp
generate_nmt() {
    local name=$1 data_bin=$2 ckpt=$3; shift 3
    decode test "$data_bin" "$ckpt" "$RUNS/$name/test" "$@"
}

# ted_data SET TATOEBA_DATA OUT: the IWSLT15 TED set SET (e.g. tst2010, from $SHARED) encoded with
# the Tatoeba sentencepiece models and dictionaries of TATOEBA_DATA, into OUT (reencoder-data
# leaves an up-to-date OUT as it is)
ted_data() {
    stage "ted_data" "$BIN/reencoder-data" --eval-only \
        --iwslt-dir "$SHARED/iwslt15-ted-zh-en" --iwslt-sets "$1" --spm-dir "$2/spm" --dict-dir "$2/bin" --out "$3"
}

# tatoeba_data OUT: the Tatoeba corpus of $SHARED prepared into OUT (reencoder-data leaves an
# up-to-date OUT as it is)
tatoeba_data() {
    stage data "$BIN/reencoder-data" --tatoeba "$SHARED/tatoeba-cmn-eng/cmn-eng.tsv" --out "$1"
}

# newer OUT INPUT: OUT exists, is not empty and is newer than INPUT (a finished stage whose
# input has not changed since: re-running a recipe skips it; retraining redoes it)
newer() {
    [ -s "$1" ] && [ "$1" -nt "$2" ]
}

# reliance NAME DATA: reencoder-source-reliance of $RUNS/NAME's last checkpoint on DATA's dev set
# (own vs another sentence's source, per target position) into $RUNS/NAME/reliance.{json,txt}
reliance() {
    local name=$1 data=$2 ckpt=$RUNS/$1/ckpt/checkpoint_last.pt
    newer "$RUNS/$name/reliance.json" "$ckpt" || stage "reliance_$name" "$BIN/reencoder-source-reliance" \
        --data "$data" --checkpoint "$ckpt" --json "$RUNS/$name/reliance.json" > "$RUNS/$name/reliance.txt"
}

# The decodings every neural system tries on dev, BEAM:LENPEN (beam 1 has no use for a length
# penalty); the best on dev decodes the test set, for every system alike.
DEV_GRID=${DEV_GRID:-"1:1.0 5:0.6 5:1.0 5:1.4"}

# dev_decode NAME DATA_BIN CHECKPOINT BEAM:LENPEN: the dev set decoded at that beam and length
# penalty into $RUNS/NAME/dev/bBEAM_lpLENPEN.hyp (skipped when newer than the checkpoint)
dev_decode() {
    local name=$1 data_bin=$2 ckpt=$3 beam=${4%%:*} lenpen=${4#*:}
    local out=$RUNS/$name/dev/b${beam}_lp$lenpen
    mkdir -p "$RUNS/$name/dev"
    newer "$out.hyp" "$ckpt" || stage "dev_${name}_b${beam}_lp$lenpen" \
        decode valid "$data_bin" "$ckpt" "$out" --beam "$beam" --lenpen "$lenpen"
}

# pick_decoding NAME REFS METRIC [EVAL_ARGS...]: DEV_GRID's dev decodes of NAME scored against the
# dev references in REFS (a split folder), the best on METRIC (bleu, or tok_bleu with --tok-bleu;
# ties by chrF) written as fairseq-generate flags to $RUNS/NAME/decoding.txt
pick_decoding() {
    local name=$1 refs=$2 metric=$3 entry tag systems=()
    shift 3
    for entry in $DEV_GRID; do
        tag=b${entry%%:*}_lp${entry#*:}
        systems+=(--system "$tag=$RUNS/$name/dev/$tag.hyp")
    done
    "$BIN/reencoder-eval" --refs "$refs" --prefix dev "$@" "${systems[@]}" --out "$RUNS/$name/dev/eval" > /dev/null
    tag=$("$BIN/python" -m eval.pick --metric "$metric" "$RUNS/$name/dev/eval/results.json")
    echo "--beam $(echo "$tag" | sed 's/^b//; s/_lp.*//') --lenpen ${tag#*_lp}" > "$RUNS/$name/decoding.txt"
    echo "=== $name: best decoding on dev: $tag" >&2
}

# after_training NAME DATA: what every trained neural system of a Tatoeba recipe gets, each step
# skipped when its output is newer than the checkpoint: dev decodes at every BEAM:LENPEN of
# DEV_GRID and the best on dev BLEU ($RUNS/NAME/decoding.txt), the test set decoded once with it
# ($RUNS/NAME/test.hyp), a model folder ($RUNS/NAME/model, for `reencoder-translate --model` and
# the Python API, whatever the architecture; its default beam search the dev-chosen one) and
# source reliance on dev
after_training() {
    local name=$1 data=$2 ckpt=$RUNS/$1/ckpt/checkpoint_last.pt entry
    for entry in $DEV_GRID; do dev_decode "$name" "$data/bin" "$ckpt" "$entry"; done
    newer "$RUNS/$name/decoding.txt" "$ckpt" || pick_decoding "$name" "$data/split" bleu
    # shellcheck disable=SC2046
    newer "$RUNS/$name/test.hyp" "$RUNS/$name/decoding.txt" ||
        stage "decode_$name" generate_nmt "$name" "$data/bin" "$ckpt" $(cat "$RUNS/$name/decoding.txt")
    # shellcheck disable=SC2046
    newer "$RUNS/$name/model/config.json" "$RUNS/$name/decoding.txt" || stage "export_$name" \
        "$BIN/reencoder-export" --checkpoint "$ckpt" --data "$data" --out "$RUNS/$name/model" \
        $(cat "$RUNS/$name/decoding.txt")
    reliance "$name" "$data"
}

# phase NAME FUNC ENTRY...: FUNC ENTRY in two lanes (logs $RUNS/NAME/lane_K.log); stop with the
# lanes' last lines when one failed.  in_lanes runs as a job of its own: called in a condition
# (`in_lanes ... && ...`), bash would ignore `set -e` in everything it runs, a failed step included.
phase() {
    local name=$1 func=$2 log
    shift 2
    mkdir -p "$RUNS/$name"
    in_lanes 2 "$RUNS/$name" "$func" "$@" &
    wait $! && return 0
    for log in "$RUNS/$name"/lane_*.log; do echo "--- $log:" >&2; tail -n 5 "$log" >&2; done
    exit 1
}
