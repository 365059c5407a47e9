"""The built-in models' data: scikit-learn's bundled handwritten digits (1797 images of 8x8, values 0..16),
upsampled bilinearly to 16x16 and scaled to [0, 1]. Nothing is downloaded: the data ship with scikit-learn.

The split into training and held-out digits is fixed (seeded), so every script and test sees the same one.
"""

from __future__ import annotations

import functools

import torch

#: The side of the digits images in pixels, after upsampling.
IMAGE_SIZE = 16
#: How many of the 1797 digits are held out to measure the models; the other 1500 train them.
HELD_OUT = 297


@functools.cache
def _all_digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    data = load_digits()
    small = torch.tensor(data.images, dtype=torch.float32)[:, None] / 16.0          # [1797, 1, 8, 8]
    images = torch.nn.functional.interpolate(small, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear",
                                             align_corners=False).clamp(0.0, 1.0)
    labels = torch.tensor(data.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    return images[order], labels[order]


def digits(split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``[N, 1, 16, 16]`` in [0, 1] and labels ``[N]`` of the ``train`` (1500) or ``heldout`` (297) split."""
    images, labels = _all_digits()
    if split == "train":
        return images[HELD_OUT:], labels[HELD_OUT:]
    if split == "heldout":
        return images[:HELD_OUT], labels[:HELD_OUT]
    raise ValueError(f"unknown split {split!r}; use 'train' or 'heldout'")
