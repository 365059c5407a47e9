"""The one place where latentcore chooses a torch device.

Order: the ``LATENTCORE_DEVICE`` environment variable if set (``cpu``, ``cuda``, ``cuda:1``, ``mps``), else
CUDA, else Apple's MPS, else the CPU.
"""

from __future__ import annotations

import functools
import os

import torch

#: The environment variable that names the device, e.g. ``cpu``, ``cuda``, ``cuda:1`` or ``mps``.
ENV_VAR = "LATENTCORE_DEVICE"


@functools.cache
def default_device() -> torch.device:
    """The device latentcore computes on unless a caller passes another one.

    Chosen once per process (the result is cached): the device named by :data:`ENV_VAR` (``LATENTCORE_DEVICE``)
    when it is set and not blank, else CUDA when torch sees a CUDA device, else Apple's MPS when available, else the
    CPU.

    Returns
    -------
    torch.device
        ``cuda`` (the current CUDA device), ``mps``, ``cpu``, or the device the environment variable names.

    Raises
    ------
    ValueError
        When ``LATENTCORE_DEVICE`` is not a torch device, or names CUDA or MPS where torch sees none.
    """
    requested = os.environ.get(ENV_VAR, "").strip()
    if requested:
        try:
            device = torch.device(requested)
        except RuntimeError as err:
            raise ValueError(
                f"{ENV_VAR}={requested!r} is not a torch device; use cpu, cuda, cuda:N or mps"
            ) from err
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"{ENV_VAR}={requested!r} asks for CUDA, but torch sees no CUDA device")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"{ENV_VAR}={requested!r} asks for MPS, but torch sees no MPS device")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def as_tensor(z, device: torch.device | None = None, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``z`` (tensor, array or nested list) as a floating tensor on ``device`` (default: the latent's own
    device for tensors, :func:`default_device` otherwise)."""
    if isinstance(z, torch.Tensor):
        t = z if device is None else z.to(device)
    else:
        t = torch.as_tensor(z, device=device or default_device())
    if dtype is not None:
        return t.to(dtype)
    return t if t.is_floating_point() else t.to(torch.get_default_dtype())


def device_key(device: torch.device | str | None) -> str:
    """``device`` (default: :func:`default_device`) as a string, for caches keyed by device."""
    return str(torch.device(device) if device is not None else default_device())
