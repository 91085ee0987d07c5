# Every target bootstraps .venv itself (scripts/bootstrap.sh is quick when nothing changed).
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench mutate clean

setup:
	@bash scripts/bootstrap.sh

demo: setup
	@$(BIN)/python -P -m sprintboard.demo

test: setup
	@bash scripts/install-browser.sh
	@$(BIN)/pytest -q

lint: setup
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@# mypy runs outside the repo root: there the front-door folder sprintboard/ would hide
	@# the installed package and its rooms (board/, tools/, ...), so only 19 files were checked
	@mkdir -p build && cd build && ../$(BIN)/mypy --config-file ../pyproject.toml

# Every benchmark at its --quick size (a few minutes), then one summary table of the goals.
bench: setup
	@$(BIN)/python benchmarks/run_all.py

# Mutation testing of the critical modules (mutmut, module by module; about half an hour on 2
# cores, so not in CI). `make mutate MODULES="board/state.py a2a/seen.py"` runs some of them.
mutate: setup
	@$(BIN)/python scripts/mutate.py $(MODULES)

clean:
	rm -rf $(VENV) build demo .pytest_cache .mypy_cache .ruff_cache
