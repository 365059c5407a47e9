"""Generative adversarial networks: the DCGAN generator (Radford, Metz, Chintala, "Unsupervised Representation
Learning with Deep Convolutional Generative Adversarial Networks", arXiv 1511.06434) and the model built on it.

The built-in ``faces-dcgan`` is this generator with the weights of the PyPI package ``gan-face-generate`` 1.1.1
(Chien Liu, MIT licence), trained on Microsoft's DigiFace-1M synthetic faces; the project's
``tools/import_weights.py`` converts them. Folder layout: ``config.json`` (architecture, prior, output range,
provenance) and ``model.safetensors`` (the generator's state dict; float16 when that leaves every decoded
8-bit pixel unchanged, computed in float32 after loading).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from ..prior_registry import make_prior
from .base import GenerativeModel
from .nets import load_net


class DCGANGenerator(nn.Module):
    """The DCGAN generator of the PyTorch DCGAN tutorial: a latent ``[N, nz, 1, 1]`` through five transposed
    convolutions (4x4 kernels; batch norm and ReLU between them) to ``[N, nc, 64, 64]`` in [-1, 1] (tanh).
    Feature maps ``ngf * 8 -> ngf * 4 -> ngf * 2 -> ngf`` at 4, 8, 16 and 32 pixels. Parameter names follow the
    tutorial's (``main.0.weight`` ...), so its checkpoints load unchanged."""

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3):
        super().__init__()
        widths = [ngf * 8, ngf * 4, ngf * 2, ngf]
        layers: list[nn.Module] = [nn.ConvTranspose2d(nz, widths[0], 4, 1, 0, bias=False)]
        for w_in, w_out in zip(widths, widths[1:] + [nc]):
            layers += [nn.BatchNorm2d(w_in), nn.ReLU(True), nn.ConvTranspose2d(w_in, w_out, 4, 2, 1, bias=False)]
        self.main = nn.Sequential(*layers, nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class GANModel(GenerativeModel):
    """A DCGAN generator as a model: latents ``[N, nz, 1, 1]`` from the prior named in ``config.json``, images
    ``(tanh + 1) / 2`` in [0, 1]. Batch norm runs in eval mode (the running statistics of training), so an image
    depends on its own latent only. No encoder: images come back to latents by optimisation."""

    kind = "gan"

    def __init__(self, folder: Path, name: str, description: str, trained_on: str, device=None):
        super().__init__(device)
        folder = Path(folder)
        self.config = json.loads((folder / "config.json").read_text())
        nz, ngf, nc = (int(self.config[key]) for key in ("nz", "ngf", "nc"))
        self.net = load_net(DCGANGenerator(nz, ngf, nc), folder, self.device)
        self.name, self.description, self.trained_on = name, description, trained_on
        self.latent_shape = (nz, 1, 1)
        self.image_shape = (nc, 64, 64)
        self.prior = make_prior(self.config["prior"], self.latent_shape)

    def _decode(self, latents):
        return self.net(latents).add(1.0).mul(0.5)
