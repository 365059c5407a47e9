"""The decoding schedulers a user can choose for a sampling model, behind one registry, and the sampling loop that
runs any of them.

- ``ddim``: deterministic DDIM (Song et al., "Denoising Diffusion Implicit Models", arXiv 2010.02502, eta = 0).
- ``euler``: Euler steps of the probability-flow ODE (Karras et al., "Elucidating the Design Space of
  Diffusion-Based Generative Models", arXiv 2206.00364, Algorithm 1 without churn); for flow-matching models the
  Euler steps of the flow ODE (``FlowMatchEulerDiscreteScheduler``).
- ``dpm++``: the second-order multistep DPM-Solver++ (Lu et al., "DPM-Solver++: Fast Solver for Guided Sampling
  of Diffusion Probabilistic Models", arXiv 2211.01095), which needs fewer steps for the same quality; for
  flow-matching models its flow variant (``use_flow_sigmas``, velocity predictions).

Every choice is deterministic, so a latent decodes to one image. Each is built from the pipeline's own scheduler
configuration (its noise schedule, prediction type, timestep spacing and shift), as diffusers' ``from_config``
switches a pipeline's scheduler. Inversion (images to latents) does not depend on the choice: diffusion models
invert by DDIM inversion and flow models by integrating the flow ODE backwards, so an encode followed by a decode
returns the image only with ``ddim`` (diffusion) or ``euler`` (flow). A configuration that clips the predicted
``x_0`` (``clip_sample``) keeps its clipping: DPM-Solver++ clips through its thresholding bounded by the clip range,
and Euler, which cannot clip, is not offered (:func:`clipped`).

:func:`sample` is diffusers' sampling loop, arranged so that nothing moves between the host and an accelerator
inside it: the scheduler's tables and arithmetic stay on the CPU (its scalars enter the device's arithmetic as
kernel arguments), and the timesteps the network sees are copied to the device once, before the loop.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass, field

import torch

from ..optimise import check_stop

#: The families of networks a scheduler drives (``"noise"`` for networks predicting the noise, or ``v``, or ``x_0``
#: of a diffusion; ``"flow"`` for networks predicting the velocity of a flow).
FAMILIES = ("noise", "flow")


@dataclass(frozen=True)
class SchedulerChoice:
    """One decoding scheduler: its ``label`` and ``help`` for the UI, and per family the diffusers class with the
    settings that make it deterministic (None: not offered for that family).

    Parameters
    ----------
    name
        The key in :data:`SCHEDULERS`, e.g. ``"dpm++"``.
    label
        The name the app shows.
    help
        A sentence for the app.
    classes
        For each family it is offered for (see :data:`FAMILIES`), the diffusers scheduler class's name and the
        settings that make it deterministic, e.g. ``{"noise": ("DDIMScheduler", {})}``.
    clips
        Whether it can clip the predicted ``x_0`` as a configuration that asks for it (``clip_sample``) needs;
        default True.
    """

    name: str
    label: str
    help: str
    classes: dict[str, tuple[str, dict]] = field(default_factory=dict)  # family -> (diffusers class, settings)
    clips: bool = True  # can clip the predicted x_0 as a configuration that asks for it (clip_sample) needs


#: The decoding schedulers by name (``ddim``, ``euler``, ``dpm++``), in the order the app lists them.
#:
#: :meta hide-value:
SCHEDULERS: dict[str, SchedulerChoice] = {c.name: c for c in (
    SchedulerChoice("ddim", "DDIM", "deterministic DDIM, the inverse of DDIM inversion: an inverted image decodes "
                    "back to itself", {"noise": ("DDIMScheduler", {})}),
    SchedulerChoice("euler", "Euler", "Euler steps of the ODE; for flow models the inverse of their inversion",
                    {"noise": ("EulerDiscreteScheduler", {}), "flow": ("FlowMatchEulerDiscreteScheduler", {})},
                    clips=False),
    SchedulerChoice("dpm++", "DPM-Solver++", "a second-order multistep solver: good images in fewer steps",
                    {"noise": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "solver_order": 2}),
                     "flow": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "solver_order": 2,
                                                              "use_flow_sigmas": True,
                                                              "prediction_type": "flow_prediction"})}),
)}


def clipped(config: dict | None) -> bool:
    """Whether a diffusion scheduler ``config`` clips (or thresholds) the predicted ``x_0`` at each step. A model
    trained with a schedule whose last level keeps almost no signal (the cosine schedule of ``digits-ddim``) needs
    it: its first predicted ``x_0`` divides the predicted noise by ``sqrt(alpha_T)``, about 5e-5 there.

    Parameters
    ----------
    config
        A diffusers scheduler configuration; None for none (no clipping).

    Returns
    -------
    bool
        True when ``clip_sample`` or ``thresholding`` is set.
    """
    config = config or {}
    return bool(config.get("clip_sample") or config.get("thresholding"))


def choices(family: str, config: dict | None = None) -> tuple[str, ...]:
    """The scheduler names offered for a family (``"noise"`` or ``"flow"``), the default first: the one a
    pipeline's scheduler ``config`` names (its ``_class_name``, e.g. SDXL's Euler) when it is offered, else DDIM for
    diffusion and Euler for flow matching. Schedulers that cannot clip are left out where ``config`` clips.

    Parameters
    ----------
    family
        ``"noise"`` or ``"flow"`` (see :data:`FAMILIES`).
    config
        The pipeline's scheduler configuration; None (the default) for none.

    Returns
    -------
    tuple of str
        Names in :data:`SCHEDULERS`, the default first.

    Raises
    ------
    ValueError
        When ``family`` is not one of :data:`FAMILIES`.
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {family!r}")
    names = [name for name, choice in SCHEDULERS.items()
             if family in choice.classes and (choice.clips or family == "flow" or not clipped(config))]
    own = (config or {}).get("_class_name")
    first = next((n for n in names if SCHEDULERS[n].classes[family][0] == own),
                 "euler" if family == "flow" else "ddim")
    return tuple(sorted(names, key=lambda n: n != first))


def make_scheduler(name: str, family: str, config: dict):
    """The scheduler ``name`` of ``family`` built from a pipeline's scheduler configuration (keys the class does not
    take are left out; a flow pipeline's ``shift`` becomes DPM-Solver++'s ``flow_shift``).

    Parameters
    ----------
    name
        A name in :data:`SCHEDULERS`.
    family
        ``"noise"`` or ``"flow"``; the scheduler must be offered for it.
    config
        The pipeline's scheduler configuration (noise schedule, prediction type, timestep spacing, shift).

    Returns
    -------
    diffusers.SchedulerMixin
        A new diffusers scheduler, deterministic.

    Raises
    ------
    ValueError
        When ``name`` is not a scheduler offered for ``family``.
    """
    from .hub import import_diffusers

    if name not in SCHEDULERS or family not in SCHEDULERS[name].classes:
        raise ValueError(f"scheduler must be one of {', '.join(choices(family))}, got {name!r}")
    cls_name, settings = SCHEDULERS[name].classes[family]
    cls = getattr(import_diffusers(), cls_name)
    config = {k: v for k, v in dict(config).items() if not k.startswith("_")}
    if family == "flow" and "shift" in config:
        config["flow_shift"] = config["shift"]
    if name == "dpm++" and family == "noise" and config.get("clip_sample"):
        # dynamic thresholding bounded by the clip range is clipping: the quantile is clamped to [1, range]
        config.update(thresholding=True, sample_max_value=config.get("clip_sample_range", 1.0))
    allowed = inspect.signature(cls.__init__).parameters
    return cls.from_config({**{k: v for k, v in config.items() if k in allowed}, **settings})


def sample(network, scheduler, x: torch.Tensor, steps: int, progress=None, what: str = "step", *,
           should_stop=None) -> torch.Tensor:
    """diffusers' sampling loop from the latent ``x`` (``[N, ...]``, noise at the scheduler's highest level):
    ``x <- x * init_noise_sigma``; for each timestep ``t``, ``x <- step(network(scale_model_input(x, t), t), t, x)``.
    ``network(x, t) -> prediction`` gets ``t`` as a 0-dim tensor on ``x``'s device. The scheduler is copied (its
    state changes as it steps), so one model can decode in two threads. ``progress(fraction, text)`` after each
    step; ``should_stop()`` before each, raising :class:`~latentcore.optimise.Stopped` when it returns True (a
    decode has no partial result, and one through a large sampler takes minutes).

    Parameters
    ----------
    network : callable
        ``network(x, t) -> prediction`` (noise, ``v``, ``x_0`` or velocity, as the scheduler expects).
    scheduler : diffusers.SchedulerMixin
        The diffusers scheduler that sets the timesteps and takes the steps; not changed (a copy steps).
    x : torch.Tensor ``[N, ...]``
        The starting sample: noise at the scheduler's highest level (or, for an inverse scheduler, the image).
    steps
        The number of steps.
    progress : callable, optional
        ``progress(fraction, text)`` after each step, ``text`` like ``"step 3/25"``; None (the default) for
        none.
    what
        The word ``progress`` names a step by; default ``"step"``.
    should_stop : callable, optional
        ``should_stop()`` before each step; None (the default) never stops.

    Returns
    -------
    torch.Tensor
        The last sample, of ``x``'s shape (``x_0`` when decoding).

    Raises
    ------
    latentcore.optimise.Stopped
        When ``should_stop()`` returns True.
    """
    scheduler = copy.deepcopy(scheduler)
    scheduler.set_timesteps(steps, device="cpu")
    if hasattr(scheduler, "set_begin_index"):  # else the first step searches the grid for t on the device
        scheduler.set_begin_index(0)
    timesteps = scheduler.timesteps
    on_device = timesteps.to(x.device)
    x = x * float(getattr(scheduler, "init_noise_sigma", 1.0))  # flow schedulers start at x_1 as it is
    scale = getattr(scheduler, "scale_model_input", lambda x, t: x)
    for i, t in enumerate(timesteps):
        check_stop(should_stop)
        prediction = network(scale(x, t), on_device[i])
        x = scheduler.step(prediction, t, x).prev_sample
        if progress is not None:
            progress((i + 1) / len(timesteps), f"{what} {i + 1}/{len(timesteps)}")
    return x


__all__ = ["SCHEDULERS", "SchedulerChoice", "choices", "clipped", "make_scheduler", "sample"]
