# dondoc — one command to run the system, one to test it. Everything is set up from a fresh clone:
# a virtual environment with the machine's Python, uv installed into a tools venv with pip, and the
# locked dependencies (uv.lock). No interpreter is ever downloaded.

PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
# make test runs its test files in parallel worker processes (pytest-xdist; one file stays on one worker, so a
# file's fixtures start once). Most of a run is waiting (services starting, deadlines passing, brokers restarting),
# not computing: two workers on two cores halve it. TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= 2
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install tools run stop test test-tools test-unit test-integration test-e2e test-deploy chaos bench lint clean

install: $(VENV)/.installed

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	@# Compiled once here: the services run with PYTHONDONTWRITEBYTECODE=1 on this machine, and each start would
	@# otherwise compile every imported module again (~20 s of CPU per process on a busy machine).
	UV_COMPILE_BYTECODE=1 $(UV) sync --frozen --python $(PYTHON)
	touch $@

## make run: the whole system on its embedded defaults (Ctrl-C stops it)
run: install tools
	$(PY) -m deploy.local.stack run

## make stop: stop what `make run` started, and nothing else
stop:
	@if [ -x $(PY) ]; then $(PY) -m deploy.local.stack stop; else echo "nothing was running"; fi

## make tools: Debian's pdftotext/pdftoppm (poppler-utils) and Tesseract with its Vietnamese model, with which
## intake reads PDF plans and scans, and antiword for Word 97-2003 .doc plans (best effort, as root: without
## them intake refuses those files, saying why)
tools:
	@missing=""; command -v pdftotext >/dev/null || missing="$$missing poppler-utils"; \
	command -v tesseract >/dev/null || missing="$$missing tesseract-ocr"; \
	[ -n "$$(ls /usr/share/tesseract-ocr/*/tessdata/vie.traineddata 2>/dev/null)" ] || missing="$$missing tesseract-ocr-vie"; \
	[ -f /usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf ] || missing="$$missing fonts-dejavu-core"; \
	command -v antiword >/dev/null || missing="$$missing antiword"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing$$missing (Debian packages) for reading PDF plans and scans"; \
		(timeout 300 apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1 || \
		 (timeout 120 apt-get update -q >/dev/null 2>&1 && \
		  timeout 300 apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1)) || \
		echo "could not install$$missing; intake will refuse PDFs and scans, and their tests will be skipped"; \
	fi

## make test-tools: Debian's promtool/prometheus and docker-compose, for the deployment checks, Chromium for the
## web portal's browser tests (Playwright drives /usr/bin/chromium), and the
## document tools (best effort: without them those checks are skipped, with the reason printed)
test-tools: tools
	@missing=""; command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v docker-compose >/dev/null || missing="$$missing docker-compose"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	[ -f /usr/lib/chromium/locales/vi.pak ] || missing="$$missing chromium-l10n"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing$$missing (Debian packages) for the deployment checks"; \
		(timeout 300 apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1 || \
		 (timeout 120 apt-get update -q >/dev/null 2>&1 && \
		  timeout 300 apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1)) || \
		echo "could not install$$missing; those checks will be skipped"; \
	fi
	@# The AsyncAPI initiative's parser and Redocly's linter (the engine of @redocly/cli) check docs/contracts/.
	@if command -v npm >/dev/null && [ ! -d $(TOOLS)/npm/node_modules/@redocly/openapi-core ]; then \
		timeout 300 npm install --silent --no-audit --no-fund --prefix $(TOOLS)/npm \
			@asyncapi/parser@3.6.6 @redocly/openapi-core@1.34.24 >/dev/null 2>&1 || \
		echo "could not install @asyncapi/parser and @redocly/openapi-core; the contract tool checks will be skipped"; \
	fi

## make test: every tier against the real RabbitMQ and a MongoDB-wire server
test: install test-tools
	$(PYTEST) -n $(TEST_WORKERS) --dist loadfile -m "unit or integration or e2e or deploy"

test-unit: install
	$(PYTEST) -m unit

test-integration: install
	$(PYTEST) -m integration

test-e2e: install
	$(PYTEST) -m e2e

test-deploy: install test-tools
	$(PYTEST) -m deploy

## make chaos: the full fault scenarios (minutes); their summary lines become docs/reliability.md
CHAOS_SUMMARY := .run/chaos-summary.txt
chaos: install
	@mkdir -p .run && rm -f $(CHAOS_SUMMARY)
	CHAOS_SUMMARY_FILE=$(CHAOS_SUMMARY) $(PYTEST) -m chaos -s
	$(PY) -m tests.chaos.report $(CHAOS_SUMMARY) docs/reliability.md

## make bench: the system against the raw limits of its stack, one table into docs/performance.md
## (about 15 minutes; `make bench ARGS=--quick` about 3)
bench: install
	$(PY) benchmarks/run.py $(ARGS)

## make lint: formatting, lint rules (with size and complexity limits), types and the code's shape; CI runs it first
LINT_PATHS := shared services deploy tests benchmarks
lint: install
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/mypy
	$(PY) -m tests.code_shape shared services

clean:
	rm -rf $(VENV) $(TOOLS) .run .pytest_cache
