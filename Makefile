# Two commands do everything on a fresh machine:
#   make report   build the environment, run every notebook, render build/report/index.html
#   make test     build the environment, run the unit tests and the notebook checks
# Settings: PROFILE=full|quick, MODEL=auto|vgg16|efficientnet_lite0, PYTHON=python3
# Also: make bench (benchmarks/run.py), make notebooks, make links, make clean,
#   make test-colab (the notebook checks under Colab's package versions, in .venv-colab)

PYTHON ?= python3
PROFILE ?= full
MODEL ?= auto
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9]*.ipynb))

# The venv's own kernelspec, whatever other Jupyter kernels the user has.
export JUPYTER_PATH := $(CURDIR)/$(VENV)/share/jupyter
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: env browser report test unit-tests notebook-checks notebook-tests notebook-tests-colab-path test-colab notebooks links bench clean

env: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[cpu,dev]'
	touch $@

# Every section runs even if another fails; each is written atomically, failed
# ones are marked on the contents page, and the command fails at the end.
report: $(STAMP)
	$(BIN)/python -m report_lib.publish.build --profile $(PROFILE) --model $(MODEL)

# Tests run on every core (pytest-xdist), one TensorFlow thread per worker
# so the workers do not fight over the cores.
TEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
PARALLEL := -n $(TEST_WORKERS)
ONE_THREAD := TF_NUM_INTRAOP_THREADS=1 OMP_NUM_THREADS=1
# Notebooks under nbval: the quick profile, with the embedded model so the
# checked outputs do not depend on whether VGG16 is available.
NBVAL_ENV := REPORT_PROFILE=quick REPORT_MODEL=efficientnet_lite0
NBVAL := --nbval-lax --nbval-current-env -p no:cacheprovider
# Parallel, with the scopes and the longest-first order of conftest.py.
SCOPED := $(ONE_THREAD) $(BIN)/python -m pytest $(PARALLEL) --dist loadscope --no-loadscope-reorder
# Unit tests, nbval notebooks and the whole-notebook runs (marker colab_path) together.
CHECKS := $(NBVAL_ENV) REPORT_OUTPUT_DIR=$(CURDIR)/build/nbval $(SCOPED) $(NBVAL) -m 'colab_path or not colab_path'

# Everything in one parallel run, so both workers stay busy to the end (the
# two halves alone: make unit-tests, make notebook-checks). Long items go
# first (conftest.py): the VGG16 notebook runs, then the nbval notebooks.
test: $(STAMP) browser
	$(CHECKS) --durations=15 tests notebooks

# Debian's Chromium for the browser test of the report (root installs it; otherwise that test is skipped).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "Chromium is missing and this is not root: the browser test will be skipped (apt-get install chromium)"; \
		fi; }

unit-tests: $(STAMP) browser
	$(SCOPED) tests

# The two notebook checks below in one run: each notebook's nbval cells stay
# together on one worker (conftest.py), and the whole-notebook VGG16 runs, the
# longest items, are handed out first.
notebook-checks: $(STAMP)
	$(CHECKS) --durations=12 tests/notebooks notebooks

# Either half of notebook-checks alone, on one process. The notebooks under nbval:
notebook-tests: $(STAMP)
	$(NBVAL_ENV) REPORT_OUTPUT_DIR=$(CURDIR)/build/nbval $(BIN)/python -m pytest $(NBVAL) notebooks

# And the Colab path without its downloads: every notebook with VGG16's architecture
# (random weights) and section 07 on tf_flowers' mock data (tests/notebooks).
notebook-tests-colab-path: $(STAMP)
	$(BIN)/python -m pytest -m colab_path -p no:cacheprovider tests/notebooks

# The same notebook checks in a second venv with Colab's package versions
# (constraints/colab.txt: TensorFlow, Keras, NumPy, ipywidgets, ipykernel, ...).
# Colab runs Python 3.13; COLAB_PYTHON picks the interpreter here, COLAB_VENV its venv (see README).
COLAB_PYTHON ?= python3.11
COLAB_VENV ?= .venv-colab
COLAB_BIN := $(COLAB_VENV)/bin
COLAB_STAMP := $(COLAB_VENV)/.installed

$(COLAB_STAMP): pyproject.toml constraints/colab.txt
	rm -rf $(COLAB_VENV)
	$(COLAB_PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_BIN)/python -m pip install --quiet --upgrade pip
	$(COLAB_BIN)/python -m pip install --quiet -c constraints/colab.txt -e '.[dev]' tensorflow-cpu
	touch $@

test-colab: export JUPYTER_PATH := $(CURDIR)/$(COLAB_VENV)/share/jupyter
test-colab: export PATH := $(CURDIR)/$(COLAB_BIN):$(PATH)
test-colab: $(COLAB_STAMP)
	$(COLAB_BIN)/python -c 'import sys, tensorflow, keras, numpy, ipywidgets, ipykernel; \
		print("Colab versions: Python", sys.version.split()[0], "TensorFlow", tensorflow.__version__, "Keras", keras.__version__, \
		      "NumPy", numpy.__version__, "ipywidgets", ipywidgets.__version__, "ipykernel", ipykernel.__version__)'
	$(NBVAL_ENV) REPORT_OUTPUT_DIR=$(CURDIR)/build/nbval-colab $(COLAB_BIN)/python -m pytest $(NBVAL) notebooks

# Refresh the outputs committed with the notebooks: a full run, embedded model.
notebooks: $(STAMP)
	for notebook in $(NOTEBOOKS); do \
		REPORT_PROFILE=full REPORT_MODEL=efficientnet_lite0 $(BIN)/jupyter nbconvert --to notebook \
			--execute --inplace --ExecutePreprocessor.timeout=3600 --ExecutePreprocessor.record_timing=False \
			--NotebookExporter.preprocessors=report_lib.publish.report.StripStderr $$notebook || exit 1; \
	done

# Regenerate the README's notebook table and the Colab install cells from report_lib/config.py.
links: $(STAMP)
	$(BIN)/python -m report_lib.publish.links

# Every method against tf-keras-vis or an eager baseline (about 13 minutes on 2 cores); table in the README.
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf build
