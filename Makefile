# Two commands on a fresh machine (Debian, Python 3.11, no conda, no GPU):
#   make run    set up .venv and run the whole pipeline on the demo cohort, then write the report
#   make test   set up .venv and run the test suite
PYTHON ?= python3
CORES ?= 2
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run report test test-fast lint clean

$(STAMP): envs/requirements.lock.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r envs/requirements.lock.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)
	$(MAKE) report

report: $(STAMP)
	$(BIN)/snakemake --report results/report.html

# One pytest-xdist worker per core, a test module per worker (its fixtures run once); tests/conftest.py gives each
# worker and its Snakemake jobs one thread.
PYTEST := $(BIN)/python -m pytest -n $(CORES) --dist loadscope

test: $(STAMP)
	$(PYTEST)

test-fast: $(STAMP)
	$(PYTEST) tests/unit

lint: $(STAMP)
	$(BIN)/ruff check src tests workflow/scripts resources benchmarks
	$(BIN)/snakemake --lint

clean:
	rm -rf results logs .snakemake
