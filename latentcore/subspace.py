"""Subspaces spanned by seed latents, explored through LOL (arXiv 2408.08558, section 3.3).

With the seeds as columns of ``X`` (D x K; centred on the prior's mean, or normal scores for independent
non-Gaussian elements) and the thin QR factorisation ``X = U R``, a point of the subspace has coordinates
``h`` in R^K. Its weights are ``w = pinv(X) U h = R^-1 h`` (so ``X w = U h``) and its latent is ``LOL(w)``;
the raw alternative is the plain combination ``sum_i w_i x_i``. A latent projects to ``h = U^T z``.

LOL ignores the scale of ``w``, so a coordinate box explores directions: the seeds' own coordinates
(``R[:, k]``) and their per-coordinate ranges are what make sliders meaningful.
"""

from __future__ import annotations

import torch

from .combine import lol_combine_checked, to_lol_space
from .device import as_tensor
from .priors import Prior
from .validation import check_finite, check_latents, resolve_prior


class Subspace:
    """The subspace spanned by seeds ``[K, *shape]`` (K >= 1, linearly independent) under ``prior``.

    Parameters
    ----------
    seeds : array-like ``[K, *shape]``
        The seeds, finite and linearly independent (in the centred or normal-score space); ``K`` is at most the
        number of elements D.
    prior
        The prior of the seeds. Default None: a standard normal over ``seeds.shape[1:]``.

    Raises
    ------
    ValueError
        When the seeds do not fit the prior, hold NaN or Inf, outnumber the elements, or are linearly dependent.
    TypeError
        When ``prior`` is not a :class:`~latentcore.priors.Prior`.
    """

    def __init__(self, seeds, *, prior: Prior | None = None):
        seeds = as_tensor(seeds)
        self.prior = resolve_prior(prior, seeds, batched=True)
        flat, _ = check_latents(seeds, self.prior, name="seeds of a subspace", batch_dims=(1,), min_count=1)
        k = flat.shape[0]
        if k > flat.shape[1]:
            raise ValueError(f"{k} seeds cannot be independent in a {flat.shape[1]}-dimensional latent space")
        self.seeds, self._flat = seeds, flat
        space, centre = to_lol_space(flat, self.prior)
        self.centre = torch.zeros_like(space[0]) if centre is None else centre
        q, r = torch.linalg.qr((space - self.centre).T.double())
        scale = r.diagonal().abs()
        if bool((scale <= 1e-6 * scale.max().clamp_min(1e-300)).any()):
            raise ValueError(f"the {k} seeds are linearly dependent (a seed is a combination of the others, or a "
                             "duplicate); remove it to span a subspace")
        self.basis = q.to(flat.dtype)                       # U, [D, K]
        self._r = r                                         # R, [K, K], float64

    @property
    def dim(self) -> int:
        """The dimension K of the subspace (the number of seeds)."""
        return self.basis.shape[1]

    def weights(self, coords) -> torch.Tensor:
        """Seed weights ``w = R^-1 h`` of coordinates ``[..., K]``.

        Parameters
        ----------
        coords : array-like ``[..., K]``
            Coordinates in the subspace, finite.

        Returns
        -------
        Tensor ``[..., K]``
            The weights of the seeds, in the seeds' dtype.

        Raises
        ------
        ValueError
            When ``coords`` does not end in a dimension of size K, or holds NaN or Inf.
        """
        h = as_tensor(coords, device=self.basis.device).double()
        if h.shape[-1] != self.dim:
            raise ValueError(f"coordinates must end in a dimension of size {self.dim}, got {tuple(h.shape)}")
        check_finite(h, "coordinates")
        flat = h.reshape(-1, self.dim).T
        w = torch.linalg.solve_triangular(self._r, flat, upper=True).T
        return w.reshape(h.shape).to(self.basis.dtype)

    def to_latents(self, coords, *, lol: bool = True) -> torch.Tensor:
        """Latents ``[..., *shape]`` at coordinates ``[..., K]``: ``LOL(w)``, or ``sum_i w_i x_i`` when lol=False.

        Parameters
        ----------
        coords : array-like ``[..., K]``
            Coordinates in the subspace, finite.
        lol
            Combine the seeds through LOL (:func:`~latentcore.combine.lol_combine`) rather than
            linearly. Default True.

        Returns
        -------
        latents : Tensor ``[..., *shape]``
            One latent per coordinate vector.

        Raises
        ------
        ValueError
            As :meth:`weights`.
        """
        w = self.weights(coords)
        if lol:
            return lol_combine_checked(self._flat, w, self.prior)  # the seeds were checked once, above
        out = w.reshape(-1, self.dim) @ self.seeds.reshape(len(self.seeds), -1).to(w)
        return out.reshape(*w.shape[:-1], *self.prior.shape)

    def coordinates(self, latents) -> torch.Tensor:
        """Projection ``h = U^T z`` (in the centred / normal-score space) of latents ``[..., *shape]``.

        Parameters
        ----------
        latents : array-like ``[..., *shape]``
            Latents with any leading batch dimensions.

        Returns
        -------
        Tensor ``[..., K]``
            Their coordinates ``U^T (z - centre)``.

        Raises
        ------
        ValueError
            When the trailing dimensions of ``latents`` are not the prior's shape.
        """
        flat, batch = self.prior.flatten(as_tensor(latents, device=self.basis.device))
        space, _ = to_lol_space(flat, self.prior)
        return ((space - self.centre) @ self.basis).reshape(*batch, self.dim)

    @property
    def seed_coordinates(self) -> torch.Tensor:
        """The seeds' coordinates ``[K, K]``, row k for seed k (column k of R)."""
        return self._r.T.to(self.basis.dtype)

    @property
    def ranges(self) -> torch.Tensor:
        """The minimum and maximum ``[K, 2]`` of the seeds' coordinates along each axis."""
        c = self.seed_coordinates
        return torch.stack([c.min(0).values, c.max(0).values], dim=1)

    def grid(self, i: int, j: int, n: int, *, base=None, lol: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """An ``n x n`` grid over coordinates ``i`` (rows) and ``j`` (columns), each spanning the seeds' range,
        the other coordinates fixed at ``base`` (default: the seeds' mean coordinates).

        Returns latents ``[n, n, *shape]`` and their coordinates ``[n, n, K]``.

        Parameters
        ----------
        i, j
            The two coordinates varied, different, in ``0..K-1``.
        n
            Points per axis, at least 2.
        base : array-like ``[K]`` or None
            The coordinates of the grid's other axes (its entries ``i`` and ``j`` are replaced).
            Default None: the seeds' mean coordinates.
        lol
            As in :meth:`to_latents`. Default True.

        Returns
        -------
        latents : Tensor ``[n, n, *shape]``
            The latents at the grid points.
        coords : Tensor ``[n, n, K]``
            Their coordinates; ``coords[r, c, i]`` runs over the seeds' range of coordinate ``i`` with ``r``, and
            ``coords[r, c, j]`` over that of ``j`` with ``c``.

        Raises
        ------
        ValueError
            When ``i`` and ``j`` are not two different coordinates, or ``n`` is below 2.
        """
        if not (0 <= i < self.dim and 0 <= j < self.dim) or i == j:
            raise ValueError(f"grid axes must be two different coordinates in 0..{self.dim - 1}, got {i} and {j}")
        if n < 2:
            raise ValueError(f"a grid needs n >= 2 points per axis, got {n}")
        base = self.seed_coordinates.mean(0) if base is None else as_tensor(base, device=self.basis.device)
        coords = base.to(self.basis.dtype).expand(n, n, self.dim).clone()
        lo_hi = self.ranges
        coords[..., i] = torch.linspace(float(lo_hi[i, 0]), float(lo_hi[i, 1]), n)[:, None].to(coords)
        coords[..., j] = torch.linspace(float(lo_hi[j, 0]), float(lo_hi[j, 1]), n)[None, :].to(coords)
        return self.to_latents(coords, lol=lol), coords

    def nearest_grid_point(self, coords: torch.Tensor, h) -> tuple[int, int]:
        """The (row, column) of the point of a :meth:`grid` (its ``coords [n, n, K]``) nearest to coordinates ``h
        [K]``, by Euclidean distance in the subspace's coordinates.

        Parameters
        ----------
        coords : Tensor ``[n, n, K]``
            The coordinates :meth:`grid` returned.
        h : array-like ``[K]``
            The coordinates to match.

        Returns
        -------
        row, column : int
            The indices of the nearest grid point.
        """
        h = as_tensor(h, device=coords.device).to(coords.dtype).reshape(1, 1, -1)
        n = coords.shape[1]
        return divmod(int((coords - h).norm(dim=-1).argmin()), n)

