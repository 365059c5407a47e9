"""The decoder interface every model of Latent Explorer implements.

A model maps latents ``[N, *latent_shape]`` to images ``[N, C, H, W]`` in [0, 1], knows its prior, and where it
can, maps images back to latents (a VAE encoder, or DDIM inversion for diffusion models). Decoding is chunked
so memory stays bounded, runs without gradients unless ``grad=True`` (ri-optimal paths differentiate through the
decoder), and is deterministic.
"""

from __future__ import annotations

import torch

from ..device import as_tensor, default_device
from ..priors import Prior


class GenerativeModel:
    """Subclasses set the attributes below and implement ``_decode`` (and ``_encode`` where they can)."""

    name: str
    latent_shape: tuple[int, ...]
    image_shape: tuple[int, int, int]          # (C, H, W)
    prior: Prior
    description: str                           # one paragraph for the UI
    trained_on: str                            # the data, in a sentence
    decode_batch: int = 256                    # latents per chunk
    encode_batch: int = 256

    def __init__(self, device: torch.device | str | None = None):
        self.device = torch.device(device) if device is not None else default_device()

    @property
    def can_encode(self) -> bool:
        return type(self)._encode is not GenerativeModel._encode

    def _check_latents(self, latents) -> tuple[torch.Tensor, tuple[int, ...]]:
        flat, batch = self.prior.flatten(as_tensor(latents))
        if not bool(torch.isfinite(flat).all()):
            raise ValueError("latents contain NaN or Inf; a decoder needs finite latents")
        return flat.reshape(-1, *self.latent_shape).to(self.device, torch.float32), batch

    def decode(self, latents, *, grad: bool = False, **options) -> torch.Tensor:
        """Images ``[..., C, H, W]`` in [0, 1] of latents ``[..., *latent_shape]``; ``options`` are the model's
        own (e.g. ``steps`` for diffusion models)."""
        z, batch = self._check_latents(latents)
        with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
            parts = [self._decode(chunk, **options) for chunk in z.split(self.decode_batch)]
        images = torch.cat(parts) if parts else z.new_zeros(0, *self.image_shape)
        return images.reshape(*batch, *self.image_shape)

    def encode(self, images, **options) -> torch.Tensor:
        """Latents ``[N, *latent_shape]`` of images ``[N, C, H, W]`` in [0, 1] (resized and converted to the
        model's size and channels first; see :meth:`prepare_images`)."""
        if not self.can_encode:
            raise NotImplementedError(f"{self.name} has no encoder: it cannot turn images into latents")
        x = self.prepare_images(images)
        with torch.no_grad():
            parts = [self._encode(chunk, **options) for chunk in x.split(self.encode_batch)]
        return torch.cat(parts)

    def prepare_images(self, images) -> torch.Tensor:
        """Images ``[N, C', H', W']`` (or ``[C', H', W']``, or a list of such of different sizes) in [0, 1] as
        ``[N, C, H, W]`` on the model's device: channels averaged to one or repeated to three as needed, resized
        bilinearly (antialiased)."""
        if isinstance(images, (list, tuple)):
            if not images:
                raise ValueError("no images given")
            return torch.cat([self.prepare_images(image) for image in images])
        x = as_tensor(images).to(self.device, torch.float32)
        if x.dim() == 3:
            x = x[None]
        if x.dim() != 4:
            raise ValueError(f"images must be [N, C, H, W] or [C, H, W], got shape {tuple(x.shape)}")
        if not bool(torch.isfinite(x).all()) or float(x.min()) < 0.0 or float(x.max()) > 1.0:
            raise ValueError("image values must be finite and lie in [0, 1]")
        c, h, w = self.image_shape
        if x.shape[1] != c:
            x = x[:, :3].mean(1, keepdim=True)
            x = x.expand(-1, c, -1, -1)
        if x.shape[2:] != (h, w):
            x = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", align_corners=False,
                                                antialias=True).clamp(0.0, 1.0)
        return x.contiguous()

    def _decode(self, latents: torch.Tensor, **options) -> torch.Tensor:
        raise NotImplementedError

    def _encode(self, images: torch.Tensor, **options) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.name}: latent {self.latent_shape} -> image {self.image_shape} "
                f"on {self.device}>")
