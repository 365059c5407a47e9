"""What people prefer: the statistics of blind pairwise judgements between schemes.

A judgement shows the same endpoints interpolated by two schemes, anonymised and in random order, and records which
looks more natural, or that neither does (a tie). From many judgements:

- :func:`win_rates`: for every pair of schemes, how often the first was preferred (a tie counts half for each),
  with its Wilson interval (:func:`~.statistics.wilson_interval`, on the decisive judgements) and the two-sided
  exact binomial test of the decisive judgements against chance (1/2).
- :func:`bradley_terry`: one strength per scheme, ``P(i preferred to j) = p_i / (p_i + p_j)`` (Bradley & Terry,
  "Rank analysis of incomplete block designs", Biometrika 1952), fitted by Hunter's MM algorithm ("MM algorithms for
  generalized Bradley-Terry models", Annals of Statistics 2004) with ties as half a win each way and half a
  virtual win each way between every two schemes, so that a scheme that never wins keeps a finite strength; the
  strengths are ``log p`` with mean 0, each with the percentile bootstrap interval over judgements.

Judgements are ``(first, second, choice)`` with ``choice`` one of :data:`CHOICES`: ``"first"``, ``"second"`` or
``"same"``. Every random draw comes from the ``generator`` passed in.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import scipy.stats
import torch

from .statistics import BOOTSTRAP_RESAMPLES, CONFIDENCE, wilson_interval

#: The choices of a judgement, in order the first scheme looks more natural, the second does, or neither (a tie).
CHOICES = ("first", "second", "same")
#: Virtual wins added each way between every two schemes in :func:`bradley_terry`, so that a scheme that never
#: wins keeps a finite strength.
PSEUDO_WINS = 0.5
#: The most MM iterations of a Bradley-Terry fit.
MAX_ITER = 1000
#: The fit stops when every strength ``p_i`` (scaled to geometric mean 1) changes by less than this in one iteration.
TOL = 1e-10


def _encoded(judgements: Sequence[tuple[str, str, str]], schemes: Sequence[str]) -> np.ndarray:
    """``[J, 4]``: each judgement as (index of first, index of second, first's win, second's win), ties as half
    each; a ValueError for a judgement that names an unknown scheme, one scheme twice or an unknown choice."""
    index = {s: k for k, s in enumerate(schemes)}
    score = {"first": (1.0, 0.0), "second": (0.0, 1.0), "same": (0.5, 0.5)}
    rows = []
    for first, second, choice in judgements:
        if first not in index or second not in index or first == second or choice not in score:
            raise ValueError(f"a judgement must name two of the schemes {', '.join(schemes)} and one of "
                             f"{', '.join(CHOICES)}; got {(first, second, choice)!r}")
        rows.append((index[first], index[second], *score[choice]))
    return np.array(rows, dtype=float).reshape(-1, 4)


def _counts(encoded: np.ndarray, size: int) -> np.ndarray:
    """``wins [S, S]``: how often scheme i was preferred to scheme j (ties half each)."""
    wins = np.zeros((size, size))
    first, second = encoded[:, 0].astype(int), encoded[:, 1].astype(int)
    np.add.at(wins, (first, second), encoded[:, 2])
    np.add.at(wins, (second, first), encoded[:, 3])
    return wins


def win_rates(judgements: Iterable[tuple[str, str, str]], schemes: Sequence[str], *,
              confidence: float = CONFIDENCE) -> pd.DataFrame:
    """One row per pair of schemes that met (``first`` before ``second`` in the order of ``schemes``): judgements
    ``n``, ties, the rate at which ``first`` was preferred (ties half), its interval on the decisive judgements,
    and the p-value of the two-sided binomial test of the decisive judgements against 1/2 (1 when all tied)."""
    judgements = list(judgements)
    rows = []
    for a in range(len(schemes)):
        for b in range(a + 1, len(schemes)):
            first, second = schemes[a], schemes[b]
            met = [(f, s, c) for f, s, c in judgements if {f, s} == {first, second}]
            if not met:
                continue
            won = sum(1 for f, _, c in met if (c == "first") == (f == first) and c != "same")
            ties = sum(1 for *_, c in met if c == "same")
            decisive = len(met) - ties
            low, high = wilson_interval(won, decisive, confidence=confidence) if decisive else (0.0, 1.0)
            p = scipy.stats.binomtest(won, decisive, 0.5).pvalue if decisive else 1.0
            rows.append({"first": first, "second": second, "n": len(met), "ties": ties,
                         "rate": (won + 0.5 * ties) / len(met), "rate_low": low, "rate_high": high,
                         "p_value": float(p)})
    return pd.DataFrame(rows, columns=["first", "second", "n", "ties", "rate", "rate_low", "rate_high", "p_value"])


def _strengths(wins: np.ndarray) -> np.ndarray:
    """Bradley-Terry log-strengths (mean 0) of ``wins [S, S]`` with the pseudo-wins, by Hunter's MM updates
    ``p_i = W_i / sum_j n_ij / (p_i + p_j)``."""
    s = len(wins)
    w = wins + PSEUDO_WINS * (1 - np.eye(s))
    games, total = w + w.T, w.sum(1)
    p = np.ones(s)
    for _ in range(MAX_ITER):
        updated = total / (games / (p[:, None] + p[None, :])).sum(1)
        updated /= np.exp(np.log(updated).mean())
        if np.abs(updated - p).max() < TOL:
            p = updated
            break
        p = updated
    return np.log(p)


def bradley_terry(judgements: Iterable[tuple[str, str, str]], schemes: Sequence[str], generator: torch.Generator,
                  *, resamples: int = BOOTSTRAP_RESAMPLES, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """One row per scheme, strongest first: its Bradley-Terry ``strength`` (log scale, mean 0 over the schemes)
    with the percentile bootstrap interval over judgements (``resamples`` resamples), its ``rank`` (1: most
    preferred) and the ``judgements`` it took part in. ``schemes`` needs at least 2 names; no judgements give
    strengths 0 with the widest intervals the pseudo-wins allow."""
    judgements = list(judgements)
    if len(schemes) < 2:
        raise ValueError("a ranking needs at least two schemes")
    encoded, size = _encoded(judgements, schemes), len(schemes)
    strength = _strengths(_counts(encoded, size))
    picks = torch.randint(max(len(encoded), 1), (resamples, len(encoded)), generator=generator).numpy()
    draws = np.stack([_strengths(_counts(encoded[rows], size)) for rows in picks])
    low, high = np.quantile(draws, [(1 - confidence) / 2, (1 + confidence) / 2], axis=0)
    taken = [sum(1 for f, s, _ in judgements if name in (f, s)) for name in schemes]
    table = pd.DataFrame({"scheme": list(schemes), "strength": strength, "strength_low": low, "strength_high": high,
                          "judgements": taken})
    table = table.sort_values("strength", ascending=False, kind="stable").reset_index(drop=True)
    table.insert(1, "rank", np.arange(1, len(table) + 1))
    return table


__all__ = ["CHOICES", "win_rates", "bradley_terry"]
