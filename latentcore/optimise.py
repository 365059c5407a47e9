"""The optimisation loop shared by path optimisers (NAO, ri-optimal geodesics): Adam on free tensors with a
per-unit stopping rule, so that a batch of paths stops path by path."""

from __future__ import annotations

from typing import Callable

import torch


def optimise_units(free: list[torch.Tensor], assemble: Callable[[], torch.Tensor],
                   loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], *, lr: float, max_steps: int,
                   tol: float, patience: int, relative: bool = False, progress=None, what: str = "optimisation"):
    """Adam on ``free`` until each unit's loss has changed by less than ``tol`` (times its previous value when
    ``relative``) for ``patience`` consecutive steps, or ``max_steps`` pass.

    ``loss_fn(assemble(), active) -> [P]`` gives each unit's loss; it may skip the units where the mask ``active``
    is False (their entries are ignored). Units that have converged keep their values (dimension 0 of every free
    tensor indexes units) and are no longer evaluated.
    Returns the loss history ``[steps + 1, P]`` (the initial loss first), the steps run, and the converged mask.
    """
    opt = torch.optim.Adam(free, lr=lr)
    with torch.no_grad():
        last = loss_fn(assemble(), None).detach()
    history = [last.clone()]
    calm = torch.zeros_like(last, dtype=torch.long)
    converged = torch.zeros_like(last, dtype=torch.bool)
    step = 0
    report = max(1, max_steps // 100)
    for step in range(1, max_steps + 1):
        partial = bool(converged.any())
        kept = [p.detach()[converged].clone() for p in free] if partial else None
        active = ~converged
        opt.zero_grad(set_to_none=True)
        loss_fn(assemble(), active)[active].sum().backward()
        opt.step()
        with torch.no_grad():
            if partial:
                for p, old in zip(free, kept):
                    p[converged] = old
            loss = torch.where(active, loss_fn(assemble(), active).detach(), last)
            threshold = tol * last.abs() if relative else torch.full_like(last, tol)
            calm = torch.where((loss - last).abs() <= threshold, calm + 1, torch.zeros_like(calm))
            converged |= calm >= patience
            last = loss
        history.append(loss.clone())
        if bool(converged.all()):
            break
        if progress is not None and step % report == 0:
            progress(step / max_steps, f"{what}: step {step}, loss {float(loss.mean()):.4g}")
    if progress is not None:
        progress(1.0, f"{what}: done after {step} steps")
    return torch.stack(history), step, converged
