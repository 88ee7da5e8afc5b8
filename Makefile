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
	prove -r tests/perl

sim: venv
	PYTHONPATH=tests $(PY) -m sim.fleet --nodes $(NODES) --protocol $(PROTOCOL) --tables $(TABLES) $(if $(FAULTS),--faults '$(FAULTS)')

clean:
	rm -rf $(VENV) bench/results.json
