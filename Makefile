# The platform's commands. `make run` and `make test` install what they need themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
PROTO_SRC := $(shell find protos -name '*.proto')
PROTO_STAMP := $(VENV)/.protos
export PYTHONPATH := $(CURDIR)/libs:$(CURDIR)

.PHONY: help install protos run test test-fast lint bench infra-up infra-down infra-status clean

help:
	@echo "make run         start the platform locally (embedded defaults + local Kafka)"
	@echo "make test        install everything the tests need and run the whole suite"
	@echo "make protos      generate Python code from protos/ into libs/zsb/"
	@echo "make lint        ruff check and format check"
	@echo "make bench       benchmarks (bench/)"
	@echo "make infra-up    start local Kafka, MariaDB, MinIO, Consul; infra-down stops them"

$(INSTALLED): requirements.txt requirements-dev.txt deploy/local/system-packages.sh
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	bash deploy/local/system-packages.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

install: $(INSTALLED)

# Generated code is never committed: it is made here, from protos/, before anything runs.
$(PROTO_STAMP): $(INSTALLED) $(PROTO_SRC)
	find libs/zsb -path '*/v1/*_pb2*' -delete
	$(PY) -m grpc_tools.protoc -Iprotos --python_out=libs --pyi_out=libs --grpc_python_out=libs $(PROTO_SRC)
	touch $@

protos: $(PROTO_STAMP)

run: $(PROTO_STAMP)
	bash deploy/local/infra.sh up kafka
	bash deploy/local/secrets.sh >/dev/null
	$(PY) -m zsb.common.supervisor --env-file var/secrets.env --seed

infra-up:
	bash deploy/local/infra.sh up
	bash deploy/local/infra.sh env >/dev/null

infra-down:
	bash deploy/local/infra.sh down

infra-status:
	bash deploy/local/infra.sh status

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: $(PROTO_STAMP) lint infra-up
	$(PY) -m pytest

bench: $(PROTO_STAMP) infra-up
	$(PY) -m bench

clean:
	rm -rf $(VENV) var
include deploy/k8s/Makefile.inc
