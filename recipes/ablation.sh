#!/usr/bin/env bash
# The Reencoder ablation: every variant trained for the same CPU wall-clock budget on Tatoeba
# (the demo's data and optimiser settings), then measured on dev only — never on test:
#   dev NLL (fairseq's last validation), dev BLEU (beam 5, all dev references), source reliance
#   (bits a wrong source costs at target positions 0 / 1-3 / 4+), seconds per update, parameters.
# Two lanes side by side, one CPU thread each; variants run in the order listed, alternating
# lanes.  `make ablation` = this script; BUDGET_MIN (default 3) minutes of training per variant.
#   VARIANTS="paper base" BUDGET_MIN=3 bash recipes/ablation.sh
# The table goes to $RUNS/table.md and $RUNS/results.json (python -m eval.ablation_table).
source "$(dirname "$0")/tatoeba_env.sh"  # strict mode, the repository root, lib.sh; SHARED, DATA, TED
RUNS=${RUNS:-runs/ablation}
BUDGET_MIN=${BUDGET_MIN:-3}
MAX_TOKENS=${MAX_TOKENS:-512}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

# name -> fairseq flags (the Reencoder variants, then fairseq's lstm for reference); the base_*
# variants up to base_depth2 are the previous reencoder_base (the full LSTM block: unshared dims, LSTM depth,
# at 96 units)
LSTM_CELL_N96="--grid-hidden-size 96 --grid-unshared-dims --grid-depth-transform lstm"
declare -A FLAGS=(
    [paper]="--arch reencoder_paper --lr 0.008"
    [max]="--arch reencoder_paper --grid-readout max --lr 0.008"
    [attn]="--arch reencoder_paper --grid-readout attn --lr 0.008"
    [attn_e512]="--arch reencoder_paper --grid-readout attn --encoder-embed-dim 512 --decoder-embed-dim 512 --lr 0.008"
    [base_lr008]="--arch reencoder_base $LSTM_CELL_N96 --lr 0.008"
    [base_lstm_cell]="--arch reencoder_base $LSTM_CELL_N96 --lr 0.005"
    [base_bilstm]="--arch reencoder_base $LSTM_CELL_N96 --grid-source-input bilstm --lr 0.005"
    [base_depth2]="--arch reencoder_base $LSTM_CELL_N96 --grid-depth 2 --lr 0.005"
    [base_shared_dims]="--arch reencoder_base --grid-hidden-size 128 --grid-shared-dims --grid-depth-transform lstm --lr 0.005"
    [base_tanh]="--arch reencoder_base --grid-hidden-size 128 --grid-unshared-dims --grid-depth-transform tanh --lr 0.005"
    [base]="--arch reencoder_base --lr 0.005"
    [paper_n256]="--arch reencoder_paper --grid-hidden-size 256 --lr 0.008"
    [lstm]="${LSTM_ARCH[*]} --lr 0.003"
)
VARIANTS=${VARIANTS:-"paper max attn attn_e512 base_lr008 base_lstm_cell base_bilstm base_depth2 base_shared_dims base_tanh base lstm"}
for v in $VARIANTS; do
    [ -n "${FLAGS[$v]:-}" ] || { echo "error: unknown variant '$v' (known: ${!FLAGS[*]})" >&2; exit 2; }
done
mkdir -p "$RUNS"
touch "$RUNS/times.tsv"
tatoeba_data "$DATA"

HOURS=$(hours "$BUDGET_MIN")
COMMON=(--max-epoch 1000 --stop-time-hours "$HOURS" --max-tokens "$MAX_TOKENS" "${DEMO_TRAIN[@]}")

# run_variant NAME: train for the budget, decode dev, score it, measure source reliance
run_variant() {
    local v=$1 dir=$RUNS/$1
    # shellcheck disable=SC2206
    local flags=(${FLAGS[$v]})
    mkdir -p "$dir"
    echo "fairseq-train $DATA/bin ${flags[*]} ${COMMON[*]}" > "$dir/command.txt"
    [ -s "$dir/ckpt/checkpoint_last.pt" ] || stage "train_$v" train_nmt "$v" "$DATA/bin" 0 "${flags[@]}" "${COMMON[@]}"
    [ -s "$dir/dev.hyp" ] || stage "decode_dev_$v" decode valid "$DATA/bin" "$dir/ckpt/checkpoint_last.pt" "$dir/dev"
    "$BIN/reencoder-eval" --refs "$DATA/split" --prefix dev --system "$v=$dir/dev.hyp" --out "$dir/dev.eval" > /dev/null
    reliance "$v" "$DATA"
}

lane() {  # lane K: every other variant, starting with the K-th
    local k=0
    for v in $VARIANTS; do
        if [ $((k % 2)) = "$1" ]; then run_variant "$v"; fi
        k=$((k + 1))
    done
}

lane 0 > "$RUNS/lane_0.log" 2>&1 &
pid=$!
lane 1 2>&1 | tee "$RUNS/lane_1.log" | grep -E "^===|error" >&2 || true
wait "$pid" || { echo "error: lane 0 failed, see $RUNS/lane_0.log" >&2; tail -20 "$RUNS/lane_0.log" >&2; exit 1; }
# shellcheck disable=SC2086
"$BIN/python" -m eval.ablation_table --runs "$RUNS" $VARIANTS --out "$RUNS/table.md"
