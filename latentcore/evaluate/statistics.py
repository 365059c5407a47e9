"""Confidence intervals for the evaluation's table: pure statistics on tensors and arrays, no models.

- :func:`bootstrap_interval`: the percentile bootstrap interval of a mean (Efron & Tibshirani, "An Introduction
  to the Bootstrap", 1993, ch. 13). It has zero width when every value is the same.
- :func:`wilson_interval`: the Wilson score interval of a proportion (Wilson, "Probable inference, the law of
  succession, and statistical inference", 1927), which stays inside [0, 1] and is not empty at 0 or n successes.
- :func:`frechet_with_interval`: the Frechet distance between Gaussians fitted to two feature sets (Dowson &
  Landau 1982; FID, Heusel et al., arXiv 1706.08500) with the normal bootstrap interval over the first set.
  On digits-vae's linear paths (16 pairs, 112 images) its standard error (31 to 44 over seeds) matched the
  spread of the distance over 12 seeds' draws of pairs (35); for 8 centroids (8 images, 128 features) it was
  ~250 against a spread of 69, so intervals from fewer images than features are far too wide.

Every random draw comes from the ``generator`` passed in, so the intervals are a deterministic function of it.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.stats
import torch

#: The confidence level of every interval in the evaluation's table (95 %).
CONFIDENCE = 0.95
#: Resamples of the percentile bootstrap interval of a mean (:func:`bootstrap_interval`).
BOOTSTRAP_RESAMPLES = 2000
#: Resamples of the generated features for the Frechet distance's interval (:func:`frechet_with_interval`).
FRECHET_RESAMPLES = 200


def bootstrap_interval(values, generator: torch.Generator, *, resamples: int = BOOTSTRAP_RESAMPLES,
                       confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values [n]``: the ``(1 -+ confidence) / 2`` quantiles of
    the means of ``resamples`` resamples drawn with replacement.

    Parameters
    ----------
    values : array-like ``[n]``
        The values whose mean the interval is for (a tensor, an array or a sequence of numbers), read as float64.
    generator
        Draws the resamples' indices; the interval is a deterministic function of its state.
    resamples
        Resamples drawn with replacement, each of ``n`` values. Default :data:`BOOTSTRAP_RESAMPLES`.
    confidence
        The interval's confidence level, in (0, 1). Default :data:`CONFIDENCE`.

    Returns
    -------
    low, high : float
        The ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the resampled means; equal when
        every value is the same.
    """
    v = torch.as_tensor(np.asarray(values, dtype=np.float64))
    means = v[torch.randint(len(v), (resamples, len(v)), generator=generator)].mean(1)
    q = torch.quantile(means, torch.tensor([(1 - confidence) / 2, (1 + confidence) / 2], dtype=torch.float64))
    return float(q[0]), float(q[1])


def wilson_interval(successes: int, n: int, *, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a proportion: ``(p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)``,
    ``p = successes / n``, ``z`` the normal quantile of ``(1 + confidence) / 2``.

    Parameters
    ----------
    successes
        The number of successes, from 0 to ``n``.
    n
        The number of trials, at least 1.
    confidence
        The interval's confidence level, in (0, 1). Default :data:`CONFIDENCE`.

    Returns
    -------
    low, high : float
        The interval's bounds, clipped to [0, 1].
    """
    z = float(scipy.stats.norm.ppf((1 + confidence) / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _gaussian_fit(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Means ``[..., F]`` and covariances ``[..., F, F]`` (divisor ``n - 1``) of ``features [..., n, F]``."""
    mean = features.mean(-2)
    centred = features - mean[..., None, :]
    return mean, centred.transpose(-1, -2) @ centred / (features.shape[-2] - 1)


def frechet_with_interval(generated, real, generator: torch.Generator, *, resamples: int = FRECHET_RESAMPLES,
                          confidence: float = CONFIDENCE, chunk: int = 50) -> tuple[float, float, float]:
    """Frechet distance ``d = ||m_g - m_r||^2 + tr(C_g + C_r - 2 (C_g C_r)^(1/2))`` between Gaussians fitted to
    ``generated [n, F]`` and ``real [m, F]`` (the value of :func:`latentcore.models.classifier.frechet_distance`),
    and the normal bootstrap interval ``d -+ z se``, ``se`` the standard deviation of ``d`` over ``resamples``
    resamples of the generated features (real ones fixed), lower end at least 0 (Efron & Tibshirani 1993,
    section 13.3). Returns ``(d, low, high)``. The percentile interval is not used: repeated images shrink the
    fitted covariance, so every resampled distance is shifted upwards (by ~45 on digits-vae's linear paths, 112
    images) and the percentile interval can miss ``d`` altogether.

    ``tr((C_g C_r)^(1/2))`` is the sum of the square roots of the eigenvalues of the symmetric matrix
    ``S C_g S`` with ``S = C_r^(1/2)`` (``C_g C_r = (C_g S) S`` and ``S (C_g S)`` share their eigenvalues), so
    the resamples go through batched ``eigvalsh`` calls, ``chunk`` at a time.

    Parameters
    ----------
    generated : array-like ``[n, F]``
        Features of the generated images (a tensor or an array), at least 2 rows; the ones resampled.
    real : array-like ``[m, F]``
        Features of the reference images, at least 2 rows; fixed.
    generator
        Draws the resamples' indices; the interval is a deterministic function of its state.
    resamples
        Bootstrap resamples of the generated features. Default :data:`FRECHET_RESAMPLES`.
    confidence
        The interval's confidence level, in (0, 1); ``z`` is the normal quantile of ``(1 + confidence) / 2``.
        Default :data:`CONFIDENCE`.
    chunk
        Resamples per batched ``eigvalsh`` call (memory against speed; the result does not depend on it).
        Default 50.

    Returns
    -------
    d, low, high : float
        The Frechet distance and its normal bootstrap interval ``d -+ z se``, the lower end at least 0.

    Raises
    ------
    ValueError
        When either set has fewer than two feature vectors.
    """
    gen, ref = torch.as_tensor(generated).double().cpu(), torch.as_tensor(real).double().cpu()
    if gen.shape[0] < 2 or ref.shape[0] < 2:
        raise ValueError("the Frechet distance needs at least two feature vectors in each set")
    ref_mean, ref_cov = _gaussian_fit(ref)
    lam, vec = torch.linalg.eigh(ref_cov)
    root = (vec * lam.clamp_min(0).sqrt()) @ vec.T
    trace_ref = torch.diagonal(ref_cov).sum()

    def distance(sets: torch.Tensor) -> torch.Tensor:  # [R, n, F] -> [R]
        mean, cov = _gaussian_fit(sets)
        cross = torch.linalg.eigvalsh(root @ cov @ root).clamp_min(0).sqrt().sum(-1)
        value = (mean - ref_mean).pow(2).sum(-1) + torch.diagonal(cov, dim1=-2, dim2=-1).sum(-1) + trace_ref
        return (value - 2 * cross).clamp_min(0)

    point = float(distance(gen[None])[0])
    picks = torch.randint(gen.shape[0], (resamples, gen.shape[0]), generator=generator)
    se = float(torch.cat([distance(gen[idx]) for idx in picks.split(chunk)]).std())
    z = float(scipy.stats.norm.ppf((1 + confidence) / 2))
    return point, max(0.0, point - z * se), point + z * se
