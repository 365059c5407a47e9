"""The seeds of an evaluation: the latents every scheme is measured on, and where they come from.

Sources (:data:`SOURCES`, or the caller's own latents):

- ``"prior"`` (the default: it needs nothing but the model): fresh samples of the model's prior drawn with the
  run's seed. They are what LOL's guarantee assumes (Bodin et al., arXiv 2408.08558).
- ``"data"``: encodings of real images (the held-out digits by default) by the model's encoder or inversion.
  Encoded data are not samples of the prior (often far from Gaussian after DDIM inversion), so normality fails for
  every scheme and LOL's guarantee does not hold.
- a tensor ``[N, *latent_shape]``: the caller's latents (the app's seed set), as given.

Units: ``pairs`` pairs (paths) and ``sets`` sets of ``K`` seeds, ``K`` drawn from :data:`SEEDS_PER_SET`. Where the
seeds have classes (the data's labels, the judge's labels of the decoded seeds, or the class condition's value),
each unit's seeds share one class, its class, and the classes are visited in a seeded random order, cycling
through all of them (a fresh order for pairs and for sets); without classes the seeds of a unit are drawn from all
of them and the units' class is -1. The seeds of one unit are distinct.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..models.data import digits

#: The named seed sources, samples of the model's prior and encodings of real images (module docstring).
SOURCES = ("prior", "data")
#: The fewest and the most seeds of a centroid set; each set's size is drawn between them, both included (and
#: at most its class's seeds).
SEEDS_PER_SET = (3, 5)
#: The class of seeds and units without classes.
NO_CLASS = -1


def check_digits(data=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``data = (images [N, C, H, W], labels [N])`` as float images and long labels on the CPU; default the
    held-out digits."""
    images, labels = digits("heldout") if data is None else data
    images, labels = torch.as_tensor(images, dtype=torch.float32), torch.as_tensor(labels).long().cpu()
    if images.dim() != 4 or labels.dim() != 1 or len(images) != len(labels) or len(labels) < 2:
        raise ValueError(f"data must be at least 2 images [N, C, H, W] and their labels [N], got shapes "
                         f"{tuple(images.shape)} and {tuple(labels.shape)}")
    if int(labels.min()) < 0:
        raise ValueError("labels must be classes 0, 1, 2, ... (whole numbers from 0)")
    return images, labels


@dataclass
class Seeds:
    """Indices into the pool of seeds of each unit's seeds, and the units' classes (:data:`NO_CLASS` without)."""

    pairs: torch.Tensor             # [P, 2]
    pair_classes: torch.Tensor      # [P]
    sets: list[torch.Tensor]        # S tensors [K]
    set_classes: torch.Tensor       # [S]

    def indices(self) -> torch.Tensor:
        """The distinct indices of all units' seeds, sorted ``[M]``."""
        return torch.unique(torch.cat([self.pairs.reshape(-1), *self.sets]))


def choose_seeds(labels: torch.Tensor | None, count: int, *, pairs: int, sets: int, generator: torch.Generator,
                 strict: bool = True) -> Seeds:
    """``pairs`` pairs and ``sets`` sets of the ``count`` seeds (module docstring), of one class each where
    ``labels [count]`` are given. A class needs 2 seeds, or :data:`SEEDS_PER_SET` ``[0]`` when ``sets`` is not
    0: with ``strict`` a class with fewer is an error (data chosen by the user); otherwise it is left out (classes
    found by a judge), and an error only when no class is left."""
    need = SEEDS_PER_SET[0] if sets else 2
    if labels is None:
        labels = torch.full((count,), NO_CLASS, dtype=torch.long)
    classes, counts = torch.unique(labels, return_counts=True)
    small = [(c, n) for c, n in zip(classes.tolist(), counts.tolist()) if n < need]
    if small and (strict or len(small) == len(classes)):
        c, n = small[0]
        what = "the seeds" if c == NO_CLASS else f"class {c}"
        raise ValueError(f"{what} has {n} seed(s); pairs need at least 2 of one class and centroid sets at least "
                         f"{SEEDS_PER_SET[0]}")
    classes = torch.tensor([c for c, n in zip(classes.tolist(), counts.tolist()) if n >= need], dtype=torch.long)
    members = {c: (labels == c).nonzero().squeeze(1) for c in classes.tolist()}

    def unit_classes(n: int) -> list[int]:
        order = classes[torch.randperm(len(classes), generator=generator)].tolist()
        return [order[k % len(order)] for k in range(n)]

    def draw(c: int, k: int) -> torch.Tensor:
        pool = members[c]
        return pool[torch.randperm(len(pool), generator=generator)[:k]]

    pair_classes = unit_classes(pairs)
    pair_idx = torch.stack([draw(c, 2) for c in pair_classes]) if pairs else torch.zeros(0, 2, dtype=torch.long)
    set_classes = unit_classes(sets)
    set_idx = []
    for c in set_classes:
        most = min(SEEDS_PER_SET[1], len(members[c]))
        k = int(torch.randint(SEEDS_PER_SET[0], most + 1, (1,), generator=generator))
        set_idx.append(draw(c, k))
    return Seeds(pair_idx, torch.tensor(pair_classes, dtype=torch.long), set_idx,
                 torch.tensor(set_classes, dtype=torch.long))
