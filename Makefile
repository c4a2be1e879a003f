# Two commands on a fresh machine (Python 3.11+, Java 17+, Maven):
#   make demo   - the quick-start demo: local Kafka + sandboxes + worker, then a summary
#   make test   - the whole test suite (starts its own Kafka)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean

$(STAMP): pyproject.toml
	@command -v java >/dev/null || { echo "error: java is missing (install a Java 17+ runtime)"; exit 3; }
	@command -v mvn >/dev/null || { echo "error: mvn is missing (install Maven)"; exit 3; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/holded-sync demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
