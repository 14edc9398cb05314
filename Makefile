# Two entry points (see README): `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# Pin the CPU build of torch first: anything else pulls gigabytes of CUDA wheels.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[all,test]"
	touch $(STAMP)

install: $(STAMP)

# A second `make demo` resumes runs/demo (a finished run is only re-evaluated).
demo: $(STAMP)
	if [ -f runs/demo/checkpoint.pt ]; then \
		$(BIN)/belief-rl train --run-dir runs/demo --resume; \
	else \
		$(BIN)/belief-rl train --env belief_rl/Bandit-v0 --agent belief --preset quick --run-dir runs/demo --seed 0; \
	fi
	$(BIN)/belief-rl evaluate runs/demo --num-tasks 10000

# Lint (ruff, configured in pyproject.toml), then the test suite on two pytest-xdist workers (one per core; the
# Ray-sweep tests share one worker because they start a local Ray instance). `make test PYTEST_ARGS=` runs it serially.
PYTEST_ARGS ?= -n 2 --dist loadgroup
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) runs
