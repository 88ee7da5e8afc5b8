# xCAT-openbmc-py: every target installs what it needs into .venv first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
AGENT_DIR := xCAT-openbmc-py/lib/python/agent
PREFIX ?= /opt/xcat
NODES ?= 64
PROTOCOL ?= openbmc
TABLES ?= /tmp/xcat-sim-tables
FAULTS ?=
SIM_ARGS ?=

.PHONY: venv deps test test-python test-perl demo sim bench install clean

$(VENV)/.stamp: requirements.txt requirements-dev.txt
	@bash tools/deps.sh
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.stamp

test: venv
	$(PY) -m pytest -q
	PERL5LIB= prove -r tests/perl

test-python: venv
	$(PY) -m pytest -q

test-perl: venv
	PERL5LIB= prove -r tests/perl

demo: venv
	PY=$(PY) NODES=$(NODES) bash tools/demo.sh

sim: venv
	PYTHONPATH=tests $(PY) -m sim.fleet --nodes $(NODES) --protocol $(PROTOCOL) --tables $(TABLES) $(if $(FAULTS),--faults '$(FAULTS)') $(SIM_ARGS)

# make bench [NODES=1000] [BENCH_JSON=bench/results.json]: see bench/README.md (NODES defaults to 1000 here).
BENCH_JSON ?= bench/results.json
bench: venv
	NODES=$(if $(filter file,$(origin NODES)),1000,$(NODES)) BENCH_JSON=$(BENCH_JSON) $(PY) bench/bench.py

clean:
	rm -rf $(VENV) bench/results.json

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
