#!/usr/bin/env bash
# `make demo`: Tatoeba zh-en end to end on a 2-core CPU in under 30 minutes.
#   1. data: clean, leak-free multi-reference split, sentencepiece 4k+4k, fairseq binaries
#   2. two lanes side by side, one CPU thread each (two single-thread jobs get more work done
#      on 2 cores than one job with two threads, whose kernels here are small):
#        lane A: the Reencoder (reencoder_base: attention readout over each row), then fairseq's lstm
#        lane B: the Thot phrase-based baseline, then fairseq's transformer (3+3, d=256)
#      the protocol: every neural system trains for the same wall-clock budget (BUDGET_MIN
#      minutes, fairseq's --stop-time-hours, one thread each), its learning rate warmed up and
#      then decayed linearly to zero at the budget (--lr-scheduler wallclock_linear); each with
#      its own batch size, peak learning rate and warm-up, chosen on dev at this budget by
#      recipes/tune_demo.sh (recipes/lib.sh's DEMO_*), and its own weight decay, chosen on dev
#      (DEMO_DECAY_*); Thot keeps its own dev tuning
#   3. each neural system's beam size and length penalty chosen on dev (recipes/lib.sh DEV_GRID,
#      every system alike), then the 1,000-item multi-reference test set decoded once with them;
#      BLEU/chrF, paired bootstrap;
#      source reliance of every neural system on dev (bits a wrong source costs per position);
#      a model folder per neural system ($RUNS/NAME/model) for reencoder-translate
# Every step calls a public CLI; re-running skips what is done.  The budget is a variable,
# e.g. `BUDGET_MIN=30 make demo`.
source "$(dirname "$0")/tatoeba_env.sh"  # strict mode, the repository root, lib.sh; SHARED, DATA, TED
RUNS=${RUNS:-runs/demo}
BUDGET_MIN=${BUDGET_MIN:-10}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$RUNS"
: > "$RUNS/times.tsv"

tatoeba_data "$DATA"
echo "training budget: $BUDGET_MIN minutes of wall-clock per neural system, $OMP_NUM_THREADS thread each" >&2
read -r -a BUDGET <<< "$(budget "$BUDGET_MIN")"
COMMON=("${DEMO_OPT[@]}" "${BUDGET[@]}" ${EXTRA_TRAIN_ARGS:-})

lane_a() {
    stage train_reencoder train_nmt reencoder "$DATA/bin" 0 --arch reencoder_base "${COMMON[@]}" "${DEMO_REENCODER[@]}" "${DEMO_DECAY_REENCODER[@]}"
    after_training reencoder "$DATA"
    stage train_lstm train_nmt lstm "$DATA/bin" 0 "${LSTM_ARCH[@]}" "${COMMON[@]}" "${DEMO_LSTM[@]}" "${DEMO_DECAY_LSTM[@]}"
    after_training lstm "$DATA"
}

lane_b() {
    if [ ! -s "$RUNS/phrase_based/test.hyp" ]; then
        stage phrase_based "$BIN/reencoder-baseline" run --data "$DATA" --out "$RUNS/phrase_based" --quiet
    fi
    stage train_transformer train_nmt transformer "$DATA/bin" 0 "${TRANSFORMER_ARCH[@]}" "${COMMON[@]}" "${DEMO_TRANSFORMER[@]}" "${DEMO_DECAY_TRANSFORMER[@]}"
    after_training transformer "$DATA"
}

lane_a > "$RUNS/lane_a.log" 2>&1 &
pid_a=$!
echo "lane A (Reencoder, lstm) runs in the background, log: $RUNS/lane_a.log" >&2
lane_b 2>&1 | tee "$RUNS/lane_b.log" | grep -E "^===|error" >&2 || true
wait "$pid_a" || { echo "error: lane A failed, see $RUNS/lane_a.log" >&2; tail -20 "$RUNS/lane_a.log" >&2; exit 1; }
for f in phrase_based transformer; do
    [ -s "$RUNS/$f/test.hyp" ] || { echo "error: lane B did not produce $RUNS/$f/test.hyp, see $RUNS/lane_b.log" >&2; exit 1; }
done

stage eval "$BIN/reencoder-eval" --refs "$DATA/split" --prefix test --baseline phrase_based \
    --system "phrase_based=$RUNS/phrase_based/test.hyp" \
    $(system_flags reencoder "$RUNS/reencoder/test.hyp") \
    $(system_flags transformer "$RUNS/transformer/test.hyp") \
    $(system_flags lstm "$RUNS/lstm/test.hyp") \
    --out "$RUNS/eval"

echo
echo "Decoding chosen on dev (BLEU) from $DEV_GRID (BEAM:LENPEN):"
for f in reencoder lstm transformer; do echo "  $f: $(cat "$RUNS/$f/decoding.txt")"; done
echo
echo "Source reliance on dev (bits a wrong source costs per target token; NLL own -> other):"
for f in reencoder transformer lstm; do echo "== $f"; tail -n +2 "$RUNS/$f/reliance.txt"; done
echo
echo "Wall time per stage (s; lanes A and B ran side by side):"
column -t "$RUNS/times.tsv"
echo
echo "Translate your own Chinese with any of the three neural systems, e.g.:"
echo "  echo '我们明天去公园吧。' | $BIN/reencoder-translate --model $RUNS/reencoder/model   (or $RUNS/lstm/model, $RUNS/transformer/model)"
