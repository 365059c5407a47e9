"""The one place that checks inputs and resolves defaults, so every function says the same thing about the same
mistake (as scikit-learn's ``utils.validation`` does).

Shape rule for a missing prior (:func:`resolve_prior`): a standard normal over the latent shape, which is the
input's whole shape for one latent and its shape without the first dimension for a batch ``[N, *shape]``.
"""

from __future__ import annotations

import functools
import inspect
import math
from typing import Callable, Iterable, Mapping

import torch

from .device import as_tensor
from .priors import Prior, StandardNormal


def resolve_prior(prior: Prior | None, latents, *, batched: bool) -> Prior:
    """``prior``, or ``N(0, I)`` over the latent shape of ``latents`` (one latent, or ``[N, *shape]`` when
    ``batched``)."""
    if prior is not None:
        if not isinstance(prior, Prior):
            raise TypeError(f"prior must be a latentcore Prior, got {type(prior).__name__}")
        return prior
    shape = tuple(as_tensor(latents).shape)
    if batched:
        if len(shape) < 2:
            raise ValueError(f"expected a batch of latents [N, *shape], got shape {shape}")
        shape = shape[1:]
    if not shape:
        raise ValueError("a latent needs at least one dimension")
    return StandardNormal(shape)


#: Values counted at a time by :func:`count_nonfinite`.
FINITE_CHUNK = 2**20


def count_nonfinite(x: torch.Tensor) -> int:
    """How many values of ``x`` are NaN or Inf, counted a million at a time so that a large tensor needs no mask of
    its own size."""
    flat = x.reshape(-1)  # a view when x is contiguous
    return sum(int((~torch.isfinite(chunk)).sum()) for chunk in flat.split(FINITE_CHUNK))


def all_finite(*tensors: torch.Tensor) -> bool:
    """Whether every value of the floating ``tensors`` is finite. Sums screen in one pass with no mask: a NaN or
    Inf makes a sum NaN or Inf, so a finite total proves every value finite; only a non-finite total (a bad value,
    or finite values whose sum overflows) is counted exactly."""
    total = None
    for x in tensors:
        if x.is_floating_point() and x.numel():
            part = x.detach().sum()  # a check, not part of any gradient
            total = part if total is None else total + part
    return total is None or math.isfinite(float(total)) or all(count_nonfinite(x) == 0 for x in tensors)


def check_finite(x: torch.Tensor, name: str) -> torch.Tensor:
    """``x`` unchanged, or a ValueError naming ``name`` and how many values are NaN or Inf."""
    if all_finite(x):
        return x
    bad = count_nonfinite(x)
    if bad:
        raise ValueError(f"{name}: {bad} NaN or Inf value{'s' * (bad != 1)} found; only finite values are accepted")
    return x


def check_latents(latents, prior: Prior, *, name: str = "latents", batch_dims: Iterable[int] | None = None,
                  min_count: int = 0, finite: bool = True) -> tuple[torch.Tensor, tuple[int, ...]]:
    """``latents`` shaped ``[*batch, *prior.shape]`` with finite values, as ``(flat [M, D], batch)``.

    ``batch_dims``: the numbers of leading batch dimensions accepted (default any), e.g. ``(0, 1)`` for one latent
    or a batch, ``(1,)`` for a batch only. ``min_count``: the fewest latents ``M`` accepted. ``finite=False`` leaves
    the values to the caller (who checks several inputs at once with :func:`all_finite`).
    """
    flat, batch = prior.flatten(latents)
    allowed = None if batch_dims is None else tuple(batch_dims)
    if allowed is not None and len(batch) not in allowed:
        forms = {0: f"one latent {list(prior.shape)}", 1: f"a batch [N, {', '.join(map(str, prior.shape))}]",
                 2: f"a batch of batches [B, N, {', '.join(map(str, prior.shape))}]"}
        shown = " or ".join(forms.get(d, f"{d} batch dimensions") for d in allowed)
        raise ValueError(f"{name} must be {shown}; got shape {(*batch, *prior.shape)}")
    count = math.prod(batch)
    if count < min_count:
        raise ValueError(f"{name} must hold at least {min_count} latent{'s' * (min_count != 1)}, got {count}")
    if finite:
        check_finite(flat, name)
    return flat, batch


def some_of(names: Iterable, shown: int = 5, width: int = 40) -> str:
    """The first ``shown`` names and how many more (``"a, b, c and 9995 more"``), each cut to ``width``
    characters: messages stay short for files with thousands of entries and workspaces with many problems."""
    names = [str(n)[:width] for n in names]
    rest = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {rest} more" if rest > 0 else "")


def check_int(name: str, value, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an int in ``[minimum, maximum]``; booleans and non-integers are refused with a message."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ValueError(f"{name} must be an integer {bound}, got {value!r}")
    return int(value)


def check_choice(what: str, value: str, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices``; otherwise a message listing them."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; choose one of {', '.join(choices)}")
    return value


#: What every iterative computation takes besides its options (progress reports, a time budget, a stop request).
RUN_CONTROLS = ("progress", "budget_s", "should_stop")


@functools.cache
def keyword_options(fn: Callable) -> tuple[str, ...]:
    """The keyword-only parameters of ``fn`` besides the :data:`RUN_CONTROLS`: the options a scheme's function
    takes (read once per function: ``inspect.signature`` costs more than a small interpolation)."""
    params = inspect.signature(fn).parameters.values()
    return tuple(p.name for p in params if p.kind is p.KEYWORD_ONLY and p.name not in RUN_CONTROLS)


def check_options(what: str, given: Mapping, accepted: Iterable[str]) -> None:
    """A ValueError naming the options in ``given`` that ``what`` does not take, and the ones it does."""
    accepted = list(accepted)
    unknown = sorted(set(given) - set(accepted))
    if unknown:
        raise ValueError(f"{what} takes no option {', '.join(unknown)}; its options: {', '.join(accepted) or 'none'}")
