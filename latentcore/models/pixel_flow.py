"""Flow-matching models on pixels: a ``UNet2DModel`` that predicts the velocity ``v = x_1 - x_0`` of the straight
path ``x_s = (1 - s) x_0 + s x_1`` between an image ``x_0`` in [-1, 1] and noise ``x_1 ~ N(0, I)`` (Liu et al.,
"Flow Straight and Fast", arXiv 2209.03003; Lipman et al., "Flow Matching for Generative Modeling",
arXiv 2210.02747). The latent is ``x_1``; decoding integrates the flow ODE from ``s = 1`` to ``s = 0`` with Euler
steps, encoding integrates it back up (see :mod:`.flow`). The built-in ``digits-flow`` is one.
"""

from __future__ import annotations

from .base import Sampler
from .diffusion import PixelUNetModel
from .flow import flow_decode, flow_invert, flow_scheduler
from .schedulers import choices, make_scheduler

#: The step counts offered for decoding (the default is 25).
STEPS = (10, 15, 20, 25, 30, 40, 50)
#: What the app says about the steps.
STEPS_HELP = ("Steps from the noise to the image; inversion runs the Euler noise levels backwards, so any count "
              "inverts (exactly with Euler decoding). More steps follow the ODE more closely and take longer")


class PixelFlowModel(PixelUNetModel):
    """``unet(x_s, t).sample`` is the velocity at noise level ``s = t / num_train_timesteps``; ``scheduler_config``
    configures the ``FlowMatchEulerDiscreteScheduler`` that sets the grid of Euler decoding and of inversion;
    decoding may also run DPM-Solver++'s flow variant (:mod:`.schedulers`). Latents ``[N, C, H, W]`` (the UNet's
    in_channels and sample_size), images ``[N, C, H, W]`` in [0, 1]."""

    kind = "flow"

    def __init__(self, unet, scheduler_config: dict, name: str, description: str, trained_on: str, device=None):
        super().__init__(unet, name, description, trained_on, device)
        self.scheduler = flow_scheduler(scheduler_config)
        self.sampler = Sampler("Decoding steps", 25, STEPS, STEPS_HELP, choices("flow", scheduler_config))
        self.schedulers = {n: self.scheduler if n == "euler" else make_scheduler(n, "flow", scheduler_config)
                           for n in self.sampler.schedulers}

    def _decode(self, latents, *, steps: int, scheduler: str, should_stop=None):
        return self._to_images(flow_decode(self._network, self.schedulers[scheduler], latents, steps,
                                           should_stop=should_stop))

    def _encode(self, images, *, steps: int, scheduler: str, should_stop=None):
        return flow_invert(self._network, self.scheduler, images * 2.0 - 1.0, steps, should_stop=should_stop)


__all__ = ["PixelFlowModel"]
