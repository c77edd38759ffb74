# Two commands: `make run` serves the app, `make test` runs every test.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
STAMP := $(VENV)/.installed

.PHONY: run test install test-fast i18n bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/streamlit run serve.py --server.port $(PORT)

test: $(STAMP)
	bash scripts/ensure_chromium.sh
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not e2e"

# after changing user-visible text: extract the messages, merge them into the Chinese catalogue,
# compile it (the .mo is committed) and list what still needs a translation
i18n: $(STAMP)
	$(BIN)/python scripts/i18n.py all

clean:
	rm -rf $(VENV) .pytest_cache tests/e2e/screenshots
