# xCAT-openbmc-py: every target installs what it needs into .venv first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# Second venv: the oldest library versions the distributions ship (requirements-oldest.txt).
OLD_VENV ?= .venv-oldest
OLD_PY := $(OLD_VENV)/bin/python
# Python that makes the venvs (3.9 or newer).
PYTHON ?= python3
AGENT_DIR := xCAT-openbmc-py/lib/python/agent
PREFIX ?= /opt/xcat
NODES ?= 64
PROTOCOL ?= openbmc
TABLES ?= /tmp/xcat-sim-tables
FAULTS ?=
SIM_ARGS ?=

.PHONY: venv venv-oldest deps test lint test-python test-perl test-oldest package-test deb rpm \
	demo sim bench install clean

$(VENV)/.stamp: requirements.txt requirements-test.txt requirements-dev.txt
	@bash tools/deps.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

$(OLD_VENV)/.stamp: requirements-oldest.txt requirements-test.txt
	@bash tools/deps.sh
	$(PYTHON) -m venv $(OLD_VENV)
	$(OLD_PY) -m pip install -q -r requirements-oldest.txt -r requirements-test.txt
	touch $@

venv: $(VENV)/.stamp

venv-oldest: $(OLD_VENV)/.stamp

deps:
	@bash tools/deps.sh

# Everything CI runs: lint, both pytest runs, prove, and the package install test.
test: lint test-python test-perl test-oldest package-test

# Python 3.9 syntax and pyflakes/pycodestyle (pyproject.toml [tool.ruff]).
lint: venv
	$(VENV)/bin/ruff check --no-cache xCAT-openbmc-py tests bench tools

test-python: venv
	$(PY) -m pytest -q

test-perl: venv
	PERL5LIB= prove -r tests/perl

# The unit and e2e suites again on the oldest libraries (fleet-scale `slow` checks and the
# runner `chain` suites skipped: pyproject.toml's markers). The three protocol matrices
# (every action x every BMC variant or vendor style) are left to the main run: they exercise
# our protocol logic, and what meets the libraries there (TLS, timeouts, pools, redirects,
# sockets, the warm agent) is covered by the other e2e files.
OLDEST_SKIP := tests/e2e/test_redfish_fleet.py tests/e2e/test_redfish_vendors.py tests/e2e/test_openbmc_chain.py
test-oldest: venv-oldest
	$(OLD_PY) -m pytest -q -m 'not slow and not chain' $(addprefix --ignore=,$(OLDEST_SKIP)) tests/unit tests/e2e

# Build both packages and run the install/divert/remove checks in throwaway roots.
package-test: deb rpm
	bash packaging/test-packages.sh

# make deb / make rpm: packages of the agent and the broker for the distribution's python3
# (packaging/README.md); written to build/.
deb:
	bash packaging/build-deb.sh

rpm:
	bash packaging/build-rpm.sh

demo: venv
	PY=$(PY) NODES=$(NODES) bash tools/demo.sh

sim: venv
	PYTHONPATH=tests $(PY) -m sim.fleet --nodes $(NODES) --protocol $(PROTOCOL) --tables $(TABLES) $(if $(FAULTS),--faults '$(FAULTS)') $(SIM_ARGS)

# make bench [NODES=1000] [BENCH_JSON=bench/results.json]: see bench/README.md (NODES defaults to 1000 here).
BENCH_JSON ?= bench/results.json
bench: venv
	NODES=$(if $(filter file,$(origin NODES)),1000,$(NODES)) BENCH_JSON=$(BENCH_JSON) $(PY) bench/bench.py

clean:
	rm -rf $(VENV) $(OLD_VENV) build bench/results.json

# Agent tree to PREFIX/lib/python/agent (agent.py 755, the rest 644, no tests, no caches);
# broker plugins to PREFIX/lib/perl/xCAT_plugin and its helper modules to PREFIX/lib/perl/xCAT
# (xCAT/PyAgent.pm and xCAT/PyAgent/*.pm).
# The runner's stand-ins for xCAT core modules (perl/runner) are never installed.
install:
	install -d $(DESTDIR)$(PREFIX)/lib/python/agent
	cd $(AGENT_DIR) && find . -name tests -prune -o -name __pycache__ -prune -o -type f -name '*.py' -print | \
	  while read -r f; do \
	    mode=644; [ "$$f" = ./agent.py ] && mode=755; \
	    install -D -m $$mode "$$f" "$(DESTDIR)$(PREFIX)/lib/python/agent/$$f"; \
	  done
	install -d $(DESTDIR)$(PREFIX)/lib/perl/xCAT_plugin $(DESTDIR)$(PREFIX)/lib/perl/xCAT/PyAgent
	install -m 644 perl/xCAT_plugin/openbmc2.pm perl/xCAT_plugin/redfish.pm $(DESTDIR)$(PREFIX)/lib/perl/xCAT_plugin/
	install -m 644 perl/xCAT/PyAgent.pm $(DESTDIR)$(PREFIX)/lib/perl/xCAT/
	install -m 644 perl/xCAT/PyAgent/*.pm $(DESTDIR)$(PREFIX)/lib/perl/xCAT/PyAgent/
