"""The optimisation loop shared by path optimisers (NAO, ri-optimal geodesics): Adam on free tensors with a
per-unit stopping rule, so that a batch of paths stops path by path."""

from __future__ import annotations

from typing import Callable

import torch


def optimise_units(free: list[torch.Tensor], assemble: Callable[[], torch.Tensor],
                   loss_fn: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor], *, lr: float, max_iter: int,
                   tol: float, patience: int, relative: bool = False, progress=None, what: str = "optimisation"):
    """Adam on ``free`` until each unit's loss has changed by less than ``tol`` (times its previous value when
    ``relative``) for ``patience`` consecutive iterations, or ``max_iter`` iterations pass.

    ``loss_fn(assemble(), active) -> [P]`` gives each unit's loss; it may skip the units where the mask ``active``
    is False (None: all units; skipped entries are ignored). Units that have converged keep their values
    (dimension 0 of every free tensor indexes units) and are no longer evaluated.

    The loss is evaluated once per iteration: the forward pass whose gradient takes the next Adam step also
    gives the loss of the previous step's result for the stopping rule.
    Returns the loss history ``[iterations + 1, P]`` (the initial loss first), the iterations run, and the
    converged mask.
    """
    opt = torch.optim.Adam(free, lr=lr)
    history: list[torch.Tensor] = []
    last = calm = converged = None
    report = max(1, max_iter // 100)
    iteration = 0
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
        if iteration > 0 and progress is not None and iteration % report == 0:
            progress(iteration / max_iter, f"{what}: iteration {iteration} of at most {max_iter}, "
                                           f"loss {float(value.mean()):.4g}")
        if iteration == max_iter or bool(converged.all()):
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
        progress(1.0, f"{what}: done after {iteration} iterations")
    return torch.stack(history), iteration, converged
