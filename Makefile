# The two commands a newcomer needs:  make run   and   make test
# Everything else here is for trainers and operators (see README.md).
SHELL := /bin/bash
PY := .venv/bin/python
export PYTHONPATH := $(CURDIR)
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
# Rasa prints TensorFlow/oneDNN chatter and a telemetry notice otherwise.
export TF_CPP_MIN_LOG_LEVEL := 2
export RASA_TELEMETRY_ENABLED := false

.PHONY: setup train run test test-fast pytest validate story-test eval eval-real bench soak crossval clean

setup:
	@bash scripts/setup.sh

train: setup
	@$(PY) -m bot train

run: setup
	@$(PY) -m bot run

# Every check: pytest (unit, integration, end-to-end), rasa data validate, the Rasa test stories.
test: setup train validate pytest story-test
	@echo "make test: all checks passed."

pytest: setup train
	@$(PY) -m pytest

# The unit tests alone (markers set in tests/conftest.py): no training, no servers, no browser.
test-fast: setup
	@$(PY) -m pytest -m unit -q

# rasa data validate, then knowledge hygiene (the loader fails on errors; the rest is listed for trainers).
validate: setup
	@$(PY) -m rasa data validate --fail-on-warnings
	@$(PY) -m bot kb-check

story-test: setup train
	@$(PY) -m bot story-test

eval: setup
	@$(PY) -m bot eval tests/data/kb_eval.tsv --chart var/eval.png

# Real customer messages (../shared/realq/dev.tsv) through the REST channel of a running assistant
# (starts `make run` when nothing answers on 5005); per-row replies in var/realq-results.json. The
# probe sends ~200 messages a minute from one address: the `make run` it starts gets higher limits
# (an assistant already running keeps its own, RATE_LIMIT_IP_PER_MINUTE 120: stop it first).
eval-real: setup
	@RATE_LIMIT_IP_PER_MINUTE=100000 RATE_LIMIT_SENDER_PER_MINUTE=1000 $(PY) ../shared/realq/probe.py --out var/realq-results.json

# Speed: ours beside a bare `rasa init` bot (latency, throughput, RSS, start-up; scale-out on
# PostgreSQL + Redis behind haproxy), the knowledge base at 1x/4x/10x, the WeChat channel, then 在线人工
# (agent↔customer latency and the chats one console handles).
# Figures depend on the machine's load (printed with them). BENCH_ARGS="--n1 50 --n16 50" for a quick run.
bench: setup train eval
	@$(PY) scripts/bench.py $(BENCH_ARGS)
	@$(PY) scripts/bench_kb_growth.py
	@$(PY) scripts/bench_wechat.py
	@$(PY) scripts/bench_livechat.py

# Faults, fuzzing and a flood against the real servers (scripts/soak.py): on PostgreSQL (a scratch
# database behind a fault proxy: stopped, restarted, blackholed) and then on SQLite (the database's
# directory gone, its write lock held by another process), 20 conversations for 2 minutes each with
# 50 SIGKILLs of the action server; 10,000 random messages and oversized bodies; then 2,000 new
# senders typing 转人工 over REST and 2,000 over web chat against the default rate limits. Prints the
# figures and fails if an order is missing or doubled, a transcript line is lost, the server errs,
# or the flood creates more orders than the limits allow. SOAK_ARGS="--db sqlite" for one backend.
# `make test` runs a small slice (tests/test_soak_slice.py).
soak: setup train
	@$(PY) scripts/soak.py --json var/soak.json $(SOAK_ARGS)

crossval: setup
	@$(PY) -m rasa test nlu --nlu data/nlu --config config.yml --cross-validation --folds 5 --out results/crossval

clean:
	rm -rf models results var/endpoints.yml
