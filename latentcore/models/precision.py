"""The precision a model's networks compute in, chosen per device.

``"auto"`` (the default) gives each model the dtype that suits it on its device: the large diffusers pipelines
float16 on CUDA (Stable Diffusion 1.x/2.x, SDXL) or bfloat16 where the GPU has it (Stable Diffusion 3, whose T5
encoder overflows in float16), everything else as built (float32). ``"float32"``, ``"float16"`` and
``"bfloat16"`` ask for that dtype on CUDA and Apple's MPS. The CPU always computes in float32: half precision there
is slower, not faster, and some CPU kernels lack it. Whatever the model's dtype, latents and images cross the model
boundary (:meth:`~latentcore.models.base.GenerativeModel.decode` / ``encode``) as float32, so the mathematics
around the model stays in float32/float64.
"""

from __future__ import annotations

import torch

#: The precisions a model can be loaded in (:func:`~latentcore.models.registry.load`), ``"auto"`` first.
PRECISIONS = ("auto", "float32", "float16", "bfloat16")
#: The dtype each precision but ``"auto"`` names (on CUDA and MPS; the CPU computes in float32).
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`; otherwise a ValueError listing them.

    Parameters
    ----------
    precision
        The precision asked for.

    Returns
    -------
    str
        ``precision`` itself.

    Raises
    ------
    ValueError
        When ``precision`` is not one of :data:`PRECISIONS`.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


def resolve_dtype(precision: str, device: torch.device, auto: torch.dtype | None) -> torch.dtype | None:
    """The dtype of ``precision`` on ``device``: for ``"auto"``, ``auto`` (the model's own choice; None keeps the
    networks as built); else the named dtype, except on the CPU: float32.

    Parameters
    ----------
    precision
        One of :data:`PRECISIONS`.
    device
        The device the networks compute on.
    auto
        What ``"auto"`` gives on ``device`` (a model's
        :meth:`~latentcore.models.base.GenerativeModel.auto_dtype`); None keeps the networks as built.

    Returns
    -------
    torch.dtype or None
        None only for ``"auto"`` with ``auto`` None.

    Raises
    ------
    ValueError
        When ``precision`` is not one of :data:`PRECISIONS`.
    """
    check_precision(precision)
    if precision == "auto":
        return auto
    return torch.float32 if torch.device(device).type == "cpu" else DTYPES[precision]


def half_dtype(device: torch.device, prefer_bfloat16: bool = False) -> torch.dtype | None:
    """What ``"auto"`` gives a large pipeline on ``device``: bfloat16 when preferred and the GPU supports it, else
    float16, on CUDA; None (as built) elsewhere.

    Parameters
    ----------
    device
        The device the pipeline computes on.
    prefer_bfloat16
        Whether the pipeline needs bfloat16's range (Stable Diffusion 3's T5 encoder overflows in float16);
        default False.

    Returns
    -------
    torch.dtype or None
        ``torch.bfloat16`` or ``torch.float16`` on CUDA, None elsewhere.
    """
    if torch.device(device).type != "cuda":
        return None
    if prefer_bfloat16 and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


__all__ = ["PRECISIONS", "check_precision", "resolve_dtype", "half_dtype"]
