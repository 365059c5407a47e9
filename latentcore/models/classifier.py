"""``digits-classifier``: a small CNN that labels 16x16 digits. It measures class preservation along paths,
gives the class probability for feature-restricted interpolation (Struski et al., arXiv 1904.03445), and its
penultimate features give a Frechet distance between sets of images (as FID does with Inception features; Heusel et
al., arXiv 1706.08500).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import scipy.linalg
import torch

from ..device import as_tensor, default_device
from .nets import DigitsCNN, load_net


class DigitsClassifier:
    """The digits classifier (a small CNN, ``digits-classifier``) over images ``[N, 1, 16, 16]`` in [0, 1]: the
    judge of the digits models (class preservation, and the Frechet distance of its features).

    Parameters
    ----------
    folder
        The model folder holding ``config.json`` and the weights (safetensors).
    device
        Where it computes; default :func:`latentcore.device.default_device`.
    """

    name = "digits-classifier"

    def __init__(self, folder: Path, device=None):
        folder = Path(folder)
        self.device = torch.device(device) if device is not None else default_device()
        self.config = json.loads((folder / "config.json").read_text())
        net = DigitsCNN(int(self.config.get("width", 32)), int(self.config.get("features", 128)))
        self.net = load_net(net, folder, self.device)

    def _images(self, images) -> torch.Tensor:
        x = as_tensor(images).to(self.device, torch.float32)
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 16, 16):
            raise ValueError(f"the digits classifier takes images [N, 1, 16, 16] in [0, 1], got {tuple(x.shape)}")
        return x

    def logits(self, images, grad: bool = False) -> torch.Tensor:
        """Class logits ``[N, 10]``; differentiable when ``grad``."""
        with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
            return self.net(self._images(images))

    def predict_proba(self, images, grad: bool = False) -> torch.Tensor:
        """Class probabilities ``[N, 10]``; differentiable when ``grad`` (feature-restricted paths)."""
        return torch.softmax(self.logits(images, grad), dim=1)

    def predict(self, images) -> torch.Tensor:
        """The most probable class of each image, ``[N]``."""
        return self.logits(images).argmax(1)

    def features(self, images) -> torch.Tensor:
        """The penultimate layer's features ``[N, F]``, for the Frechet distance."""
        with torch.no_grad():
            return self.net.features(self._images(images))


def frechet_distance(features_a, features_b) -> float:
    """``||m_a - m_b||^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2))`` between Gaussians fitted to two feature sets."""
    a = np.asarray(as_tensor(features_a).detach().cpu().double())
    b = np.asarray(as_tensor(features_b).detach().cpu().double())
    if a.shape[0] < 2 or b.shape[0] < 2:
        raise ValueError("the Frechet distance needs at least two feature vectors in each set")
    ma, mb = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = np.real(scipy.linalg.sqrtm(ca @ cb))
    return float(max(((ma - mb) ** 2).sum() + np.trace(ca + cb - 2.0 * root), 0.0))

