"""Small networks of the built-in models (16x16 grey digits). Architectures are configured by dicts saved in
each model's ``config.json``."""

from __future__ import annotations

import json
from pathlib import Path

import safetensors.torch
import torch
from torch import nn


def save_net(net: nn.Module, folder: Path, config: dict) -> None:
    """Write ``model.safetensors`` (the state dict) and ``config.json`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file({k: v.contiguous() for k, v in net.state_dict().items()}, folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")


def load_net(net: nn.Module, folder: Path, device: torch.device) -> nn.Module:
    """``net`` with the weights of ``folder/model.safetensors``, on ``device``, in eval mode, frozen."""
    net.load_state_dict(safetensors.torch.load_file(Path(folder) / "model.safetensors"))
    return net.to(device).eval().requires_grad_(False)


class ConvEncoder(nn.Module):
    """16x16 image -> (mean, log-variance) of a diagonal Gaussian over R^latent_dim."""

    def __init__(self, latent_dim: int, width: int = 32):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 3, stride=2, padding=1), nn.SiLU(),              # 8x8
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.SiLU(),      # 4x4
            nn.Flatten(), nn.Linear(2 * width * 16, 256), nn.SiLU(),
        )
        self.mean = nn.Linear(256, latent_dim)
        self.log_var = nn.Linear(256, latent_dim)

    def forward(self, x):
        h = self.body(x)
        return self.mean(h), self.log_var(h).clamp(-12.0, 6.0)


class ConvDecoder(nn.Module):
    """R^latent_dim -> 16x16 image logits."""

    def __init__(self, latent_dim: int, width: int = 32):
        super().__init__()
        self.width = width
        self.stem = nn.Sequential(nn.Linear(latent_dim, 256), nn.SiLU(), nn.Linear(256, 2 * width * 16), nn.SiLU())
        self.body = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1), nn.SiLU(),   # 8x8
            nn.ConvTranspose2d(width, width, 4, stride=2, padding=1), nn.SiLU(),       # 16x16
            nn.Conv2d(width, 1, 3, padding=1),
        )

    def forward(self, z):
        return self.body(self.stem(z).reshape(-1, 2 * self.width, 4, 4))


class VAE(nn.Module):
    def __init__(self, latent_dim: int, width: int = 32):
        super().__init__()
        self.encoder = ConvEncoder(latent_dim, width)
        self.decoder = ConvDecoder(latent_dim, width)


class DigitsCNN(nn.Module):
    """A small classifier of 16x16 digits; ``features`` are the 128 penultimate activations."""

    def __init__(self, width: int = 32, features: int = 128, classes: int = 10):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),                 # 8x8
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),         # 4x4
            nn.Flatten(), nn.Linear(2 * width * 16, features), nn.ReLU(),
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(features, classes)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.dropout(self.body(x)))
