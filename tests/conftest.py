import os

import pytest
import torch

# Tests run on the CPU unless a test asks for CUDA explicitly.
os.environ.setdefault("LATENTCORE_DEVICE", "cpu")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
