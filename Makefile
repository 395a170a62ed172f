# Two commands a fresh machine needs: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0

.PHONY: demo test install clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch is pinned first (the exact version this project is tested with; pip takes the build its
# package index offers: where that is the CUDA build, `make install TORCH="torch==2.13.0 --index-url
# https://download.pytorch.org/whl/cpu"` gets the CPU one); everything that depends on it comes after.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e ".[hf,serve,bench,test]"
	touch $@

install: $(VENV)/.installed

demo: install
	HF_HUB_OFFLINE=1 $(BIN)/ponder demo

test: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -ra

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
