"""Two-dimensional views of latents and paths.

- :func:`endpoint_plane`: Eq. 4 of Struski, Tabor, Podolak, Nowak, "Interpolation in generative models". With
  ``X = [z_0, z_k]`` (D x 2), a latent projects to ``z~ = X (X^T X)^-1 X^T z``, and its coordinates ``(x, y)`` solve
  ``x z_0 + y z_k = z~``, i.e. ``(x, y) = (X^T X)^-1 X^T z``: the start is (1, 0), the end (0, 1), the origin (0, 0).
  When the endpoints are parallel (or one is zero) the plane is not defined; the coordinates are then taken in an
  orthonormal basis: the endpoints' common direction and the leading principal direction of the points orthogonal
  to it (both endpoints zero: the points' two leading principal components).
- :func:`pca`: the leading principal components of a set of latents.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .device import as_tensor


def _flat_points(points, like: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
    points = as_tensor(points, device=like.device).double()
    d = like.numel()
    if points.numel() % d or tuple(points.shape[points.dim() - like.dim():]) != tuple(like.shape):
        raise ValueError(f"points of shape {tuple(points.shape)} do not end in the endpoints' shape "
                         f"{tuple(like.shape)}")
    batch = tuple(points.shape[: points.dim() - like.dim()])
    return points.reshape(-1, d), batch


def endpoint_plane(points, z0, z1) -> torch.Tensor:
    """Coordinates ``[..., 2]`` of ``points [..., *shape]`` in the plane through the origin, ``z0`` and ``z1``.

    Eq. 4 of Struski et al. (module docstring): ``z0`` is at (1, 0), ``z1`` at (0, 1). Where the endpoints do not
    span a plane, orthonormal coordinates are used instead (module docstring).

    Parameters
    ----------
    points : array-like ``[..., *shape]``
        The latents to project, e.g. the frames of a path; computed in float64.
    z0, z1 : array-like ``[*shape]``
        The endpoints, of the same shape.

    Returns
    -------
    Tensor ``[..., 2]``
        The coordinates ``(x, y)`` of each point, in float32.

    Raises
    ------
    ValueError
        When the endpoints differ in shape or ``points`` does not end in their shape.
    """
    z0, z1 = as_tensor(z0), as_tensor(z1)
    if z0.shape != z1.shape:
        raise ValueError(f"endpoints must have the same shape, got {tuple(z0.shape)} and {tuple(z1.shape)}")
    flat, batch = _flat_points(points, z0)
    x = torch.stack([z0.reshape(-1), z1.reshape(-1)], dim=1).double().to(flat.device)      # [D, 2]
    gram = x.T @ x
    eig = torch.linalg.eigvalsh(gram)
    if float(eig[0]) > 1e-10 * float(eig[-1]) and float(eig[-1]) > 0:
        coords = torch.linalg.solve(gram, x.T @ flat.T).T
    else:
        coords = _degenerate_plane(flat, x)
    return coords.float().reshape(*batch, 2)


def _degenerate_plane(flat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Orthonormal coordinates when the endpoints do not span a plane (module docstring)."""
    lengths = torch.linalg.vector_norm(x, dim=0)
    if float(lengths.max()) == 0:
        return pca(flat, 2).coords
    u = x[:, int(lengths.argmax())] / lengths.max()
    along = flat @ u
    rest = flat - along[:, None] * u[None, :]
    if flat.shape[0] > 1 and float(torch.linalg.vector_norm(rest)) > 0:
        _, _, vh = torch.linalg.svd(rest, full_matrices=False)
        across = rest @ vh[0]
    else:
        across = torch.zeros_like(along)
    return torch.stack([along, across], dim=1)


@dataclass
class PCA:
    """What :func:`pca` returns: ``N`` latents of ``D`` elements on ``k`` components, in float64.

    Parameters
    ----------
    coords : Tensor ``[N, k]``
        The coordinates of the latents along each component.
    mean : Tensor ``[D]``
        The latents' mean.
    components : Tensor ``[k, D]``
        The principal directions, orthonormal rows (rows of zeros where ``k`` exceeds ``min(N, D)``).
    explained : Tensor ``[k]``
        The fraction of the total variance along each component.
    """

    coords: torch.Tensor      # [N, k]
    mean: torch.Tensor        # [D]
    components: torch.Tensor  # [k, D]
    explained: torch.Tensor   # [k]: fraction of the total variance along each component

    def transform(self, latents) -> torch.Tensor:
        """Coordinates of other latents (same shape per latent) in this PCA.

        Parameters
        ----------
        latents : array-like ``[M, ...]``
            Latents of ``D`` elements each.

        Returns
        -------
        Tensor ``[M, k]``
            ``(latents - mean) @ components.T``.
        """
        flat = as_tensor(latents, device=self.mean.device).reshape(-1, self.mean.numel()).to(self.mean.dtype)
        return (flat - self.mean) @ self.components.T


def pca(latents, k: int = 2) -> PCA:
    """The ``k`` leading principal components of latents ``[N, ...]`` (rows flattened). Components beyond the
    data's rank (e.g. fewer than ``k + 1`` latents) have zero coordinates and zero explained variance.

    Parameters
    ----------
    latents : array-like ``[N, ...]``
        At least one latent; each row is flattened.
    k
        The number of components. Default 2.

    Returns
    -------
    PCA
        The coordinates ``[N, k]``, the mean, the components ``[k, D]`` and the explained variance ``[k]``.

    Raises
    ------
    ValueError
        When there is no latent.
    """
    flat = as_tensor(latents)
    flat = flat.reshape(flat.shape[0], -1).double()
    if flat.shape[0] < 1:
        raise ValueError("PCA needs at least one latent")
    mean = flat.mean(0)
    centred = flat - mean
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    components = torch.zeros(k, flat.shape[1], dtype=flat.dtype, device=flat.device)
    var = torch.zeros(k, dtype=flat.dtype, device=flat.device)
    m = min(k, vh.shape[0])
    components[:m] = vh[:m]
    var[:m] = s[:m] ** 2
    total = (s**2).sum()
    explained = var / total if float(total) > 0 else var
    return PCA(centred @ components.T, mean, components, explained)
