"""The optimisation loop shared by path optimisers (NAO, ri-optimal geodesics) and inversion: Adam on free tensors
with a per-unit stopping rule, so that a batch of paths (or of images) stops unit by unit, within a time budget and
on request."""

from __future__ import annotations

import time
from typing import Callable

import torch

STOP_REASONS = ("converged", "max_iter", "budget", "stop")


def optimise_units(free: list[torch.Tensor], assemble: Callable[[], torch.Tensor],
                   loss_fn: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor], *, lr: float, max_iter: int,
                   tol: float, patience: int, relative: bool = False, budget_s: float | None = None,
                   should_stop: Callable[[], bool] | None = None, progress=None, what: str = "optimisation"):
    """Adam on ``free`` until each unit's loss has changed by less than ``tol`` (times its previous value when
    ``relative``) for ``patience`` consecutive iterations, or ``max_iter`` iterations pass, or ``budget_s`` seconds
    pass, or ``should_stop()`` returns True (both checked once per iteration).

    ``loss_fn(assemble(), active) -> [P]`` gives each unit's loss; it may skip the units where the mask ``active``
    is False (None: all units; skipped entries are ignored). Units that have converged keep their values
    (dimension 0 of every free tensor indexes units) and are no longer evaluated.

    The loss is evaluated once per iteration: the forward pass whose gradient takes the next Adam step also
    gives the loss of the previous step's result for the stopping rule. ``progress(fraction, text)`` gets the
    fraction of ``max_iter`` (or of the budget, whichever is further) and an estimate of the time left.
    Returns the loss history ``[iterations + 1, P]`` (the initial loss first), the iterations run, the converged
    mask, and why it stopped: one of :data:`STOP_REASONS` (the free tensors hold the last evaluated values).
    """
    opt = torch.optim.Adam(free, lr=lr)
    history: list[torch.Tensor] = []
    last = calm = converged = None
    report = max(1, max_iter // 100)
    iteration = 0
    start = time.monotonic()
    while True:
        evaluated = None if converged is None else ~converged
        loss = loss_fn(assemble(), evaluated)
        value = loss.detach() if last is None else torch.where(evaluated, loss.detach(), last)
        if last is None:
            calm = torch.zeros_like(value, dtype=torch.long)
            converged = torch.zeros_like(value, dtype=torch.bool)
        else:
            threshold = tol * last.abs() if relative else torch.full_like(last, tol)
            calm = torch.where((value - last).abs() <= threshold, calm + 1, torch.zeros_like(calm))
            converged |= calm >= patience
        history.append(value.clone())
        last = value
        elapsed = time.monotonic() - start
        if iteration > 0 and progress is not None and iteration % report == 0:
            progress(*_progress(iteration, max_iter, elapsed, budget_s, what, float(value.mean())))
        if bool(converged.all()):
            stopped_by = "converged"
        elif iteration == max_iter:
            stopped_by = "max_iter"
        elif budget_s is not None and elapsed >= budget_s:
            stopped_by = "budget"
        elif should_stop is not None and should_stop():
            stopped_by = "stop"
        else:
            stopped_by = None
        if stopped_by is not None:
            break
        active = ~converged
        partial = bool(converged.any())
        kept = [p.detach()[converged].clone() for p in free] if partial else None
        opt.zero_grad(set_to_none=True)
        loss[active].sum().backward()
        opt.step()
        if partial:  # Adam's momentum would move them on
            with torch.no_grad():
                for p, old in zip(free, kept):
                    p[converged] = old
        iteration += 1
    if progress is not None:
        progress(1.0, f"{what}: done after {iteration} iterations ({_REASON_TEXT[stopped_by]})")
    return torch.stack(history), iteration, converged, stopped_by


_REASON_TEXT = {"converged": "converged", "max_iter": "iteration limit reached", "budget": "time budget spent",
                "stop": "stopped on request"}


def _progress(iteration: int, max_iter: int, elapsed: float, budget_s: float | None, what: str, loss: float):
    """The fraction done (of the iterations or of the budget, whichever is further) and a text with the time
    left: the iterations still allowed at the mean time per iteration so far, capped by the budget."""
    left = elapsed / iteration * (max_iter - iteration)
    fraction = iteration / max_iter
    if budget_s is not None and budget_s > 0:
        left = min(left, max(budget_s - elapsed, 0.0))
        fraction = max(fraction, min(elapsed / budget_s, 1.0))
    return fraction, (f"{what}: iteration {iteration} of at most {max_iter}, loss {loss:.4g}, "
                      f"at most about {left:.0f} s left")
