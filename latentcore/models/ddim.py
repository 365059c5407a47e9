"""Deterministic DDIM decoding and DDIM inversion (Song et al., "Denoising Diffusion Implicit Models",
arXiv 2010.02502, Eq. 12 with eta = 0), shared by the built-in digits model and diffusers pipelines.

The latent of a diffusion model is ``x_T``. Decoding runs the DDIM scheduler from ``x_T`` to ``x_0``;
inversion runs ``DDIMInverseScheduler``, built from the same configuration with sample clipping off (clipping
the predicted ``x_0`` breaks the round trip), from ``x_0`` back to ``x_T``. Both use "trailing" timestep
spacing, so the first decoding step is at ``t = T - 1``. With a step count that divides the training steps
(10, 20, 25, 40, 50 of 1000) the two loops visit exactly mirrored noise levels; otherwise the rounded grid and
the schedulers' fixed stride ``T // steps`` differ slightly, which clipping in the decoder can expose.
"""

from __future__ import annotations

import copy

import torch

def ddim_decode(unet_eps, scheduler, x_t: torch.Tensor, steps: int, progress=None) -> torch.Tensor:
    """``x_0`` from ``x_T`` by deterministic DDIM (eta = 0); ``unet_eps(x, t) -> predicted noise``."""
    scheduler = copy.copy(scheduler)  # set_timesteps writes on the scheduler: a model may decode in two threads
    scheduler.set_timesteps(steps, device=x_t.device)
    x = x_t
    for i, t in enumerate(scheduler.timesteps):
        x = scheduler.step(unet_eps(x, t), t, x, eta=0.0).prev_sample
        if progress is not None:
            progress((i + 1) / steps, f"DDIM step {i + 1}/{steps}")
    return x


def ddim_invert(unet_eps, inverse_scheduler, x_0: torch.Tensor, steps: int, progress=None) -> torch.Tensor:
    """``x_T`` from ``x_0`` by DDIM inversion: the noise predicted at each level moves the sample one level up."""
    inverse_scheduler = copy.copy(inverse_scheduler)  # as in ddim_decode
    inverse_scheduler.set_timesteps(steps, device=x_0.device)
    x = x_0
    for i, t in enumerate(inverse_scheduler.timesteps):
        x = inverse_scheduler.step(unet_eps(x, t), t, x).prev_sample
        if progress is not None:
            progress((i + 1) / steps, f"DDIM inversion step {i + 1}/{steps}")
    return x


def schedulers(config: dict):
    """The DDIM scheduler and its inverse (clipping off) from one scheduler configuration."""
    import inspect

    from .hub import import_diffusers

    diffusers = import_diffusers()
    DDIMInverseScheduler, DDIMScheduler = diffusers.DDIMInverseScheduler, diffusers.DDIMScheduler

    config = {k: v for k, v in dict(config).items() if not k.startswith("_")}
    known = lambda cls: {k: v for k, v in config.items() if k in inspect.signature(cls.__init__).parameters}  # noqa: E731
    forward = DDIMScheduler.from_config(known(DDIMScheduler))
    inverse = DDIMInverseScheduler.from_config({**known(DDIMInverseScheduler), "clip_sample": False})
    return forward, inverse
