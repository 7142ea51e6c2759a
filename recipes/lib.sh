# Shared shell functions for the recipes (sourced, not run).  Every step calls a public CLI:
# fairseq-train / fairseq-generate with --user-dir reencoder, reencoder-data, reencoder-baseline,
# reencoder-export, reencoder-eval.  A step whose output exists is skipped, so a re-run resumes.

BIN=${BIN:-.venv/bin}
PLUGIN=${PLUGIN:-reencoder}
export PYTHONUNBUFFERED=1

# stage NAME CMD...: run CMD, print its wall time, append it to $RUNS/times.tsv
stage() {
    local name=$1; shift
    local t0=$(date +%s)
    echo "=== [$name] $*" >&2
    "$@"
    local dt=$(( $(date +%s) - t0 ))
    printf '%s\t%s\n' "$name" "$dt" >> "$RUNS/times.tsv"
    echo "=== [$name] done in ${dt}s" >&2
}

# train_nmt NAME DATA_BIN MAX_UPDATE FAIRSEQ_ARGS...: fairseq-train into $RUNS/NAME/ckpt
# (resumes from checkpoint_last.pt; a finished run returns at once).
train_nmt() {
    local name=$1 data_bin=$2 max_update=$3; shift 3
    mkdir -p "$RUNS/$name"
    "$BIN/fairseq-train" "$data_bin" --user-dir "$PLUGIN" --task translation \
        --source-lang zh --target-lang en --cpu --seed 1 \
        --max-update "$max_update" --save-dir "$RUNS/$name/ckpt" \
        --no-epoch-checkpoints --keep-last-epochs 1 \
        --log-format simple --log-interval 50 --log-file "$RUNS/$name/train.log" \
        --num-workers 0 "$@"
}

# generate_nmt NAME DATA_BIN CHECKPOINT [ARGS...]: beam search on the test set; writes the
# detokenized hypotheses (sentencepiece removed, one line per test line, in order) to
# $RUNS/NAME/test.hyp and fairseq's log to $RUNS/NAME/generate.log.
generate_nmt() {
    local name=$1 data_bin=$2 ckpt=$3; shift 3
    "$BIN/fairseq-generate" "$data_bin" --user-dir "$PLUGIN" --path "$ckpt" --gen-subset test \
        --source-lang zh --target-lang en --cpu --beam 5 --batch-size 64 \
        --post-process sentencepiece "$@" > "$RUNS/$name/generate.log"
    grep -P '^D-\d+\t' "$RUNS/$name/generate.log" | sed 's/^D-//' | sort -n -k1,1 | cut -f3- \
        > "$RUNS/$name/test.hyp.tmp"
    local want=$(wc -l < "$data_bin/../split/test.zh") got=$(wc -l < "$RUNS/$name/test.hyp.tmp")
    if [ "$want" != "$got" ]; then
        echo "error: $name produced $got hypotheses for $want test sentences" >&2; return 1
    fi
    mv "$RUNS/$name/test.hyp.tmp" "$RUNS/$name/test.hyp"
    grep -E "^Generate|Translated" "$RUNS/$name/generate.log" >&2 || true
}
