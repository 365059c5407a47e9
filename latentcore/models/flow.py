"""Flow-matching decoding and inversion (Lipman et al., "Flow Matching for Generative Modeling", arXiv 2210.02747;
Liu et al., "Flow Straight and Fast: Learning to Generate and Transfer Data with Rectified Flow", arXiv 2209.03003),
shared by the built-in flow model and flow-matching diffusers pipelines (Stable Diffusion 3 and others).

A flow-matching model learns a velocity ``v(x_s, s)`` along the straight interpolation
``x_s = (1 - s) x_0 + s x_1`` between data ``x_0`` (``s = 0``) and noise ``x_1 ~ N(0, I)`` (``s = 1``); the target
is ``v = x_1 - x_0``. The latent is the noise end ``x_1``. Decoding integrates ``dx/ds = v(x, s)`` from ``s = 1``
down to ``s = 0`` with diffusers' ``FlowMatchEulerDiscreteScheduler`` (Euler steps
``x <- x + (s_next - s) v(x, s)``); the network is called with the timestep ``t = s * num_train_timesteps``, as
diffusers' pipelines do. Inversion integrates the same ODE upwards over the mirrored grid of noise levels,
``x <- x + (s_next - s) v(x, s)`` with ``s_next > s``: the Euler step of the reversed ODE, so a decode after an
encode returns the image up to the discretisation error of both loops (it shrinks as ``steps`` grows).
"""

from __future__ import annotations

import copy

import torch

from ..optimise import check_stop
from .schedulers import sample


def flow_decode(velocity, scheduler, x_1: torch.Tensor, steps: int, progress=None, *,
                should_stop=None) -> torch.Tensor:
    """``x_0`` from the noise ``x_1`` by Euler steps of the flow ODE; ``velocity(x, t) -> v`` with ``t`` the
    scheduler's timestep (``s * num_train_timesteps``, a 0-dim tensor on ``x_1``'s device). ``scheduler`` is a
    ``FlowMatchEulerDiscreteScheduler`` (or any diffusers scheduler with the same ``set_timesteps``/``step``
    contract, e.g. a flow-matching DPM-Solver++); it is copied, so one model can decode in two threads. The loop is
    :func:`.schedulers.sample`'s (nothing crosses between host and device inside it), with its ``progress`` and
    ``should_stop``."""
    return sample(velocity, scheduler, x_1, steps, progress, "flow step", should_stop=should_stop)


def flow_sigmas(scheduler, steps: int, device=None) -> torch.Tensor:
    """The noise levels ``s`` a decode with ``steps`` visits, from 1 down to 0 (``steps + 1`` values)."""
    scheduler = copy.deepcopy(scheduler)
    scheduler.set_timesteps(steps, device=device)
    return scheduler.sigmas.to(device=device, dtype=torch.float32)


def flow_invert(velocity, scheduler, x_0: torch.Tensor, steps: int, progress=None, *,
                should_stop=None) -> torch.Tensor:
    """The noise ``x_1`` of ``x_0``: Euler steps of the flow ODE upwards, over the decode's noise levels in
    reverse (0 up to 1), ``x <- x + (s_next - s) v(x, s * T)``; ``progress`` and ``should_stop`` as in
    :func:`.schedulers.sample`."""
    sigmas = flow_sigmas(scheduler, steps, x_0.device).flip(0)
    scale = float(scheduler.config.num_train_timesteps)
    x = x_0
    for i in range(steps):
        check_stop(should_stop)
        s, s_next = sigmas[i], sigmas[i + 1]
        t = (s * scale).expand(x.shape[0]).to(x.dtype)
        x = x + (s_next - s).to(x.dtype) * velocity(x, t)
        if progress is not None:
            progress((i + 1) / steps, f"flow inversion step {i + 1}/{steps}")
    return x


def flow_scheduler(config: dict):
    """A ``FlowMatchEulerDiscreteScheduler`` from a scheduler configuration (unknown keys ignored)."""
    import inspect

    from .hub import import_diffusers

    cls = import_diffusers().FlowMatchEulerDiscreteScheduler
    allowed = inspect.signature(cls.__init__).parameters
    return cls.from_config({k: v for k, v in dict(config).items() if k in allowed})


__all__ = ["flow_decode", "flow_invert", "flow_scheduler", "flow_sigmas"]
