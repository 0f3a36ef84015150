# pasdeux: `make demo` runs the main job on the embedded synthetic data, `make test` runs the tests.
# Both set everything up on a fresh machine first (`make setup`).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.installed

.PHONY: setup test demo bench clean

setup: $(STAMP)

# A torch already importable by $(PYTHON) (a CUDA build, say) is kept: the venv then sees the system
# site-packages and torch is not reinstalled. Otherwise torch==2.13.0 (the CPU build) goes in first,
# so nothing later pulls an unpinned multi-GB torch.
$(STAMP): pyproject.toml constraints.txt
	@if $(PYTHON) -c "import torch" 2>/dev/null; then \
		echo "keeping the torch that $(PYTHON) already has"; \
		$(PYTHON) -m venv --system-site-packages $(VENV); \
	else \
		$(PYTHON) -m venv $(VENV); \
	fi
	$(PY) -m pip install -q --upgrade pip
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

test: setup
	$(PY) -m pytest -q

demo: setup
	$(PY) cli.py demo --out demo_out

bench: setup
	$(PY) bench/bench_features.py
	$(PY) bench/bench_metrics.py
	$(PY) bench/bench_generation.py --sizes quick paper --batches 1 16 --dtypes fp32
	$(PY) bench/bench_follow.py --sizes quick paper
	$(PY) bench/bench_camera.py --size quick --steps 50 20 10

clean:
	rm -rf $(VENV) demo_out .pytest_cache
