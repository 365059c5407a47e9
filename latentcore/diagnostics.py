"""Normality diagnostics of latents (LOL paper, arXiv 2408.08558, section 4 and Figure 3).

The D elements of one latent, standardised by the prior (``prior.standardize``: exact for Gaussians and
independent elements), are treated as a sample and tested against N(0, 1):

- ``ks``: Kolmogorov-Smirnov (``scipy.stats.kstest``);
- ``cvm``: Cramer-von Mises (``scipy.stats.cramervonmises``);
- ``ad``: Anderson-Darling against the fully specified N(0, 1). SciPy's ``anderson`` estimates mean and scale
  from the sample, which would hide a shifted or rescaled latent, so the statistic
  ``A^2 = -n - (1/n) sum_i (2i - 1) [log F(x_(i)) + log(1 - F(x_(n+1-i)))]`` is computed here and its p-value
  follows Marsaglia & Marsaglia, "Evaluating the Anderson-Darling distribution", J. Stat. Softw. 9(2), 2004
  (p-values stop at :func:`ad_p_floor`, about ``6e-4 / n``: the approximation cannot tell smaller ones apart);
- ``chi2_norm``: the two-sided chi-square p-value ``2 min(F, 1 - F)`` of the squared norm, ``F = F_chi2_D``.

The three tests of the elements share one sort and one evaluation of the normal CDF per latent, in torch, all
latents at once (``python -m bench.micro.normality`` times them against scipy's own functions).

A latent can have a likely norm and still be atypical (a constant vector with norm sqrt(D) passes
``chi2_norm`` and fails the other three): that is the point the LOL paper makes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.stats
import torch

from .combine import lol_combine
from .device import as_tensor
from .priors import Prior
from .realism import realisticity_index
from .validation import check_latents, resolve_prior

#: The normality tests by short name, with their full names (module docstring).
TESTS = {
    "ks": "Kolmogorov-Smirnov",
    "cvm": "Cramer-von Mises",
    "ad": "Anderson-Darling",
    "chi2_norm": "Chi-square of the squared norm",
}
#: The tests' names as a badge gives the test that decided it (:attr:`LatentSummary.verdicts`).
SHORT_TESTS = {"ks": "KS", "cvm": "CvM", "ad": "AD", "chi2_norm": "χ² of the norm"}
#: The test level. A latent passes the tests when every p-value is at least this (the app, the evaluation and its
#: plots all use it).
NORMALITY_LEVEL = 0.01


def _ad_inf(z: np.ndarray) -> np.ndarray:
    """Limiting CDF of A^2 (Marsaglia & Marsaglia 2004, adinf)."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    small = z < 2.0
    zs = np.where(small & (z > 0), z, 1.0)
    poly = 2.00012 + (0.247105 - (0.0649821 - (0.0347962 - (0.011672 - 0.00168691 * zs) * zs) * zs) * zs) * zs
    out[small] = (np.exp(-1.2337141 / zs) / np.sqrt(zs) * poly)[small]
    zl = np.where(small, 2.0, z)
    big = np.exp(-np.exp(1.0776 - (2.30695 - (0.43424 - (0.082433 - (0.008056 - 0.0003146 * zl) * zl) * zl) * zl)
                         * zl))
    out[~small] = big[~small]
    out[z <= 0] = 0.0
    return out


def _ad_errfix(n: int, x: np.ndarray) -> np.ndarray:
    """Finite-sample correction to ``_ad_inf`` (Marsaglia & Marsaglia 2004, errfix)."""
    c = 0.01265 + 0.1757 / n
    out = np.empty_like(x)
    low = x < c
    t = np.clip(x / c, 0.0, 1.0)
    out[low] = ((np.sqrt(t) * (1.0 - t) * (49.0 * t - 102.0)) * (0.0037 / n**2 + 0.00078 / n + 0.00006) / n)[low]
    mid = (~low) & (x < 0.8)
    t = (x - c) / (0.8 - c)
    poly = -0.00022633 + (6.54034 - (14.6538 - (14.458 - (8.259 - 1.91864 * t) * t) * t) * t) * t
    out[mid] = (poly * (0.04213 / n + 0.01365 / n**2) / n)[mid]
    high = ~(low | mid)
    poly = -130.2137 + (745.2337 - (1705.091 - (1950.646 - (1116.360 - 255.7844 * x) * x) * x) * x) * x
    out[high] = (poly / n)[high]
    return out


def _ad_p(stat: np.ndarray, n: int) -> np.ndarray:
    """p-values of A^2 statistics for samples of ``n`` values (Marsaglia & Marsaglia 2004: adinf and errfix)."""
    cdf = _ad_inf(stat)
    return 1.0 - np.clip(cdf + _ad_errfix(n, cdf), 0.0, 1.0)


def ad_p_floor(n: int) -> float:
    """The smallest Anderson-Darling p-value :func:`anderson_darling_normal` gives for samples of ``n`` values.
    Marsaglia & Marsaglia's finite-sample correction leaves a residual of about ``6e-4 / n`` where the limiting
    distribution's tail is smaller still (3.7e-8 at n = 16384), so every strongly non-normal sample gets this value:
    read it as "this or less"."""
    return float(_ad_p(np.array([1e3]), n)[0])


def _anderson_darling_sorted(xs: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """:func:`anderson_darling_normal` of rows already sorted ``[N, n]`` (float64): ``log(1 - F(x)) = log F(-x)``
    with ``F`` the standard normal CDF, both from ``log_ndtr`` (no cancellation in the tails)."""
    n = xs.shape[1]
    weights = torch.arange(1, 2 * n, 2, dtype=xs.dtype, device=xs.device)  # 2i - 1
    log_cdf = torch.special.log_ndtr(xs)
    log_sf = torch.special.log_ndtr(-xs).flip(1)                             # log(1 - F(x_(n+1-i)))
    stat = (-n - ((log_cdf + log_sf) @ weights) / n).cpu().numpy()
    return stat, np.maximum(_ad_p(stat, n), ad_p_floor(n))


def anderson_darling_normal(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A^2 statistic and p-value of each row of ``samples [N, n]`` against the fully specified N(0, 1), all rows
    at once; p-values stop at :func:`ad_p_floor`."""
    return _anderson_darling_sorted(torch.sort(torch.as_tensor(np.asarray(samples, dtype=np.float64)), dim=1).values)


def _cvm_p(stat: np.ndarray, n: int) -> np.ndarray:
    """The p-values ``scipy.stats.cramervonmises`` gives for statistics ``stat`` of samples of ``n`` values
    (Csorgo & Faraway 1996), from the distribution function it uses; scipy has no public name for it, so a test
    checks the two agree."""
    from scipy.stats._hypotests import _cdf_cvm  # here, so that a scipy without it fails these tests only

    return np.clip(1.0 - _cdf_cvm(stat, n), 0.0, 1.0)


def _test_results(latents, prior: Prior | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``(statistic [N], p-value [N])`` of each test in :data:`TESTS`. The three tests of the empirical distribution
    share one sort and one evaluation of the normal CDF; their statistics and p-values are scipy's:
    ``kstest`` (two-sided, exact distribution: ``kstwo``), ``cramervonmises``, and the Anderson-Darling test above.
    """
    latents = as_tensor(latents)
    prior = resolve_prior(prior, latents, batched=latents.dim() > 1)
    flat, _ = check_latents(latents, prior)
    if flat.shape[1] < 2:
        raise ValueError("normality tests need latents with at least 2 elements")
    x = prior.standardize_flat(flat).detach().double().cpu()
    d = x.shape[1]
    xs = torch.sort(x, dim=1).values
    cdf = torch.special.ndtr(xs)
    i = torch.arange(1, d + 1, dtype=torch.float64)
    ks = torch.maximum((i / d - cdf).amax(1), (cdf - (i - 1) / d).amax(1)).numpy()
    cvm = (1.0 / (12 * d) + ((2 * i - 1) / (2 * d) - cdf).square().sum(1)).numpy()
    ad_stat, ad_p = _anderson_darling_sorted(xs)
    sq = x.square().sum(1).numpy()
    chi2_p = np.clip(2.0 * np.minimum(scipy.stats.chi2.cdf(sq, d), scipy.stats.chi2.sf(sq, d)), 0.0, 1.0)
    return {
        "ks": (ks, np.clip(scipy.stats.kstwo.sf(ks, d), 0.0, 1.0)),
        "cvm": (cvm, _cvm_p(cvm, d)),
        "ad": (ad_stat, ad_p),
        "chi2_norm": (sq, chi2_p),
    }


def normality_tests(latents, *, prior: Prior | None = None) -> dict[str, np.ndarray]:
    """p-values ``[N]`` of each test in :data:`TESTS`, by test name, for latents ``[N, *shape]`` (or one latent,
    giving arrays of length 1). Without a prior: N(0, I) over the latents' shape.

    Parameters
    ----------
    latents : array-like ``[N, *shape]`` or ``[*shape]``
        The latents, finite, each of at least 2 elements. Without a prior, an input of one dimension is one
        latent and one of more dimensions a batch.
    prior
        The prior that standardises the elements (:meth:`~latentcore.priors.Prior.standardize`).
        Default None: a standard normal over the latent shape.

    Returns
    -------
    dict
        For each key of :data:`TESTS` (``"ks"``, ``"cvm"``, ``"ad"``, ``"chi2_norm"``), the p-values as a float64
        array ``[N]``.

    Raises
    ------
    ValueError
        When the latents do not fit the prior, hold NaN or Inf, or have fewer than 2 elements.
    TypeError
        When ``prior`` is not a :class:`~latentcore.priors.Prior`.
    """
    return {name: p for name, (_, p) in _test_results(latents, prior).items()}


def normality_statistics(latents, *, prior: Prior | None = None) -> dict[str, np.ndarray]:
    """The statistic ``[N]`` of each test in :data:`TESTS` (for ``chi2_norm``: the standardised squared norm)."""
    return {name: stat for name, (stat, _) in _test_results(latents, prior).items()}


def typical_norm_band(prior: Prior, level: float = 0.99) -> tuple[float, float]:
    """The central ``level`` interval of the (Mahalanobis) norm of latents of a prior with D elements:
    square roots of the chi-square quantiles. For plots of the norm along a path.

    Parameters
    ----------
    prior
        The prior; only its number of elements D (:attr:`~latentcore.priors.Prior.dim`) is used.
    level
        The probability the interval holds, in (0, 1). Default 0.99.

    Returns
    -------
    low, high : float
        The square roots of the chi-square quantiles with D degrees of freedom at ``(1 - level) / 2`` and
        ``(1 + level) / 2``.
    """
    lo, hi = scipy.stats.chi2.ppf([(1 - level) / 2, (1 + level) / 2], prior.dim)
    return math.sqrt(lo), math.sqrt(hi)


@dataclass
class LatentSummary:
    """Per latent ``[N]``: the (Mahalanobis) ``norm``, the two-sided chi-square p-value of its square
    (``typicality``), the smallest p-value of the KS, Cramer-von Mises and Anderson-Darling tests
    (``normality``), and ``passes``: every test's p-value at least the level. ``decided_by``: the test (a key of
    :data:`TESTS`) with the smallest p-value of all four, ``decided_p`` that p-value: the test that rejects a latent
    that does not pass."""

    norm: np.ndarray
    typicality: np.ndarray
    normality: np.ndarray
    passes: np.ndarray
    decided_by: np.ndarray
    decided_p: np.ndarray

    @property
    def verdicts(self) -> np.ndarray:
        """Per latent ``[N]``, the badge a latent is shown with, ``"normal"`` where it passes every test, else
        ``"atypical"`` and the test that rejects it with its p-value, e.g. ``"atypical (χ² of the norm, p 0.003)"``
        (the one with the smallest p where several do)."""
        return np.array(["normal" if ok else f"atypical ({SHORT_TESTS[test]}, p {p:.2g})"
                         for ok, test, p in zip(self.passes, self.decided_by, self.decided_p)], dtype=object)


def latent_summary(latents, *, prior: Prior, level: float = NORMALITY_LEVEL) -> LatentSummary:
    """:class:`LatentSummary` of latents ``[N, *shape]`` at test level ``level``."""
    results = _test_results(latents, prior)
    tests = {name: p for name, (_, p) in results.items()}
    norm = np.sqrt(results["chi2_norm"][0])  # the statistic is the standardised squared norm
    normality = np.minimum.reduce([tests["ks"], tests["cvm"], tests["ad"]])
    names = list(tests)
    table = np.stack([tests[name] for name in names])  # [4, N]
    smallest = table.argmin(0)
    return LatentSummary(norm, tests["chi2_norm"], normality, (normality >= level) & (tests["chi2_norm"] >= level),
                         np.array(names)[smallest], table[smallest, np.arange(table.shape[1])])


@dataclass
class PathProfile:
    """What the Interpolate page plots along one path of S frames: both realisticity indices ``[S]``, the
    (Mahalanobis) norm ``[S]``, the smallest normality p-value ``[S]`` and, when images were given, the L2
    distance between consecutive decoded frames ``[S - 1]``."""

    density_index: np.ndarray
    typical_index: np.ndarray
    norm: np.ndarray
    normality: np.ndarray
    step: np.ndarray | None = None


def path_profile(path, *, prior: Prior, images=None) -> PathProfile:
    """:class:`PathProfile` of a path ``[S, *shape]``, with ``images [S, ...]`` its decoded frames (optional;
    the image-space step is Figure 5 of Struski et al., "Interpolation in generative models")."""
    summary = latent_summary(path, prior=prior)
    step = None
    if images is not None:
        frames = as_tensor(images).reshape(len(summary.norm), -1).double()
        step = torch.linalg.vector_norm(frames[1:] - frames[:-1], dim=1).cpu().numpy()
    return PathProfile(realisticity_index(path, prior=prior).cpu().numpy(),
                       realisticity_index(path, prior=prior, kind="typical").cpu().numpy(),
                       summary.norm, summary.normality, step)


#: The teaching examples by name, with what each one is.
TEACHING_EXAMPLES = {
    "constant": "constant vector with a likely norm",
    "linear_midpoint": "linear midpoint of the two seeds",
    "lol_midpoint": "LOL midpoint of the two seeds",
}


def teaching_examples(a, b, *, prior: Prior) -> dict[str, torch.Tensor]:
    """Latents ``[*shape]`` that show why a likely norm is not enough (LOL paper, Figure 3), by the names of
    :data:`TEACHING_EXAMPLES`: a constant vector whose standardised norm is exactly sqrt(D), and the linear and LOL
    midpoints of seeds ``a`` and ``b`` (the LOL midpoint is :func:`~latentcore.lol_combine` with weights
    (1/2, 1/2))."""
    pair = torch.stack([as_tensor(a), as_tensor(b)])
    return {
        "constant": prior.unstandardize(torch.ones(1, *prior.shape))[0],
        "linear_midpoint": pair.mean(0),
        "lol_midpoint": lol_combine(pair, torch.ones(2), prior=prior),
    }


@dataclass
class DiagnosticViews:
    """Arrays for the Diagnostics page's plots of one latent of D elements: its standardised ``elements [D]``,
    Q-Q pairs against N(0, 1) (``qq_theoretical``, ``qq_observed``, ``[D]``), the N(0, 1) density on a grid
    (``normal_x``, ``normal_y``), its squared (Mahalanobis) norm, the chi-square density with D degrees of freedom
    (``chi2_x``, ``chi2_y``) and that density's central 99% band."""

    elements: np.ndarray
    qq_theoretical: np.ndarray
    qq_observed: np.ndarray
    normal_x: np.ndarray
    normal_y: np.ndarray
    squared_norm: float
    chi2_x: np.ndarray
    chi2_y: np.ndarray
    chi2_band: tuple[float, float]


def diagnostic_views(latent, *, prior: Prior, points: int = 200) -> DiagnosticViews:
    """:class:`DiagnosticViews` of one latent ``[*shape]``, grids of ``points`` points."""
    elements = prior.standardize(as_tensor(latent)[None]).reshape(-1).double().cpu().numpy()
    d = elements.size
    observed = np.sort(elements)
    theoretical = scipy.stats.norm.ppf((np.arange(1, d + 1) - 0.5) / d)
    grid = np.linspace(min(-4.0, observed[0]), max(4.0, observed[-1]), points)
    lo, hi = scipy.stats.chi2.ppf([0.005, 0.995], d)
    square = float((elements**2).sum())
    chi_grid = np.linspace(0.0, max(hi * 1.3, square * 1.1), points)
    return DiagnosticViews(elements, theoretical, observed, grid, scipy.stats.norm.pdf(grid), square, chi_grid,
                           scipy.stats.chi2.pdf(chi_grid, d), (float(lo), float(hi)))
