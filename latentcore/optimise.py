"""The optimisation loop shared by path optimisers (NAO, ri-optimal geodesics) and inversion: Adam on free tensors
with a per-unit stopping rule, so that a batch of paths (or of images) stops unit by unit, within a time budget and
on request."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import torch

#: The reasons an iterative computation ends (:attr:`Stopping.reason`), by its own stopping rule (``"converged"``),
#: its iteration limit (``"max_iter"``), its time budget (``"budget"``) or a stop request (``"stop"``).
STOP_REASONS = ("converged", "max_iter", "budget", "stop")
#: The reasons that leave an optimisation short of its own stopping rule (:attr:`Stopping.early`).
EARLY = ("budget", "stop")


class Stopped(Exception):
    """A stop request (``should_stop()`` True) that reached work with no result to return yet: a decode through a
    sampler, a start not yet measured, a reference. It ends that work between two units of it (sampler steps,
    chunks), so that nothing runs on for a session that is gone; whoever runs the work as a job ends it quietly.

    Raised without arguments by :func:`check_stop`.
    """


def check_stop(should_stop: Callable[[], bool] | None) -> None:
    """Raise :class:`Stopped` when ``should_stop()`` returns True (None: never); called between units of work."""
    if should_stop is not None and should_stop():
        raise Stopped()


@dataclass(frozen=True)
class Stopping:
    """How an iterative computation ended: ``reason`` (one of :data:`STOP_REASONS`), the ``iterations`` run, the
    wall ``seconds`` taken and the mean ``loss`` (energy) of the result returned. ``early``: stopped by the time
    budget or a stop request, before its own rule; the result is then the best one reached.

    Parameters
    ----------
    reason
        One of :data:`STOP_REASONS`.
    iterations
        The iterations run.
    seconds
        The wall-clock seconds taken.
    loss
        The mean loss (energy) of the result returned, over its units (paths, images).
    """

    #: Why it ended, one of :data:`STOP_REASONS`.
    reason: str
    #: The iterations run.
    iterations: int
    #: The wall-clock seconds taken.
    seconds: float
    #: The mean loss (energy) of the result returned.
    loss: float

    @property
    def early(self) -> bool:
        """Whether the time budget or a stop request ended it before its own rule (``reason`` in :data:`EARLY`); the
        result is then the best one reached."""
        return self.reason in EARLY

    def describe(self, what: str = "loss", *, loss: bool = True) -> str:
        """One line for a person: how it ended, after how many iterations, with which ``what`` (e.g. energy); without
        the figure where ``loss`` is False (a page may give it on request: it means little at first sight).

        Parameters
        ----------
        what
            The name of the loss in the line, e.g. ``"energy"``. Default ``"loss"``.
        loss
            Whether the line gives the loss. Default True.

        Returns
        -------
        str
            E.g. ``"converged after 42 iterations (1.3 s), energy 0.5"``, with ``"; the best result so far"``
            appended where it ended early.
        """
        figure = f", {what} {self.loss:.4g}" if loss else ""
        return (f"{_REASON_TEXT[self.reason]} after {self.iterations} iterations ({self.seconds:.1f} s){figure}"
                + ("; the best result so far" if self.early else ""))


@dataclass
class Optimised:
    """What :func:`optimise_units` returns: the loss ``history [iterations + 1, P]`` (the initial loss first), the
    ``converged [P]`` mask, the :class:`Stopping` and each unit's ``lowest [P]`` loss (inf where none was
    finite)."""

    history: torch.Tensor
    converged: torch.Tensor
    stopping: Stopping
    lowest: torch.Tensor


#: :func:`measure_cost` tries a whole run only where this many iterations fit in its budget (fewer hardly ever
#: converge).
TRIAL_ITERATIONS = 50


@dataclass(frozen=True)
class Cost:
    """What an iterative computation costs, measured by :func:`measure_cost`: ``setup_s`` seconds before its first
    iteration and ``iteration_s`` seconds per iteration, for the size it was measured at; ``iterations``: how many
    one whole run took to stop by its own rule, where one was measured (None otherwise).

    Parameters
    ----------
    setup_s
        Seconds before the first iteration.
    iteration_s
        Seconds per iteration.
    iterations
        The iterations one whole run took to stop by its own rule. Default None: not measured.
    """

    #: Seconds before the first iteration.
    setup_s: float
    #: Seconds per iteration.
    iteration_s: float
    #: The iterations one whole run took to stop by its own rule (None where none was measured).
    iterations: int | None = None

    def seconds(self, max_iter: int, scale: float = 1.0) -> float:
        """The seconds a run limited to ``max_iter`` iterations takes at ``scale`` times the measured size (time
        grows about linearly with the number of latents optimised): the iterations a whole run took where known,
        else ``max_iter`` (an upper bound where the computation converges sooner).

        Parameters
        ----------
        max_iter
            The run's iteration limit.
        scale
            The size of the run relative to the one measured (e.g. the number of latents optimised). Default 1.

        Returns
        -------
        float
            ``scale * (setup_s + n * iteration_s)`` with ``n = min(iterations, max_iter)``, or ``max_iter`` where
            :attr:`iterations` is None.
        """
        iterations = max_iter if self.iterations is None else min(self.iterations, max_iter)
        return scale * (self.setup_s + iterations * self.iteration_s)


def measure_cost(run: Callable[..., Stopping | None], iterations: int = 4, whole_within_s: float | None = None) -> Cost:
    """The :class:`Cost` of ``run(max_iter, budget_s)`` (a computation with an iteration limit and a time budget
    that returns its :class:`Stopping`), from two timed runs: ``1 + iterations`` iterations, then one; their
    difference is the time per iteration. The longer run comes first, so that the overhead of a model's first call
    (allocation, warm-up) errs towards a longer estimate. With ``whole_within_s``, where
    :data:`TRIAL_ITERATIONS` iterations fit in that many seconds, one run at its own limit (``max_iter=None``)
    within that budget follows, and where it ends by its own rule the iterations it took are kept: most such
    computations converge long before their limit.

    Parameters
    ----------
    run
        ``run(max_iter, budget_s)`` runs the computation with an iteration limit (None for its own) and a time
        budget in seconds (None for none) and returns its :class:`Stopping` (or None).
    iterations
        The extra iterations of the longer timed run. Default 4.
    whole_within_s
        The seconds a whole run may take; None (the default) measures no whole run.

    Returns
    -------
    Cost
        ``setup_s`` and ``iteration_s`` (each at least 0) and, where a whole run ended by its own rule,
        ``iterations``.
    """
    more = time.perf_counter()
    run(1 + iterations, None)
    longer = time.perf_counter() - more
    first = time.perf_counter()
    run(1, None)
    one = time.perf_counter() - first
    per = max((longer - one) / iterations, 0.0)
    cost = Cost(max(one - per, 0.0), per)
    if whole_within_s is not None and cost.seconds(TRIAL_ITERATIONS) <= whole_within_s:
        stopping = run(None, whole_within_s)
        if stopping is not None and not stopping.early:
            cost = Cost(cost.setup_s, cost.iteration_s, stopping.iterations)
    return cost


def time_left(budget_s: float | None, start: float) -> float | None:
    """The seconds left of ``budget_s`` counted from ``start`` (``time.monotonic()``), at least 1 ms; None (no
    budget) stays None. For computations made of several optimisations that share one budget."""
    return None if budget_s is None else max(budget_s - (time.monotonic() - start), 1e-3)


def check_budget(budget_s) -> float | None:
    """``budget_s`` as a positive float (seconds), or None; anything else is a ValueError."""
    if budget_s is None:
        return None
    try:
        value = float(budget_s)
    except (TypeError, ValueError):
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"budget_s must be a positive, finite number of seconds, got {budget_s!r}")
    return value


class _Units:
    """The bookkeeping both optimisation loops share: each unit's loss history, its count of calm iterations (loss
    changed by less than ``tol``, times the previous loss when ``relative``) and whether it has converged (calm for
    ``patience`` iterations; it stays so), the lowest loss and the values at it, progress reports and the decision
    to stop."""

    def __init__(self, free, *, max_iter, tol, patience, relative, budget_s, should_stop, progress, what):
        self.free, self.max_iter, self.tol, self.patience, self.relative = free, max_iter, tol, patience, relative
        self.budget_s, self.should_stop, self.progress, self.what = check_budget(budget_s), should_stop, progress, what
        self.history: list[torch.Tensor] = []
        self.last = self.calm = self.converged = self.best = None
        self.report = max(1, max_iter // 100)
        self.iteration = 0
        self.start = time.monotonic()

    def record(self, value: torch.Tensor) -> str | None:
        """Take the units' losses ``value [P]`` at the current values; the reason to stop now, or None."""
        if self.last is None:
            self.calm = torch.zeros_like(value, dtype=torch.long)
            self.converged = torch.zeros_like(value, dtype=torch.bool)
        else:
            threshold = self.tol * self.last.abs() if self.relative else torch.full_like(self.last, self.tol)
            self.calm = torch.where((value - self.last).abs() <= threshold, self.calm + 1, torch.zeros_like(self.calm))
            self.converged |= self.calm >= self.patience
        self.history.append(value.clone())
        self.last = value
        self.best = _keep_best(self.free, value, self.best)
        elapsed = time.monotonic() - self.start
        iteration = self.iteration
        if iteration > 0 and self.progress is not None and iteration % self.report == 0:
            self.progress(*_progress(iteration, self.max_iter, elapsed, self.budget_s, self.what, float(value.mean())))
        if bool(self.converged.all()):
            return "converged"
        if iteration == self.max_iter:
            return "max_iter"
        if self.budget_s is not None and elapsed + (elapsed / iteration if iteration else 0.0) >= self.budget_s:
            return "budget"  # spent, or the next iteration (as long as the mean so far) would pass it
        if self.should_stop is not None and self.should_stop():
            return "stop"
        return None

    def finish(self, stopped_by: str, keep_best: bool) -> Optimised:
        final = self.history[-1]
        if keep_best or stopped_by in EARLY:
            _restore_best(self.free, self.best)
            final = self.best[0]
        stopping = Stopping(stopped_by, self.iteration, time.monotonic() - self.start, float(final.mean()))
        if self.progress is not None:
            self.progress(1.0, f"{self.what}: {stopping.describe()}")
        return Optimised(torch.stack(self.history), self.converged, stopping, self.best[0])


def optimise_units(free: list[torch.Tensor], assemble: Callable[[], torch.Tensor],
                   loss_fn: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor], *, lr: float, max_iter: int,
                   tol: float, patience: int, relative: bool = False, budget_s: float | None = None,
                   should_stop: Callable[[], bool] | None = None, keep_best: bool = False, progress=None,
                   what: str = "optimisation"):
    """Adam on ``free`` until each unit's loss has changed by less than ``tol`` (times its previous value when
    ``relative``) for ``patience`` consecutive iterations, or ``max_iter`` iterations pass, or the next iteration
    would end after ``budget_s`` seconds (at the mean time per iteration so far), or ``should_stop()`` returns True
    (both checked once per iteration).

    ``loss_fn(assemble(), active) -> [P]`` gives each unit's loss; it may skip the units where the mask ``active``
    is False (None: all units; skipped entries are ignored). It may raise :class:`Stopped` (a decoder that polls
    ``should_stop`` between sampler steps): the run then ends as on a stop request, unless no loss was evaluated
    yet, when there is nothing to return and it propagates. Units that have converged keep their values
    (dimension 0 of every free tensor indexes units) and are no longer evaluated.

    The loss is evaluated once per iteration: the forward pass whose gradient takes the next Adam step also
    gives the loss of the previous step's result for the stopping rule. ``progress(fraction, text)`` gets the
    fraction of ``max_iter`` (or of the budget, whichever is further) and an estimate of the time left.
    Returns :class:`Optimised`. The free tensors hold the last evaluated values, except after an early stop
    (budget or request) or with ``keep_best``: then each unit holds the values of its lowest loss so far, since
    Adam may have just stepped uphill.
    """
    units = _Units(free, max_iter=max_iter, tol=tol, patience=patience, relative=relative, budget_s=budget_s,
                   should_stop=should_stop, progress=progress, what=what)
    opt = torch.optim.Adam(free, lr=lr)
    while True:
        converged = units.converged
        evaluated = None if converged is None else ~converged
        try:
            loss = loss_fn(assemble(), evaluated)
        except Stopped:
            if units.last is None:
                raise
            stopped_by = "stop"
            break
        value = loss.detach() if units.last is None else torch.where(evaluated, loss.detach(), units.last)
        stopped_by = units.record(value)
        if stopped_by is not None:
            break
        converged = units.converged
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
        units.iteration += 1
    return units.finish(stopped_by, keep_best)


#: The evaluations one L-BFGS iteration may take, its line search included (``max_eval`` of
#: ``torch.optim.LBFGS`` per step).
LINE_SEARCH_EVALUATIONS = 25


def minimise_lbfgs(free: list[torch.Tensor],
                   loss_and_grad: Callable[[], tuple[torch.Tensor, list[torch.Tensor]]], *, max_iter: int, tol: float,
                   patience: int, relative: bool = False, budget_s: float | None = None,
                   should_stop: Callable[[], bool] | None = None, history_size: int = 10, progress=None,
                   what: str = "optimisation") -> Optimised:
    """L-BFGS (Nocedal & Wright, "Numerical Optimization", Algorithm 7.5) with a strong-Wolfe line search
    (:class:`torch.optim.LBFGS`) on ``free``, for losses whose gradient is known in closed form:
    ``loss_and_grad() -> (loss [P], [gradient of loss.sum() with respect to each free tensor])`` at the free
    tensors' current values.

    The units ``P`` (dimension 0 of every free tensor) share one quasi-Newton model of the summed loss and step
    together. The run stops as :func:`optimise_units` does (every unit calm for ``patience`` iterations,
    ``max_iter`` iterations, the budget, a stop request) and returns :class:`Optimised`; each unit then holds the
    values of its lowest loss. An iteration evaluates the loss once or a few times (the line
    search); values already evaluated are not evaluated again.
    """
    units = _Units(free, max_iter=max_iter, tol=tol, patience=patience, relative=relative, budget_s=budget_s,
                   should_stop=should_stop, progress=progress, what=what)
    opt = torch.optim.LBFGS(free, lr=1.0, max_iter=1, max_eval=LINE_SEARCH_EVALUATIONS, history_size=history_size,
                            line_search_fn="strong_wolfe")  # one iteration per step: the loop polls between them
    seen: dict = {}

    def closure():
        if "at" not in seen or not all(torch.equal(p, at) for p, at in zip(free, seen["at"])):
            with torch.no_grad():
                loss, grads = loss_and_grad()
            seen.update(at=[p.detach().clone() for p in free], loss=loss.detach(), grads=grads)
        for p, g in zip(free, seen["grads"]):
            p.grad = g
        return seen["loss"].sum()

    while True:
        closure()
        stopped_by = units.record(seen["loss"])
        if stopped_by is not None:
            break
        opt.step(closure)
        units.iteration += 1
    return units.finish(stopped_by, keep_best=True)  # the line search lowers the sum; a unit may have risen


def _keep_best(free: list[torch.Tensor], value: torch.Tensor, best):
    """``(lowest loss [P], values at it)`` per unit, updated with the current ``value`` of the ``free`` tensors;
    with one unit (e.g. a centroid shared by paths) the whole tensors are the unit."""
    with torch.no_grad():
        if best is None:  # a loss that is not finite is never the lowest
            best = torch.full_like(value, math.inf), [p.detach().clone() for p in free]
        lowest, kept = best
        better = value < lowest
        if bool(better.any()):
            for p, old in zip(free, kept):
                if len(value) == 1:
                    old.copy_(p.detach())
                else:
                    old[better] = p.detach()[better]
            lowest = torch.where(better, value, lowest)
        return lowest, kept


def _restore_best(free: list[torch.Tensor], best) -> None:
    with torch.no_grad():
        for p, old in zip(free, best[1]):
            p.copy_(old)


_REASON_TEXT = {"converged": "converged", "max_iter": "iteration limit reached", "budget": "stopped early: time "
                "budget spent", "stop": "stopped early on request"}


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
