"""Variational auto-encoders on digits: ``digits-vae`` (prior N(0, I) in R^16) and ``semicircle-gen`` (the
semicircle mixture prior of paper 003 section 6 in R^20, so that linear paths between the horseshoe's ends
cross a low-density region).

Folder layout: ``config.json`` (architecture, prior, training record) and ``model.safetensors``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..priors import GaussianMixture, Prior, StandardNormal
from .base import GenerativeModel
from .nets import VAE, load_net

PRIOR_BUILDERS = {
    "standard-normal": lambda dim: StandardNormal(dim),
    "semicircle": lambda dim: GaussianMixture.semicircle(dim),
}


def build_prior(name: str, dim: int) -> Prior:
    if name not in PRIOR_BUILDERS:
        raise ValueError(f"unknown VAE prior {name!r} in config; known: {', '.join(PRIOR_BUILDERS)}")
    return PRIOR_BUILDERS[name](dim)


class VAEModel(GenerativeModel):
    """Decoder: the VAE's mean image (sigmoid of the logits). Encoder: the posterior mean."""

    def __init__(self, folder: Path, name: str, description: str, trained_on: str, device=None):
        super().__init__(device)
        folder = Path(folder)
        self.config = json.loads((folder / "config.json").read_text())
        dim = int(self.config["latent_dim"])
        self.net = load_net(VAE(dim, int(self.config.get("width", 32))), folder, self.device)
        self.name, self.description, self.trained_on = name, description, trained_on
        self.latent_shape = (dim,)
        self.image_shape = (1, 16, 16)
        self.prior = build_prior(self.config["prior"], dim)

    def _decode(self, latents, **options):
        return torch.sigmoid(self.net.decoder(latents))

    def _encode(self, images, **options):
        mean, _ = self.net.encoder(images)
        return mean
