import os

import pytest
import torch

# Tests run on the CPU unless a test asks for CUDA explicitly.
os.environ.setdefault("LATENTCORE_DEVICE", "cpu")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def workspace_folder(tmp_path_factory, monkeypatch):
    """Each test saves workspaces in its own temporary folder, never in the user's data directory."""
    folder = tmp_path_factory.mktemp("workspaces")
    monkeypatch.setenv("LATENT_EXPLORER_WORKSPACES", str(folder))
    return folder


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
