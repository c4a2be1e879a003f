# Two commands on a fresh machine (Python 3.11+, Java 17+, Maven):
#   make demo   - the quick-start demo: local Kafka + sandboxes + worker, then a summary
#   make test   - the whole test suite (starts its own Kafka)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean browser

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

# Two test processes by default: the integration tests mostly wait (workers, polls, commits),
# so two of them share a 2-core machine well. TEST_PROCESSES=0 runs everything in one process.
# The 20 slowest tests are listed at the end: the suite must stay well under CI's 15 minutes.
TEST_PROCESSES ?= 2
test: $(STAMP) browser
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_PROCESSES) --durations=20

# The operator page's browser test drives Debian's chromium through chromium-driver. Install
# them when missing and we can (root with apt-get); otherwise that test skips (fails under CI).
BROWSER_PKGS := chromium chromium-driver
BROWSER_BINS ?= /usr/bin/chromium /usr/bin/chromedriver
browser:
	@missing=; for b in $(BROWSER_BINS); do [ -x "$$b" ] || missing=1; done; [ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
		echo "note: chromium/chromium-driver missing and not installable here (needs root and apt-get);" \
			"the browser test will skip (fail when CI is set)"; exit 0; fi; \
	echo "installing $(BROWSER_PKGS) for the operator page's browser test"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get install -y -qq --no-install-recommends $(BROWSER_PKGS) >/dev/null 2>&1 || \
	{ apt-get update -qq >/dev/null 2>&1 && \
	  apt-get install -y -qq --no-install-recommends $(BROWSER_PKGS) >/dev/null 2>&1; } || \
	echo "warning: could not install $(BROWSER_PKGS); the browser test will skip (fail when CI is set)"

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
