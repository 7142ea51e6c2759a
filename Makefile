# Reencoder: the front door.  `make test` and `make demo` work from a fresh clone.
PYTHON  ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
PIP     := $(BIN)/python -m pip --disable-pip-version-check
STAMP   := $(VENV)/.installed
SHARED  ?= ../shared/data
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt

.PHONY: install browser serve lint test test-fast demo tvsub data tvsub-data baseline bench bench-ladder char-lm algo synthetic ablation clean

install: $(STAMP) browser

# Re-runs only when the requirement files change: a second `make install` is a no-op.
$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -r requirements.txt
	# fairseq: prebuilt wheels for cp311/cp312; --no-deps because its metadata asks for
	# torchaudio, which has no build for torch 2.13 and is not needed for text.
	$(PIP) install -q --no-deps ve-fairseq==0.12.3
	$(PIP) install -q --no-deps --no-build-isolation -e .
	# the grid's C++ kernels, compiled once into torch's extension cache
	$(BIN)/python -c "from reencoder.grid.gate_kernels import report; print(report())"
	# the heat maps' CJK font (pylopdf-fonts-zh-cn in requirements.txt: Noto Sans SC, +20 MB)
	$(BIN)/python -c "from reencoder.cjk_font import packaged_cjk_font as f; print('CJK font for the heat maps:', f())"
	touch $(STAMP)

# Every test (CI): the linter, tests/unit, then the end-to-end runs of tests/e2e (marked slow);
# about 15 min on 2 cores from a fresh clone (the suite alone about 11), install and lint included.
test: install lint
	$(BIN)/python -m pytest -q tests

# The linter and the unit tests alone (no training, no fairseq console scripts): under a minute.
test-fast: install lint
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q tests/unit

# ruff (pyproject.toml [tool.ruff]) on all the project's Python; `ruff check --fix` repairs most.
lint: install
	$(BIN)/ruff check reencoder data_prep eval recipes tests

# The main job: data, Thot, the Reencoder, fairseq lstm + transformer for BUDGET_MIN (10) minutes
# each in two lanes, decoding chosen on dev, the BLEU table (runs/demo; about 22-25 min on 2 cores).
demo: install
	SHARED=$(SHARED) bash recipes/tatoeba_demo.sh

# TVsub zh-en (2.15M subtitle pairs) end to end: data, dev tuning, Thot, the Reencoder, fairseq lstm +
# transformer for BUDGET_MIN (60) minutes each in two lanes, the paper's BLEU and sacrebleu's, the
# fine-tuning on Tatoeba, the cross-domain matrix, the demo's sentences (about 4 h on 2 cores;
# BUDGET_MIN=3 TVSUB_LIMIT=200000 checks every stage in about 20 min).
tvsub: install
	SHARED=$(SHARED) bash recipes/tvsub.sh

# Translate from a browser: reencoder-serve on the demo's model folders (after make demo), the page at
# the URL it prints (http://127.0.0.1:8080/; SERVE_ARGS="--port 9000" etc., SERVE_MODELS="DIR ..." for others).
SERVE_MODELS ?= runs/demo/reencoder/model runs/demo/lstm/model runs/demo/transformer/model runs/demo/phrase_based/model
SERVE_ARGS ?=
serve: install
	@for m in $(SERVE_MODELS); do test -e "$$m" || { echo "error: no model folder $$m: run make demo first (or set SERVE_MODELS)"; exit 2; }; done
	OMP_NUM_THREADS=1 $(BIN)/reencoder-serve $(foreach m,$(SERVE_MODELS),--model $(m)) $(SERVE_ARGS)

# Headless Chromium and its driver for the page's browser test (tests/e2e/test_serve_page.py), from
# Debian's packages: a no-op when both are there; without root or apt-get, a note (the test then
# skips, except under CI=true, where it fails).
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium and chromium-driver (Debian) for the browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "note: no chromium/chromedriver and no root apt-get here: the browser test will be skipped"; fi

# Speed of the grid at n = 128 / 256, depth 1 / 2, fp32 / bf16 and every cell option against this
# machine's matmul peak, with fairseq's lstm and transformer of matching size (runs/bench/widths.json),
# the n = 256 grid's time split by kind of op (runs/bench/profile_grid.json),
# then the demo's systems per update at 1 and 2 threads (runs/bench/archs.json), the whole fairseq
# training step of reencoder_base and the lstm split by part (runs/bench/profile_step.json), and
# reencoder-translate's speed with the demo's model folders (runs/bench/decode.json).  On a CPU without
# AMX or AVX512-BF16 the emulated-bf16 rows take most of its time: BENCH_ARGS="--bf16 never" leaves them out.
BENCH_ARGS ?=
bench: install
	test -f work/data/tatoeba/manifest.json || $(MAKE) data
	$(BIN)/python -m eval.bench_widths --data work/data/tatoeba --out runs/bench/widths.json $(BENCH_ARGS)
	$(BIN)/python -m eval.profile_grid --data work/data/tatoeba --out runs/bench/profile_grid.json
	$(BIN)/python -m eval.bench_archs --data work/data/tatoeba --threads 1,2 --out runs/bench/archs.json
	$(BIN)/python -m eval.profile_step --data work/data/tatoeba --out runs/bench/profile_step.json
	if [ -f runs/demo/reencoder/model/config.json ]; then \
	  $(BIN)/python -m eval.bench_decode --out runs/bench/decode.json; \
	else echo "no model folders in runs/demo: run make demo for the decoding benchmark"; fi

# The accelerator check (issue 46): `make gpu-data` here (where ../shared is) prepares a 100k-pair TVsub slice
# (work/gpu_data, ~5 MB) and fairseq's wheels for the GPU image's Python 3.12 (.whl, ~21 MB); on the GPU
# machine, with both carried, `make gpu-check` runs the CUDA tests, reencoder_big's grid against cuDNN's
# LSTM, ~2 min of training of reencoder_big and the transformer each and their beam decoding in <= 8 min
# (runs/gpu_check/result.json and table.md).  DRY_RUN=1: the same check on the CPU at tiny sizes (make test);
# GPU_CHECK_ARGS="--budget-s 590 --train-s 180": ~3 min of training each.
.PHONY: gpu-data gpu-check
GPU_DATA_PAIRS ?= 100000
GPU_CHECK_ARGS ?=
gpu-data: install
	SHARED=$(SHARED) GPU_DATA_PAIRS=$(GPU_DATA_PAIRS) bash recipes/gpu_data.sh

gpu-check:
	bash recipes/gpu_check.sh $(GPU_CHECK_ARGS)

# The optimisation ladder of one grid (naive loop, autograd wavefront, fused, additive input, bf16),
# peak RSS and decoding speed (runs/bench/bench.json).
bench-ladder: install
	test -f work/data/tatoeba/manifest.json || $(MAKE) data
	$(BIN)/python -m eval.bench --data work/data/tatoeba --out runs/bench/bench.json

# The Reencoder ablation: every variant for the same CPU time (BUDGET_MIN, default 3) on Tatoeba,
# scored on dev only (runs/ablation/table.md; about 20 min for all); VARIANTS="paper base" picks some.
ablation: install
	SHARED=$(SHARED) bash recipes/ablation.sh

# Tatoeba zh-en -> work/data/tatoeba (train/dev/test, spm, fairseq bin); no-op when up to date.
data: install
	$(BIN)/reencoder-data --tatoeba $(SHARED)/tatoeba-cmn-eng/cmn-eng.tsv --out work/data/tatoeba

# TVsub zh-en (2.15M subtitle pairs; the authors' dev and test sets, 3 test references) -> work/data/tvsub,
# streamed (about 7 min and under 1 GB on 2 cores); no-op when up to date.
tvsub-data: install
	$(BIN)/reencoder-data --tvsub $(SHARED)/tvsub-zh-en --out work/data/tvsub

# Thot phrase-based baseline: train + tune on dev, translate test, score (runs/phrase_based).
BASELINE_DATA ?= work/data/tatoeba
baseline: install
	test -f $(BASELINE_DATA)/manifest.json || $(MAKE) data
	nice $(BIN)/reencoder-baseline run --data $(BASELINE_DATA) --out runs/phrase_based

# Grid LSTM paper §5.1: 2D Grid LSTM vs stacked LSTM character LM on TED English (about 5 min on 2 cores).
# CHAR_LM_ARGS="--corpus enwik8 --max-update 20000 --gpu" for the Hutter data (needs internet).
CHAR_LM_ARGS ?=
char-lm: install
	$(BIN)/python recipes/char_lm.py --shared $(SHARED) --work work/char_lm $(CHAR_LM_ARGS)

# Grid LSTM paper §4: tied 2D Grid LSTM vs stacked LSTM on addition and memorisation, depths 1/2/4, each
# model at its own tuned learning rate and output init (`recipes/algo.py --tune`), then the tied 1D Grid
# LSTM vs a ReLU net on 12-bit parity, depths 2/5/10 (short versions of the tasks, at most about 15 min
# on 2 cores); ALGO_ARGS="--digits 15 --length 20 --symbols 64" for the paper's sizes, PARITY_ARGS="--bits 20".
ALGO_ARGS ?=
PARITY_ARGS ?=
algo: install
	$(BIN)/python recipes/algo.py --work work/algo $(ALGO_ARGS)
	$(BIN)/python recipes/parity.py --work work/parity $(PARITY_ARGS)

# Quick learning check: Reencoder variants vs fairseq's lstm on synthetic copy / reverse, updates to
# 99 % exact held-out sequences (work/synthetic/results.md); SYNTHETIC_ARGS='--variant NAME="FLAGS"' adds a system.
SYNTHETIC_ARGS ?=
synthetic: install
	$(BIN)/python recipes/synthetic.py --out work/synthetic $(SYNTHETIC_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
