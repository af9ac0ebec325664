# The two commands of the README: `make run` (the main job) and `make test` (the test suite).
# Both create .venv on first use and install everything into it; no GPU or internet access to
# model hubs is needed. `make colcon-test` (CI) builds and tests the package with colcon.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
COLCON_STAMP := $(VENV)/.colcon-installed

# Keep DDS traffic on this machine, on a domain of our own, with the 64 MB shared-memory profile
# (and its history memory policy, which needs RMW_FASTRTPS_USE_QOS_FROM_XML).
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST
export ROS_DOMAIN_ID ?= $(shell $(PYTHON) -c 'import random; print(random.randint(1, 100))')
export FASTDDS_DEFAULT_PROFILES_FILE ?= $(CURDIR)/config/fastdds_shm.xml
export RMW_FASTRTPS_USE_QOS_FROM_XML ?= 1

.PHONY: run test lint colcon-test gpu-check clean

$(STAMP): setup.py setup.cfg requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build first, so that nothing after it can pull another torch.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

run: $(STAMP)
	$(BIN)/mono-depth demo --out out

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/python -m pytest -m linter

$(COLCON_STAMP): $(STAMP) requirements-ci.txt
	$(BIN)/pip install --quiet -r requirements-ci.txt
	touch $@

# colcon build + colcon test in a temporary workspace, with the venv's Python and colcon.
colcon-test: $(COLCON_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" .ci/colcon-test

# On a machine with an NVIDIA GPU: install CUDA PyTorch, onnxruntime-gpu and TensorRT into
# .venv-gpu (never .venv), run the device tests and benchmark the GPU runtimes in one table.
# Without a GPU it says so and runs the CPU part.
gpu-check: $(STAMP)
	$(BIN)/python -m mono_depth_ros.gpu_check

clean:
	rm -rf $(VENV) .venv-gpu out build install log *.egg-info
