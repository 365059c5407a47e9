"""k-nearest-neighbour affine reconstruction of a latent (paper 000 in ../shared/papers).

For a target ``z`` and a bank of latents, take the ``k`` nearest by Euclidean distance as columns of ``Z`` and
solve ``min ||Z a - z||^2  s.t.  1^T a = 1`` through the Lagrange (KKT) system (paper 000, section 4)

    [2 Z^T Z  1] [a     ]   [2 Z^T z]
    [1^T      0] [lambda] = [1      ],

then ``z_hat = Z a``: an affine combination of the neighbours, as in locally linear embedding. The problem is
unchanged by translating ``Z`` and ``z`` together, so the system is formed about the neighbours' mean (better
conditioned). When the neighbours are affinely dependent (``k > D + 1`` or duplicated neighbours) the system is
singular; ``ridge * trace(Z^T Z) / k`` is then added to the diagonal of ``Z^T Z`` (as LLE does) and the result
is flagged ``regularised``. With ``lol=True`` the weights go through LOL (arXiv 2408.08558) instead, so
``z_hat`` stays typical for the prior.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .combine import lol_combine
from .device import as_tensor
from .priors import Prior, StandardNormal


@dataclass
class Reconstruction:
    weights: torch.Tensor         # [B, k], each row sums to 1
    indices: torch.Tensor         # [B, k] rows of the bank, nearest first
    reconstruction: torch.Tensor  # [B, *shape]
    residual: torch.Tensor        # [B]: ||z_hat - z||
    regularised: torch.Tensor     # [B] bool: the system was singular and was regularised


def knn_affine(target, bank, k: int, lol: bool = False, prior: Prior | None = None,
               ridge: float = 1e-3) -> Reconstruction:
    """Affine reconstruction of ``target`` (``[*shape]`` or ``[B, *shape]``) from its ``k`` nearest latents in
    ``bank [N, *shape]``. A single target gives results without the batch dimension."""
    bank = as_tensor(bank)
    target = as_tensor(target, device=bank.device).to(bank.dtype)
    prior = prior or StandardNormal(bank.shape[1:])
    bank_flat, bank_batch = prior.flatten(bank)
    flat, batch = prior.flatten(target)
    if len(bank_batch) != 1 or len(batch) > 1:
        raise ValueError(f"bank must be [N, *shape] and target [*shape] or [B, *shape]; got {tuple(bank.shape)} "
                         f"and {tuple(target.shape)}")
    n = bank_flat.shape[0]
    if not 1 <= int(k) <= n:
        raise ValueError(f"k must be between 1 and the bank size {n}, got {k}")
    for name, x in (("target", flat), ("bank", bank_flat)):
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} contains NaN or Inf")
    k = int(k)

    indices = torch.cdist(flat, bank_flat).topk(k, dim=1, largest=False).indices          # [B, k]
    z = bank_flat[indices].double()                                                      # [B, k, D]
    zt = flat.double()
    origin = z.mean(1, keepdim=True)
    z, zt = z - origin, zt - origin[:, 0]
    gram = z @ z.transpose(1, 2)                                                         # Z^T Z, [B, k, k]
    rhs_top = (z @ zt[:, :, None])[..., 0]                                               # Z^T z, [B, k]

    def solve(g):
        b = g.shape[0]
        kkt = torch.zeros(b, k + 1, k + 1, dtype=g.dtype, device=g.device)
        kkt[:, :k, :k] = 2.0 * g
        kkt[:, :k, k] = 1.0
        kkt[:, k, :k] = 1.0
        rhs = torch.cat([2.0 * rhs_top, torch.ones(b, 1, dtype=g.dtype, device=g.device)], dim=1)
        return kkt, rhs

    kkt, rhs = solve(gram)
    # Affinely dependent neighbours make the KKT matrix singular: test its conditioning, regularise those.
    sv = torch.linalg.svdvals(kkt)
    singular = sv[:, -1] <= 1e-10 * sv[:, 0]
    if bool(singular.any()):
        scale = gram.diagonal(dim1=1, dim2=2).sum(1).clamp_min(1e-300) / k
        eye = torch.eye(k, dtype=gram.dtype, device=gram.device)
        gram = gram + torch.where(singular, ridge * scale, torch.zeros_like(scale))[:, None, None] * eye
        kkt, rhs = solve(gram)
    weights = torch.linalg.solve(kkt, rhs)[:, :k]

    neighbours = bank_flat[indices]
    if lol:
        recon = torch.stack([lol_combine(nb.reshape(k, *prior.shape), w, prior).reshape(-1)
                             for nb, w in zip(neighbours, weights.to(bank.dtype))])
    else:
        recon = (weights.to(bank.dtype)[:, None, :] @ neighbours)[:, 0]
    residual = torch.linalg.vector_norm(recon - flat, dim=1)
    out = Reconstruction(weights.to(bank.dtype), indices, recon.reshape(-1, *prior.shape), residual, singular)
    if not batch:
        return Reconstruction(*(getattr(out, f)[0] for f in ("weights", "indices", "reconstruction", "residual",
                                                              "regularised")))
    return out
