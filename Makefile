# Collapse, Reproduced: one entry point for setting up, testing and building the book.
#   make setup   create .venv with the package, the book and test tooling; install Chromium (browser check)
#   make test    everything CI runs: lint, unit tests, nbval, book build (warnings = errors), site checks
#   make book    build the website into _build/html (open _build/html/index.html)
#   make execute re-execute every chapter in place and store the torch chapters' per-seed results, then commit
#   make test-kernels  the torch chapters' notebook tests under other CPU kernels and thread counts (slow; not in test)
VENV ?= .venv
BIN := $(VENV)/bin
# The stored chapter outputs are those of the ci profile on one thread, without progress lines; the tests pin all three.
CHECK_ENV := COLLAPSE_SCALE=ci COLLAPSE_THREADS=1 COLLAPSE_PROGRESS=0

.PHONY: setup test lint unit notebooks book site execute test-kernels clean

setup:
	bash tools/setup.sh $(VENV)

test: lint unit notebooks book site

lint:
	$(BIN)/ruff check collapse_utils tests notebooks tools bench book/_ext
	$(BIN)/lint-imports

unit:
	$(CHECK_ENV) $(BIN)/python -m pytest -n 2 tests/unit

# Two notebooks at a time (one kernel each, one thread each): the two cores of the reference machine.
notebooks:
	$(CHECK_ENV) $(BIN)/python -m pytest -n 2 --dist loadscope --nbval --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg notebooks

book:
	rm -rf _build/html
	$(BIN)/jupyter-book build . -W -n --keep-going

site:
	$(BIN)/python -m pytest tests/site

execute:
	ls notebooks/*.ipynb | $(CHECK_ENV) COLLAPSE_STORE=1 xargs -P 2 -n 1 \
		$(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=3600

test-kernels:
	$(BIN)/python tools/kernel_variants.py

clean:
	rm -rf _build .pytest_cache .ruff_cache .hypothesis
