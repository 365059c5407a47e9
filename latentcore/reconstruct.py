"""k-nearest-neighbour affine reconstruction of a latent.

For a target ``z`` and a bank of latents, take the ``k`` nearest by Euclidean distance as the columns of
``Z [D, k]`` and find weights ``a`` solving ``min ||Z a - z||^2  s.t.  1^T a = 1`` (an affine combination of
the neighbours, as in locally linear embedding); ``z_hat = Z a``. The Lagrange (KKT) system

    [2 Z^T Z  1] [a     ]   [2 Z^T z]
    [1^T      0] [lambda] = [1      ]

is singular when the neighbours are affinely dependent (``k > D + 1``, duplicates) and ill-conditioned when
some nearly are, so it is not formed. With ``m`` the neighbours' mean and ``C = Z - m 1^T`` (so ``C 1 = 0``),
every affine ``a`` gives ``Z a - z = C a - (z - m)``, and the minimum-norm solution is

    a = 1 / k + C^+ (z - m),   C = U S V^T,   C^+ (z - m) = sum_i v_i (u_i^T (z - m)) / s_i;

the second term lies in the span of ``C^T``, orthogonal to ``1``, so the weights sum to 1. This is exact
whenever ``z`` lies in the neighbours' affine hull, for any k. The numerical rank is revealed by a cut-off:
terms with ``s_i <= rcond * s_1`` (and never below ``max(D, k) * eps * s_1`` of float64) are dropped, so
neighbours whose spread along some direction is under ``rcond`` times their largest spread count as affinely
dependent there. Exact duplicates then share their weight equally, and near duplicates share theirs instead
of getting weights of order ``s_1 / s_i`` (1e3 and more past the default cut-off) to fit the target along a
direction they barely span. The price: a target in their hull but off the merged hull is fitted only to
within about ``rcond * s_1 * ||a||``. Rows with fewer than ``k - 1`` terms kept are flagged ``rank_deficient``:
their weights are the minimum-norm ones among many (affinely dependent neighbours, e.g. ``k > D + 1``) or
nearly so.
This runs in float64; results come in the bank's dtype. With ``lol=True`` the weights go through LOL
(Bodin et al., "Linear combinations of latents in generative models: subspaces and beyond", arXiv 2408.08558)
instead, so ``z_hat`` stays typical for the prior.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .combine import lol_combine
from .device import as_tensor
from .priors import Prior
from .validation import check_int, check_latents, resolve_prior


@dataclass
class Reconstruction:
    """What :func:`knn_affine` returns for ``B`` targets (without the batch dimension for a single target).

    Parameters
    ----------
    weights : Tensor ``[B, k]``
        The affine weights of the neighbours, each row summing to 1 (with ``lol=True``, the weights LOL combines
        the neighbours with).
    indices : Tensor ``[B, k]``
        The rows of the bank used, nearest first.
    reconstruction : Tensor ``[B, *shape]``
        The reconstructions ``z_hat``.
    residual : Tensor ``[B]``
        The distances ``||z_hat - z||``.
    rank : Tensor ``[B]``
        The neighbours' numerical affine rank (singular terms kept, at most ``k - 1``).
    rank_deficient : Tensor ``[B]``
        Whether ``rank < k - 1``: the neighbours are (nearly) affinely dependent (bool).
    """

    weights: torch.Tensor         # [B, k], each row sums to 1
    indices: torch.Tensor         # [B, k] rows of the bank, nearest first
    reconstruction: torch.Tensor  # [B, *shape]
    residual: torch.Tensor        # [B]: ||z_hat - z||
    rank: torch.Tensor            # [B] int: the neighbours' numerical affine rank (singular terms kept, <= k - 1)
    rank_deficient: torch.Tensor     # [B] bool: rank < k - 1, the neighbours are (nearly) affinely dependent


def knn_affine(target, bank, k: int, *, lol: bool = False, prior: Prior | None = None,
               rcond: float = 1e-3) -> Reconstruction:
    """Affine reconstruction of ``target`` (``[*shape]`` or ``[B, *shape]``) from its ``k`` nearest latents in
    ``bank [N, *shape]``: minimum-norm least-squares weights, singular terms under ``rcond`` times the largest
    dropped (see the module docstring). A single target gives results without the batch dimension.

    Parameters
    ----------
    target : array-like ``[*shape]`` or ``[B, *shape]``
        The latents to reconstruct, finite.
    bank : array-like ``[N, *shape]``
        The latents to reconstruct from, finite; the results come in its dtype and on its device.
    k
        The number of neighbours, between 1 and ``N``.
    lol
        Combine the neighbours with the weights through LOL
        (:func:`~latentcore.combine.lol_combine`) instead of linearly. Default False.
    prior
        The prior of the latents (used by LOL and for the shape). Default None: a standard normal
        over ``bank.shape[1:]``.
    rcond
        The relative cut-off for singular values, in [0, 1). Default 1e-3.

    Returns
    -------
    Reconstruction
        The weights, the neighbours' indices, the reconstructions, the residuals and the numerical ranks.

    Raises
    ------
    ValueError
        When the latents do not fit the prior or hold NaN or Inf, ``k`` is not an integer in ``[1, N]``, or
        ``rcond`` is not in [0, 1).
    TypeError
        When ``prior`` is not a :class:`~latentcore.priors.Prior`.
    """
    bank = as_tensor(bank)
    target = as_tensor(target, device=bank.device).to(bank.dtype)
    prior = resolve_prior(prior, bank, batched=True)
    bank_flat, _ = check_latents(bank, prior, name="bank", batch_dims=(1,), min_count=1)
    flat, batch = check_latents(target, prior, name="target", batch_dims=(0, 1))
    k = check_int("k (the neighbours)", k, 1, bank_flat.shape[0])
    if not 0.0 <= rcond < 1.0:
        raise ValueError(f"rcond must be in [0, 1), got {rcond}")

    indices = torch.cdist(flat, bank_flat).topk(k, dim=1, largest=False).indices          # [B, k]
    z = bank_flat[indices].double()                                                      # [B, k, D]
    zt = flat.double()
    origin = z.mean(1, keepdim=True)
    u, s, vh = torch.linalg.svd((z - origin).transpose(1, 2), full_matrices=False)       # C = U S V^T
    coef = (u.transpose(1, 2) @ (zt - origin[:, 0])[:, :, None])[..., 0]                 # u_i^T (z - m)
    kept = s > max(rcond, max(z.shape[1], z.shape[2]) * torch.finfo(torch.float64).eps) * s[:, :1]
    coef = torch.where(kept, coef / torch.where(kept, s, torch.ones_like(s)), torch.zeros_like(s))
    offset = (coef[:, None, :] @ vh)[:, 0]                                               # C^+ (z - m), [B, k]
    weights = 1.0 / k + (offset - offset.mean(1, keepdim=True))  # orthogonal to 1 in exact arithmetic
    rank = kept.sum(1)

    if lol:
        recon = torch.stack([lol_combine(nb.reshape(k, *prior.shape), w, prior=prior).reshape(-1)
                             for nb, w in zip(bank_flat[indices], weights.to(bank.dtype))])
    else:
        recon = (weights[:, None, :] @ z)[:, 0].to(bank.dtype)
    residual = torch.linalg.vector_norm(recon.double() - zt, dim=1).to(bank.dtype)
    out = Reconstruction(weights.to(bank.dtype), indices, recon.reshape(-1, *prior.shape), residual, rank,
                         rank < k - 1)
    if not batch:
        return Reconstruction(*(getattr(out, f)[0] for f in ("weights", "indices", "reconstruction", "residual",
                                                              "rank", "rank_deficient")))
    return out
