# The two commands of the README: `make demo` and `make test`. Both install what they need into
# .venv on first use (and again when pyproject.toml changes).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HL7_EXAMPLES := .cache/hl7.fhir.r4.examples

.PHONY: install demo test check lint typecheck chaincode-deps browser hl7-examples bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned: pip takes the CPU build that lies on disk; an unpinned torch pulls CUDA.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[portal,fabric,dev]'
	touch $(STAMP)

install: $(STAMP)

# The HL7 FHIR R4 specification's own examples, fetched from npm without running any script.
$(HL7_EXAMPLES)/package/package.json:
	mkdir -p $(HL7_EXAMPLES)
	cd $(HL7_EXAMPLES) && npm pack --silent hl7.fhir.r4.examples@4.0.1 >/dev/null && tar xzf hl7.fhir.r4.examples-4.0.1.tgz && rm hl7.fhir.r4.examples-4.0.1.tgz

hl7-examples: $(HL7_EXAMPLES)/package/package.json

chaincode-deps:
	@if [ -f chaincode/package-lock.json ]; then cd chaincode && npm ci --silent --no-audit --no-fund; fi

# Debian's chromium for the portal's end-to-end test (no browser download: playwright drives it).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

demo: install
	$(VENV)/bin/consortium demo --cross-fit

test: install hl7-examples chaincode-deps browser
	$(PY) -m pytest -q
	@if [ -f chaincode/package.json ]; then cd chaincode && npm test --silent; fi

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

check: lint typecheck test

bench: install
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .cache build *.egg-info
