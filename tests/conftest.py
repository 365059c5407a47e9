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


@pytest.fixture
def tiny_unet2d_folder(tmp_path):
    """A diffusers DDIM pipeline folder with a tiny untrained UNet2DModel (8x8, 1 channel), built from configs."""
    from diffusers import DDIMPipeline, DDIMScheduler, UNet2DModel

    from tools.train import DIGITS_SCHEDULER

    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=8, in_channels=1, out_channels=1, layers_per_block=1, block_out_channels=(8, 16),
                       down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                       norm_num_groups=4)
    DDIMPipeline(unet=unet, scheduler=DDIMScheduler(**DIGITS_SCHEDULER)).save_pretrained(tmp_path / "pipe")
    return tmp_path / "pipe"


@pytest.fixture(scope="session")
def tiny_pipelines(tmp_path_factory):
    """Folders of tiny pipelines of every kind Latent Explorer loads (tests/pipelines.py), built once per session:
    ``{"sd": ..., "sdxl": ..., "sd3": ..., "sd3-t5": ...}``."""
    from pipelines import BUILDERS

    root = tmp_path_factory.mktemp("pipelines")
    return {kind: build(root / kind) for kind, build in BUILDERS.items()}


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
