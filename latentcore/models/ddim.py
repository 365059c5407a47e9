"""DDIM inversion (Song et al., "Denoising Diffusion Implicit Models", arXiv 2010.02502, Eq. 12 with eta = 0 run
backwards), shared by the built-in digits model and diffusers pipelines; decoding runs the scheduler the user
chose (:mod:`.schedulers`).

The latent of a diffusion model is ``x_T``. Inversion runs ``DDIMInverseScheduler``, built from the pipeline's
scheduler configuration with sample clipping off (clipping the predicted ``x_0`` breaks the round trip), from
``x_0`` back to ``x_T``; a DDIM decode with the same steps returns ``x_0``. With "trailing" timestep spacing (the
built-in model's) and a step count that divides the training steps (10, 20, 25, 40, 50 of 1000) the two loops
visit exactly mirrored noise levels; otherwise the rounded grid and the schedulers' fixed stride ``T // steps``
differ slightly, which clipping in the decoder can expose.
"""

from __future__ import annotations

import inspect

import torch

from .schedulers import sample


def ddim_invert(unet_eps, inverse_scheduler, x_0: torch.Tensor, steps: int, progress=None, *,
                should_stop=None) -> torch.Tensor:
    """``x_T`` from ``x_0`` by DDIM inversion: the noise predicted at each level moves the sample one level up.
    ``progress`` and ``should_stop`` as in :func:`.schedulers.sample`."""
    return sample(unet_eps, inverse_scheduler, x_0, steps, progress, "DDIM inversion step", should_stop=should_stop)


def inverse_scheduler(config: dict):
    """The ``DDIMInverseScheduler`` (clipping off) of a scheduler configuration (unknown keys ignored)."""
    from .hub import import_diffusers

    cls = import_diffusers().DDIMInverseScheduler
    allowed = inspect.signature(cls.__init__).parameters
    return cls.from_config({**{k: v for k, v in dict(config).items() if k in allowed}, "clip_sample": False})
