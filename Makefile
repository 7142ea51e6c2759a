# Reencoder: the front door.  `make test` and `make demo` work from a fresh clone.
PYTHON  ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
PIP     := $(BIN)/python -m pip --disable-pip-version-check
STAMP   := $(VENV)/.installed
SHARED  ?= ../shared/data
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt

.PHONY: install test demo data baseline bench clean

install: $(STAMP)

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
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q tests

# Tatoeba zh-en -> work/data/tatoeba (train/dev/test, spm, fairseq bin); no-op when up to date.
data: install
	$(BIN)/reencoder-data --tatoeba $(SHARED)/tatoeba-cmn-eng/cmn-eng.tsv --out work/data/tatoeba

# Thot phrase-based baseline: train + tune on dev, translate test, score (runs/phrase_based).
BASELINE_DATA ?= work/data/tatoeba
baseline: install
	test -f $(BASELINE_DATA)/manifest.json || $(MAKE) data
	nice $(BIN)/reencoder-baseline run --data $(BASELINE_DATA) --out runs/phrase_based

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
