# Two commands set everything up on a fresh machine: `make run` and `make test`.
# Both create .venv when missing and install Nitrate into it (torch pinned to the local
# CPU wheel through constraints.txt, so no CUDA build is downloaded).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint bench fuzz screenshots clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing Nitrate into $(VENV) (log: $(VENV)/install.log)"
	@$(BIN)/python -m pip install --disable-pip-version-check -c constraints.txt -e '.[dev,cluster]' \
		> $(VENV)/install.log 2>&1 || (tail -n 40 $(VENV)/install.log; exit 1)
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/nitrate

lint: $(STAMP)
	$(BIN)/ruff check app ui engine tests benchmarks
	$(BIN)/lint-imports

test: lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

# Speed and quality tables (docs/BENCHMARKS.md). The ffmpeg CLI, when installed, is the peer.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.io
	$(BIN)/python -m benchmarks.shots
	$(BIN)/python -m benchmarks.retime
	$(BIN)/python -m benchmarks.track
	$(BIN)/python -m benchmarks.spots
	$(BIN)/python -m benchmarks.registration
	$(BIN)/python -m benchmarks.framing
	$(BIN)/python -m benchmarks.lut
	$(BIN)/python -m benchmarks.fixity
	$(BIN)/python -m benchmarks.pulldown
	$(BIN)/python -m benchmarks.frame_check
	$(BIN)/python -m benchmarks.models
	$(BIN)/python -m benchmarks.quality
	$(BIN)/python -m benchmarks.film_speed
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m benchmarks.interactive

# A real window under Xvfb when it is installed (apt-get install xvfb), else offscreen.
screenshots: $(STAMP)
	if command -v xvfb-run >/dev/null; then xvfb-run -a -s "-screen 0 1920x1080x24" \
		$(BIN)/python -m ui.screenshots; else QT_QPA_PLATFORM=offscreen $(BIN)/python -m ui.screenshots; fi

# Fuzz the project loader and the media probe for a fixed time (seconds per target).
fuzz: $(STAMP)
	$(BIN)/python -m benchmarks.fuzz --seconds 60

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
