"""Variational auto-encoders on digits: ``digits-vae`` (prior N(0, I) in R^16) and ``semicircle-gen`` (in R^20,
the semicircle mixture prior of Struski, Tabor, Podolak, Nowak, "Interpolation in generative models", section 6,
so that linear paths between the horseshoe's ends cross a low-density region).

Folder layout: ``config.json`` (architecture, prior, training record) and ``model.safetensors``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..prior_registry import make_prior
from .base import GenerativeModel
from .nets import VAE, load_net


class VAEModel(GenerativeModel):
    """Decoder: the VAE's mean image (sigmoid of the logits). Encoder: the posterior mean. ``config.json`` names
    the prior by its family in :data:`~latentcore.prior_registry.PRIORS`."""

    kind = "vae"

    def __init__(self, folder: Path, name: str, description: str, trained_on: str, device=None):
        super().__init__(device)
        folder = Path(folder)
        self.config = json.loads((folder / "config.json").read_text())
        dim = int(self.config["latent_dim"])
        self.net = load_net(VAE(dim, int(self.config.get("width", 32))), folder, self.device)
        self.name, self.description, self.trained_on = name, description, trained_on
        self.latent_shape = (dim,)
        self.image_shape = (1, 16, 16)
        self.prior = make_prior(self.config["prior"], dim)

    def _decode(self, latents):
        return torch.sigmoid(self.net.decoder(latents))

    def _encode(self, images):
        mean, _ = self.net.encoder(images)
        return mean
