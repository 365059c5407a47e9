"""Latent distributions: sample, log-density, standardisation and realisticity index.

Every prior works on latents shaped ``[..., *shape]`` (any leading batch dimensions) and returns one value
per latent for ``log_prob``. Sampling is reproducible: ``sample(n, seed=s)`` draws on the CPU with a seeded
generator and then moves the result, so the same seed gives the same latents on every device.

The registry of prior families is :data:`latentcore.prior_registry.PRIORS`.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from .device import as_tensor, default_device

#: ``log(2 pi)``.
LOG_2PI = math.log(2.0 * math.pi)
#: Probabilities are clamped to ``[CDF_EPS, 1 - CDF_EPS]`` before the normal quantile, which is infinite at 0 and 1
#: (normal scores of independent non-Gaussian elements, LOL paper appendix A).
CDF_EPS = 1e-12


def _generator(seed: int | None) -> torch.Generator:
    gen = torch.Generator(device="cpu")
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(int(seed))
    return gen


class Prior:
    """Base class. Subclasses set ``shape``, ``mean`` and ``std`` (both ``[*shape]``) and implement
    ``_sample_flat`` and ``_log_prob_flat`` on flattened latents ``[M, D]``.

    The base class takes no parameters.
    """

    #: The shape of one latent.
    shape: tuple[int, ...]
    #: The mean ``[*shape]`` of the distribution.
    mean: torch.Tensor
    #: The standard deviation ``[*shape]`` of each element.
    std: torch.Tensor

    @property
    def dim(self) -> int:
        """Number of elements D of one latent."""
        return math.prod(self.shape)

    def flatten(self, z) -> tuple[torch.Tensor, tuple[int, ...]]:
        """``z`` of shape ``[..., *shape]`` as ``[M, D]`` and its batch shape; a clear error otherwise.

        Parameters
        ----------
        z : array-like ``[..., *shape]``
            Latents with any leading batch dimensions.

        Returns
        -------
        flat : Tensor ``[M, D]``
            The latents flattened, ``M`` the product of the batch dimensions (a view where ``z`` allows).
        batch : tuple of int
            The batch shape ``[...]``.

        Raises
        ------
        ValueError
            When the trailing dimensions of ``z`` are not :attr:`shape`.
        """
        z = as_tensor(z)
        k = len(self.shape)
        if z.dim() < k or tuple(z.shape[z.dim() - k:]) != tuple(self.shape):
            raise ValueError(
                f"latents of shape {tuple(z.shape)} do not fit this prior: their trailing dimensions must be "
                f"{tuple(self.shape)} (a batch [N, {', '.join(map(str, self.shape))}] or a single latent)"
            )
        batch = tuple(z.shape[: z.dim() - k])
        return z.reshape(-1, self.dim), batch

    def sample(self, n: int, seed: int | None = None, device: torch.device | str | None = None) -> torch.Tensor:
        """``n`` latents ``[n, *shape]`` drawn with the given seed (a fresh random seed when None).

        Parameters
        ----------
        n
            How many latents, at least 0.
        seed
            The seed of the CPU generator they are drawn with; the same seed gives the same latents on every
            device. Default None: a fresh random seed.
        device
            Where the latents go. Default None: :func:`~latentcore.device.default_device`.

        Returns
        -------
        latents : Tensor ``[n, *shape]``
            The latents.

        Raises
        ------
        ValueError
            When ``n`` is negative.
        """
        if n < 0:
            raise ValueError(f"cannot draw a negative number of latents ({n})")
        flat = self._sample_flat(int(n), _generator(seed))
        return flat.reshape(n, *self.shape).to(device or default_device())

    def log_prob(self, z) -> torch.Tensor:
        """Log-density of each latent, shape ``[...]`` for ``z`` of shape ``[..., *shape]``.

        Parameters
        ----------
        z : array-like ``[..., *shape]``
            Latents with any leading batch dimensions.

        Returns
        -------
        Tensor ``[...]``
            The natural logarithm of the density at each latent.

        Raises
        ------
        ValueError
            When the trailing dimensions of ``z`` are not :attr:`shape`.
        """
        flat, batch = self.flatten(z)
        return self._log_prob_flat(flat).reshape(batch)

    def standardize(self, z) -> torch.Tensor:
        """Elements mapped so that, for latents of this prior, each is (approximately) N(0, 1):
        ``(z - mean) / std`` unless a subclass knows better (exact for Gaussians and independent elements).
        ``z [..., *shape]``, checked; :meth:`standardize_flat` is the same for checked latents ``[M, D]``.

        Parameters
        ----------
        z : array-like ``[..., *shape]``
            Latents with any leading batch dimensions.

        Returns
        -------
        standardised : Tensor ``[..., *shape]``
            The standardised elements.

        Raises
        ------
        ValueError
            When the trailing dimensions of ``z`` are not :attr:`shape`.
        """
        flat, batch = self.flatten(z)
        return self.standardize_flat(flat).reshape(*batch, *self.shape)

    def standardize_flat(self, flat: torch.Tensor) -> torch.Tensor:
        """:meth:`standardize` of latents ``[M, D]`` already checked (nothing is checked again).

        Parameters
        ----------
        flat : Tensor ``[M, D]``
            Flattened latents.

        Returns
        -------
        Tensor ``[M, D]``
            The standardised elements.
        """
        return (flat - self.mean.to(flat).reshape(1, -1)) / self.std.to(flat).reshape(1, -1)

    def unstandardize(self, u) -> torch.Tensor:
        """The inverse of :meth:`~latentcore.priors.Prior.standardize`: ``mean + u * std`` unless a subclass knows
        better.

        Parameters
        ----------
        u : array-like ``[..., *shape]``
            Standardised latents with any leading batch dimensions.

        Returns
        -------
        latents : Tensor ``[..., *shape]``
            The latents.

        Raises
        ------
        ValueError
            When the trailing dimensions of ``u`` are not :attr:`shape`.
        """
        u = as_tensor(u)
        self.flatten(u)
        return self.mean.to(u) + u * self.std.to(u)

    def _sample_flat(self, n: int, gen: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def _log_prob_flat(self, flat: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class Gaussian(Prior):
    """``N(mean, diag(std^2))``, or ``N(mean, cov)`` with a full covariance over the flattened latent.

    The mean and standard deviations are kept on the CPU in float32 (a full covariance is factorised in float64,
    its Cholesky factor kept in float32).

    Parameters
    ----------
    mean : array-like ``[*shape]``
        The mean; its shape is the latent shape.
    std : float or array-like broadcastable to ``[*shape]``
        The standard deviation of each element (diagonal form), positive. Default 1. Ignored when ``cov`` is
        given.
    cov : array-like ``[D, D]``
        A symmetric positive definite covariance over the ``D`` flattened elements (full form).
        Default None: the diagonal form.

    Raises
    ------
    ValueError
        When ``cov`` is not ``[D, D]``, not symmetric or not positive definite, or ``std`` is not positive
        everywhere.
    """

    def __init__(self, mean, std=1.0, *, cov=None):
        mean = as_tensor(mean, device="cpu", dtype=torch.float32)
        self.shape = tuple(mean.shape)
        self.mean = mean
        self.chol = None
        if cov is not None:
            cov = as_tensor(cov, device="cpu", dtype=torch.float64)
            if cov.shape != (self.dim, self.dim):
                raise ValueError(f"cov must be [{self.dim}, {self.dim}] for a mean of shape {self.shape}, "
                                 f"got {tuple(cov.shape)}")
            if not torch.allclose(cov, cov.T, atol=1e-8 * float(cov.abs().max())):
                raise ValueError("cov must be symmetric")
            chol, info = torch.linalg.cholesky_ex(cov)
            if int(info) != 0:
                raise ValueError("cov must be positive definite (its Cholesky factorisation failed)")
            self.chol = chol.float()
            self.std = cov.diagonal().sqrt().float().reshape(self.shape)
        else:
            std = torch.broadcast_to(as_tensor(std, device="cpu", dtype=torch.float32), self.shape).clone()
            if not bool((std > 0).all()):
                raise ValueError("std must be positive everywhere")
            self.std = std

    def mahalanobis_sq(self, z) -> torch.Tensor:
        """Squared Mahalanobis norm ``(z - mean)^T Sigma^-1 (z - mean)``; chi-square with D degrees of freedom
        under the prior.

        Parameters
        ----------
        z : array-like ``[..., *shape]``
            Latents with any leading batch dimensions.

        Returns
        -------
        Tensor ``[...]``
            The squared norm of each latent.
        """
        flat, batch = self.flatten(z)
        return self._whiten(flat).pow(2).sum(-1).reshape(batch)

    def standardize_flat(self, flat: torch.Tensor) -> torch.Tensor:
        """Whitened latents ``L^-1 (z - mean)`` (``Sigma = L L^T``): exactly N(0, I) under the prior.

        Parameters
        ----------
        flat : Tensor ``[M, D]``
            Flattened latents, checked.

        Returns
        -------
        Tensor ``[M, D]``
            The whitened latents.
        """
        return self._whiten(flat)

    def unstandardize(self, u) -> torch.Tensor:
        """``mean + L u``, the inverse of :meth:`~latentcore.priors.Prior.standardize`.

        Parameters
        ----------
        u : array-like ``[..., *shape]``
            Whitened latents with any leading batch dimensions.

        Returns
        -------
        latents : Tensor ``[..., *shape]``
            The latents.
        """
        if self.chol is None:
            return super().unstandardize(u)
        flat, batch = self.flatten(u)
        out = self.mean.to(flat).reshape(1, -1) + flat @ self.chol.to(flat).T
        return out.reshape(*batch, *self.shape)

    def _whiten(self, flat: torch.Tensor) -> torch.Tensor:
        centred = flat - self.mean.to(flat).reshape(1, -1)
        if self.chol is None:
            return centred / self.std.to(flat).reshape(1, -1)
        return torch.linalg.solve_triangular(self.chol.to(flat), centred.T, upper=False).T

    def _log_det(self) -> float:
        if self.chol is None:
            return 2.0 * float(self.std.log().sum())
        return 2.0 * float(self.chol.diagonal().log().sum())

    def _sample_flat(self, n, gen):
        eps = torch.randn(n, self.dim, generator=gen)
        if self.chol is None:
            return self.mean.reshape(1, -1) + eps * self.std.reshape(1, -1)
        return self.mean.reshape(1, -1) + eps @ self.chol.T

    def _log_prob_flat(self, flat):
        m2 = self._whiten(flat).pow(2).sum(-1)
        return -0.5 * (m2 + self._log_det() + self.dim * LOG_2PI)


class StandardNormal(Gaussian):
    """``N(0, I)`` over latents of the given shape: the prior of diffusion models' x_T and most GANs.

    Parameters
    ----------
    shape : int or tuple of int
        The latent shape; an int is a flat latent of that many elements.
    """

    def __init__(self, shape):
        shape = (int(shape),) if isinstance(shape, int) else tuple(int(s) for s in shape)
        super().__init__(torch.zeros(shape), 1.0)

    def standardize_flat(self, flat: torch.Tensor) -> torch.Tensor:
        """``flat`` itself: the elements are N(0, 1) already."""
        return flat

    def unstandardize(self, u) -> torch.Tensor:
        """``u`` itself (as a tensor), after checking its shape."""
        self.flatten(u)
        return as_tensor(u)

    def mahalanobis_sq(self, z) -> torch.Tensor:
        """The squared Euclidean norm ``||z||^2`` of each latent, shape ``[...]``."""
        flat, batch = self.flatten(z)
        return flat.pow(2).sum(-1).reshape(batch)


class GaussianMixture(Prior):
    """``sum_m weights_m N(means_m, covs_m)`` over flat latents ``[D]``: ``weights [M]``, ``means [M, D]``,
    ``covs [M, D, D]`` (symmetric positive definite; weights positive, normalised to sum to 1).

    Parameters are stored in float64 when any input is float64 and in float32 otherwise (the Cholesky factors
    and moments are computed in float64 either way); ``log_prob`` computes in the latents' dtype, so float64
    latents with float64 parameters get float64 accuracy. ``mean`` and ``std`` are the mixture's moments (used
    for standardisation and by LOL's moment-matching map).

    Parameters
    ----------
    weights : array-like ``[M]``
        The components' weights, positive; normalised to sum to 1.
    means : array-like ``[M, D]``
        The components' means.
    covs : array-like ``[M, D, D]``
        The components' covariances, symmetric positive definite.

    Raises
    ------
    ValueError
        When the shapes do not match, a weight is not positive, or a covariance is not positive definite.
    """

    def __init__(self, weights, means, covs):
        given = [as_tensor(x, device="cpu") for x in (weights, means, covs)]
        dtype = torch.float64 if any(x.dtype == torch.float64 for x in given) else torch.float32
        weights, means, covs = (x.double() for x in given)
        if means.dim() != 2 or weights.shape != means.shape[:1] or covs.shape != (*means.shape, means.shape[1]):
            raise ValueError("GaussianMixture needs weights [M], means [M, D] and covs [M, D, D]; got "
                             f"{tuple(weights.shape)}, {tuple(means.shape)}, {tuple(covs.shape)}")
        if not bool((weights > 0).all()):
            raise ValueError("mixture weights must be positive")
        chol, info = torch.linalg.cholesky_ex(covs)
        if bool((info != 0).any()):
            raise ValueError("every mixture covariance must be symmetric positive definite")
        w = weights / weights.sum()
        self.shape = (means.shape[1],)
        self.weights = w.to(dtype)
        self.means = means.to(dtype)
        self.chols = chol.to(dtype)
        mean = (w[:, None] * means).sum(0)
        second = (w[:, None, None] * (covs + means[:, :, None] * means[:, None, :])).sum(0)
        self.mean = mean.to(dtype)
        self.cov = (second - mean[:, None] * mean[None, :]).to(dtype)
        self.std = self.cov.diagonal().sqrt()
        self._log_norm = (w.log() - chol.diagonal(dim1=-2, dim2=-1).log().sum(-1)
                          - 0.5 * self.dim * LOG_2PI).to(dtype)

    @classmethod
    def semicircle(cls, dim: int = 20) -> "GaussianMixture":
        """The "semicircle" prior of Struski et al., "Interpolation in generative models", section 6: three
        equally weighted Gaussians with means (2, 6), (0, 0), (2, -6) in the first two coordinates (zero
        elsewhere), first-two-coordinate covariances [[5, 2], [2, 2]], [[1, 0], [0, 3]], [[5, -2], [-2, 2]],
        and 0.5 on the diagonal of the remaining coordinates. ``dim=2`` is the planar horseshoe.

        Parameters
        ----------
        dim
            The number of elements D, at least 2. Default 20.

        Returns
        -------
        GaussianMixture
            The prior over flat latents ``[dim]``.

        Raises
        ------
        ValueError
            When ``dim`` is below 2.
        """
        if dim < 2:
            raise ValueError(f"the semicircle prior needs dim >= 2, got {dim}")
        heads = torch.tensor([[2.0, 6.0], [0.0, 0.0], [2.0, -6.0]])
        blocks = torch.tensor([[[5.0, 2.0], [2.0, 2.0]], [[1.0, 0.0], [0.0, 3.0]], [[5.0, -2.0], [-2.0, 2.0]]])
        means = torch.zeros(3, dim)
        means[:, :2] = heads
        covs = 0.5 * torch.eye(dim).repeat(3, 1, 1)
        covs[:, :2, :2] = blocks
        return cls(torch.ones(3) / 3, means, covs)

    def _component_log_probs(self, flat: torch.Tensor) -> torch.Tensor:
        centred = flat[None, :, :] - self.means.to(flat)[:, None, :]            # [M, N, D]
        white = torch.linalg.solve_triangular(self.chols.to(flat), centred.transpose(1, 2), upper=False)
        return self._log_norm.to(flat)[:, None] - 0.5 * white.pow(2).sum(1)     # [M, N]

    def _log_prob_flat(self, flat):
        return torch.logsumexp(self._component_log_probs(flat), dim=0)

    def _sample_flat(self, n, gen):
        comp = torch.multinomial(self.weights, n, replacement=True, generator=gen)
        eps = torch.randn(n, self.dim, generator=gen, dtype=self.means.dtype)
        return self.means[comp] + torch.einsum("nij,nj->ni", self.chols[comp], eps)


class _Marginal:
    """A scalar distribution with cdf, quantile and log-pdf in torch. Closed forms for scipy's ``uniform``,
    ``logistic``, ``laplace`` and ``norm`` (any loc and scale); any other frozen scipy.stats distribution
    goes through scipy on the CPU."""

    def __init__(self, frozen):
        if not hasattr(frozen, "dist") or not hasattr(frozen, "ppf"):
            raise TypeError("Independent needs a frozen scipy.stats distribution, e.g. scipy.stats.laplace()")
        self.frozen = frozen
        self.name = frozen.dist.name
        self.closed_form = self.name in {"uniform", "logistic", "laplace", "norm"}
        if self.closed_form:  # location-scale families without shape parameters
            _, self.loc, self.scale = frozen.dist._parse_args(*frozen.args, **frozen.kwds)

    def _scipy(self, fn: Callable, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.asarray(fn(x.detach().cpu().numpy()), dtype=np.float64)).to(x.device)

    def cdf(self, x: torch.Tensor) -> torch.Tensor:
        if not self.closed_form:
            return self._scipy(self.frozen.cdf, x)
        y = (x - self.loc) / self.scale
        if self.name == "uniform":
            return y.clamp(0.0, 1.0)
        if self.name == "logistic":
            return torch.sigmoid(y)
        if self.name == "laplace":
            return torch.where(y < 0, 0.5 * torch.exp(y), 1.0 - 0.5 * torch.exp(-y))
        return torch.special.ndtr(y)

    def icdf(self, u: torch.Tensor) -> torch.Tensor:
        if not self.closed_form:
            return self._scipy(self.frozen.ppf, u)
        if self.name == "uniform":
            y = u
        elif self.name == "logistic":
            y = torch.logit(u)
        elif self.name == "laplace":
            y = torch.where(u < 0.5, torch.log(2.0 * u), -torch.log(2.0 - 2.0 * u))
        else:
            y = torch.special.ndtri(u)
        return self.loc + self.scale * y

    def log_pdf(self, x: torch.Tensor) -> torch.Tensor:
        if not self.closed_form:
            return self._scipy(self.frozen.logpdf, x)
        y = (x - self.loc) / self.scale
        log_scale = math.log(self.scale)
        if self.name == "uniform":
            inside = (y >= 0) & (y <= 1)
            return torch.where(inside, torch.full_like(y, -log_scale), torch.full_like(y, -math.inf))
        if self.name == "logistic":
            return -y - 2.0 * torch.nn.functional.softplus(-y) - log_scale
        if self.name == "laplace":
            return -y.abs() - math.log(2.0) - log_scale
        return -0.5 * y * y - 0.5 * LOG_2PI - log_scale


class Independent(Prior):
    """Latents whose elements are independent draws of one scalar distribution (a frozen scipy.stats
    distribution: ``scipy.stats.uniform(-1, 2)``, ``scipy.stats.logistic()``, ``scipy.stats.laplace()``, ...).

    Elements map to standard normal scores by ``u = Phi^-1(F(x))`` with ``F`` clamped to
    ``[CDF_EPS, 1 - CDF_EPS]`` (LOL paper, appendix A); the maps run in float64.

    Parameters
    ----------
    shape : int or tuple of int
        The latent shape; an int is a flat latent of that many elements.
    marginal : frozen ``scipy.stats`` distribution
        The distribution of every element, with a finite mean and a positive, finite standard deviation.
        ``uniform``, ``logistic``, ``laplace`` and ``norm`` have closed forms in torch; others go through scipy on
        the CPU.

    Raises
    ------
    TypeError
        When ``marginal`` is not a frozen scipy.stats distribution.
    ValueError
        When its mean or standard deviation is not finite, or the standard deviation is not positive.
    """

    def __init__(self, shape, marginal):
        self.shape = (int(shape),) if isinstance(shape, int) else tuple(int(s) for s in shape)
        self.marginal = _Marginal(marginal)
        m, s = float(marginal.mean()), float(marginal.std())
        if not (math.isfinite(m) and math.isfinite(s) and s > 0):
            raise ValueError(f"the marginal {self.marginal.name} needs a finite mean and a positive, finite std")
        self.mean = torch.full(self.shape, m)
        self.std = torch.full(self.shape, s)

    def to_normal_scores(self, z) -> torch.Tensor:
        """``Phi^-1(F(z))`` elementwise: standard normal elements for latents of this prior.

        Parameters
        ----------
        z : array-like ``[..., *shape]``
            Latents with any leading batch dimensions.

        Returns
        -------
        scores : Tensor ``[..., *shape]``
            The normal scores, in the latents' dtype.
        """
        flat, batch = self.flatten(z)
        return self.standardize_flat(flat).reshape(*batch, *self.shape)

    def from_normal_scores(self, g) -> torch.Tensor:
        """``F^-1(Phi(g))`` elementwise, the inverse of :meth:`to_normal_scores`.

        Parameters
        ----------
        g : array-like ``[...]``
            Normal scores of any shape (not checked against :attr:`~latentcore.priors.Prior.shape`).

        Returns
        -------
        Tensor ``[...]``
            The latents, of the shape and dtype of ``g``.
        """
        g = as_tensor(g)
        u = torch.special.ndtr(g.double()).clamp(CDF_EPS, 1.0 - CDF_EPS)
        return self.marginal.icdf(u).to(g.dtype)

    def standardize_flat(self, flat: torch.Tensor) -> torch.Tensor:
        """Normal scores ``Phi^-1(F(z))`` elementwise (see :meth:`to_normal_scores`) of checked latents
        ``[M, D]``."""
        u = self.marginal.cdf(flat.double()).clamp(CDF_EPS, 1.0 - CDF_EPS)
        return torch.special.ndtri(u).to(flat.dtype)

    def unstandardize(self, u) -> torch.Tensor:
        """:meth:`from_normal_scores`, the inverse of :meth:`~latentcore.priors.Prior.standardize`."""
        return self.from_normal_scores(u)

    def _sample_flat(self, n, gen):
        return self.from_normal_scores(torch.randn(n, self.dim, generator=gen))

    def _log_prob_flat(self, flat):
        return self.marginal.log_pdf(flat.double()).sum(-1).to(flat.dtype)


class Empirical(Prior):
    """A Gaussian kernel density estimate over given latents ``[n, *shape]`` (e.g. encodings of data that have
    one feature, for feature-restricted interpolation as in Struski et al., arXiv 1904.03445).

    Kernels are diagonal: element ``d`` has bandwidth ``h * s_d`` with ``s_d`` the latents' standard deviation
    of that element and ``h = n^(-1/(D+4))`` (Scott's rule) unless ``bandwidth`` gives ``h``.

    Parameters
    ----------
    latents : array-like ``[n, *shape]``
        At least two finite latents; kept on the CPU in float32.
    bandwidth
        The kernel scale ``h``, positive. Default None: Scott's rule.
    chunk
        Latents per block when :meth:`~latentcore.priors.Prior.log_prob` compares them with the points (memory
        ``chunk * n``). Default 4096.

    Raises
    ------
    ValueError
        When there are fewer than two latents, they hold NaN or Inf, or ``bandwidth`` is not positive.
    """

    def __init__(self, latents, bandwidth: float | None = None, chunk: int = 4096):
        latents = as_tensor(latents, device="cpu", dtype=torch.float32)
        if latents.dim() < 2 or latents.shape[0] < 2:
            raise ValueError(f"Empirical needs at least two latents shaped [n, *shape], got {tuple(latents.shape)}")
        if not bool(torch.isfinite(latents).all()):
            raise ValueError("Empirical latents contain NaN or Inf")
        self.shape = tuple(latents.shape[1:])
        self.points = latents.reshape(latents.shape[0], -1)
        n = self.points.shape[0]
        h = n ** (-1.0 / (self.dim + 4)) if bandwidth is None else float(bandwidth)
        if h <= 0:
            raise ValueError("bandwidth must be positive")
        spread = self.points.std(0).clamp_min(1e-6 * float(self.points.std().clamp_min(1e-12)) + 1e-12)
        self.kernel_std = h * spread
        self.chunk = chunk
        self.mean = self.points.mean(0).reshape(self.shape)
        self.std = (self.points.var(0) + self.kernel_std**2).sqrt().reshape(self.shape)
        self._log_norm = (-math.log(n) - float(self.kernel_std.log().sum()) - 0.5 * self.dim * LOG_2PI)

    def _sample_flat(self, n, gen):
        idx = torch.randint(self.points.shape[0], (n,), generator=gen)
        return self.points[idx] + torch.randn(n, self.dim, generator=gen) * self.kernel_std

    def _log_prob_flat(self, flat):
        points = (self.points / self.kernel_std).to(flat)
        scaled = flat / self.kernel_std.to(flat)
        out = [torch.logsumexp(-0.5 * torch.cdist(part, points).pow(2), dim=1) for part in scaled.split(self.chunk)]
        return (torch.cat(out) if out else flat.new_zeros(0)) + self._log_norm
