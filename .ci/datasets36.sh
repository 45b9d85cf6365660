#!/usr/bin/env bash
# CI, second environment: datasets 3.6.0 (the last release that runs loading scripts) beside the 5.x
# one, to test genimage_cl.py as a loading script. Called from .ci/run; run alone from anywhere too.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv36
. .venv36/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet "torch==2.13.0" "datasets==3.6.0" "huggingface_hub>=0.24,<3" "pillow>=10" "imagecodecs>=2024.1.1" "numpy>=1.26" "pytest>=8"
python -m pip install --quiet --no-deps -e .
# The loading-script tests, and the task streams that CL code pinned to datasets 3.x calls.
python -m pytest -q tests/datasets36 tests/uses/test_streams.py
