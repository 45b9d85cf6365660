#!/usr/bin/env bash
# CI, continual-learning environment: torch and torchvision that import together, Avalanche,
# Continuum, timm and scikit-image beside the project (requirements-cl.txt), then the CL tests and the
# README's "Continual learning" examples. The main environment's CPU torch pin cannot host
# torchvision. Called from .ci/run; run alone from anywhere too.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-cl
.venv-cl/bin/python -m pip install --quiet --upgrade pip
.venv-cl/bin/python -m pip install --quiet -r requirements-cl.txt
.venv-cl/bin/python -m pip install --quiet --no-deps -e .
.venv-cl/bin/python -c "
import avalanche, continuum, datasets, skimage, timm, torch, torchvision
from torchvision.ops import nms
print('CL environment: torch', torch.__version__, 'torchvision', torchvision.__version__, 'avalanche-lib', avalanche.__version__,
      'timm', timm.__version__, 'scikit-image', skimage.__version__, 'datasets', datasets.__version__)"
.venv-cl/bin/python -m pytest -q tests/cl tests/uses/test_streams.py tests/uses/test_tensors.py tests/uses/test_paper_loader.py \
  tests/uses/test_torch_pairs.py tests/uses/test_paper_inputs.py tests/uses/test_validation.py
