"""Pixel-space diffusion models as decoders (:class:`PixelDiffusionModel`): a ``UNet2DModel`` pipeline (DDPM,
DDIM or any scheduler diffusers can switch to DDIM) on pixels in [-1, 1]; the built-in ``digits-ddim`` is one. The
latent is ``x_T``; decoding runs the chosen scheduler (deterministic DDIM by default, Euler or DPM-Solver++: see
:mod:`.schedulers`); encoding is DDIM inversion (:mod:`.ddim`). Text-to-image pipelines are in :mod:`.pipelines`.
"""

from __future__ import annotations

from ..priors import StandardNormal
from .base import GenerativeModel, Sampler
from .ddim import ddim_invert, inverse_scheduler
from .schedulers import choices, make_scheduler, sample

#: The step counts offered for decoding (the default is 25).
STEPS = (10, 20, 25, 40, 50)
#: What the app says about the steps.
STEPS_HELP = "With DDIM, step counts that divide the 1000 training steps invert exactly"


class PixelUNetModel(GenerativeModel):
    """A ``UNet2DModel`` on pixels in [-1, 1]: latents and images ``[N, C, H, W]`` share its channels and sample
    size, the prior is N(0, I). Subclasses set the sampler and schedulers and call ``_network(x, t)`` in their
    sampling loops (the noise of a diffusion model, the velocity of a flow model)."""

    decode_batch = 64

    def __init__(self, unet, name: str, description: str, trained_on: str, device=None):
        super().__init__(device)
        self.unet = unet.to(self.device).eval().requires_grad_(False)
        size = unet.config.sample_size
        h, w = (size, size) if isinstance(size, int) else tuple(size)
        self.latent_shape = (unet.config.in_channels, h, w)
        self.image_shape = (unet.config.out_channels, h, w)
        self.prior = StandardNormal(self.latent_shape)
        self.name, self.description, self.trained_on = name, description, trained_on

    def _network(self, x, t):
        return self.unet(x, t).sample

    @staticmethod
    def _to_images(x0):
        return ((x0 + 1.0) / 2.0).clamp(0.0, 1.0)


class PixelDiffusionModel(PixelUNetModel):
    kind = "diffusion"

    def __init__(self, unet, scheduler_config: dict, name: str, description: str, trained_on: str, device=None):
        super().__init__(unet, name, description, trained_on, device)
        self.sampler = Sampler("Decoding steps", 25, STEPS, STEPS_HELP, choices("noise", scheduler_config))
        self.schedulers = {n: make_scheduler(n, "noise", scheduler_config) for n in self.sampler.schedulers}
        self.inverse_scheduler = inverse_scheduler(scheduler_config)

    def _decode(self, latents, *, steps: int, scheduler: str, should_stop=None):
        return self._to_images(sample(self._network, self.schedulers[scheduler], latents, steps,
                                      should_stop=should_stop))

    def _encode(self, images, *, steps: int, scheduler: str, should_stop=None):
        return ddim_invert(self._network, self.inverse_scheduler, images * 2.0 - 1.0, steps, should_stop=should_stop)


__all__ = ["PixelDiffusionModel", "PixelUNetModel"]
