# One command per job; `make help` lists them. Everything installs into .venv from requirements.txt.
PYTHON ?= python3.11
VENV := .venv
VPY := $(VENV)/bin/python
SERIES := $(PYTHON) tools/series.py
# upstream's own tests of the code the series touches (read-only; its README says how they are run), from the root
UPSTREAM_TESTS ?= ../shared/upstream-tests

.PHONY: help demo test fork export check wheel quality upstream-tests bench pr matrix clean

help:
	@echo "make demo     train a tiny model with step- and time-based schedules, draw both timelines"
	@echo "make test     set everything up on a fresh machine and run every test"
	@echo "make fork     materialize fork/: pinned transformers + patches/, installed editable into .venv"
	@echo "make export   write fork/'s commits back to patches/"
	@echo "make check    the series round-trips byte for byte and fork/ holds nothing unexported"
	@echo "make wheel    build dist/transformers-<version>+time.N-py3-none-any.whl from committed patches/"
	@echo "make quality  upstream's ruff check and ruff format on every file the series touches or adds"
	@echo "make upstream-tests  upstream's own trainer tests on fork/: all that pass on the stock release must pass"
	@echo "make bench    the time strategies' cost, a crash-resume soak, the time budget, asynchronous saves"
	@echo "make pr       dist/pr/: the stack of pull requests of pr/stack.toml, each diff applied and tested in turn"
	@echo "make matrix   apply and test the series on transformers 5.20.0 to 5.24.0"

$(VENV)/installed: requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) is not on PATH: install Python 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet -r requirements.txt
	touch $@

fork: $(VENV)/installed
	$(SERIES) fork --python $(abspath $(VPY))

export:
	$(SERIES) export

check:
	$(SERIES) check

wheel: $(VENV)/installed
	$(SERIES) wheel --python $(abspath $(VPY))

demo: fork
	$(VPY) examples/demo_time_strategies.py --output-dir demo-output

# RUN_SLOW=1: the multi-process tests, `@slow` as upstream marks them, run here too; a test that hangs fails after
# 10 minutes (pytest-timeout) instead of hanging CI
test: fork quality
	RUN_SLOW=1 $(VPY) -m pytest -q --timeout=600 tests

quality: $(VENV)/installed
	$(PYTHON) tools/upstream_pr.py quality --ruff $(abspath $(VENV)/bin/ruff)

upstream-tests: fork
	$(PYTHON) tools/upstream_pr.py upstream-tests --python $(abspath $(VPY)) --upstream-tests $(UPSTREAM_TESTS)

pr: $(VENV)/installed
	$(PYTHON) tools/upstream_pr.py pr --python $(abspath $(VPY)) --upstream-tests $(UPSTREAM_TESTS)

bench: fork
	$(VPY) benchmarks/bench_time_strategies.py
	$(VPY) benchmarks/bench_crash_resume.py
	$(VPY) benchmarks/bench_time_budget.py
	$(VPY) benchmarks/bench_async_save.py

matrix: $(VENV)/installed
	$(PYTHON) tools/matrix.py --python $(abspath $(VPY))

clean:
	rm -rf dist build demo-output
