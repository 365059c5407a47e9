"""The seeds of an evaluation: which real digits every scheme is measured on.

- interpolation: ``pairs`` pairs of distinct digits of one class;
- centroid: ``sets`` sets of ``K`` distinct digits of one class, ``K`` drawn from :data:`SEEDS_PER_SET`.

The classes of the units are visited in a seeded random order, cycling through all of them (a fresh order for
pairs and for sets), and the digits of one unit are drawn without replacement. The digits are those of the
held-out split by default (:func:`check_digits`); the seeds are their encodings.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..models.data import digits

SEEDS_PER_SET = (3, 5)


def check_digits(data=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``data = (images [N, C, H, W], labels [N])`` as float images and long labels on the CPU; default the
    held-out digits. Labels must be digit classes 0 to 9 (the digits classifier's)."""
    images, labels = digits("heldout") if data is None else data
    images, labels = torch.as_tensor(images, dtype=torch.float32), torch.as_tensor(labels).long().cpu()
    if images.dim() != 4 or labels.dim() != 1 or len(images) != len(labels) or len(labels) < 2:
        raise ValueError(f"data must be at least 2 images [N, C, H, W] and their labels [N], got shapes "
                         f"{tuple(images.shape)} and {tuple(labels.shape)}")
    if int(labels.min()) < 0 or int(labels.max()) > 9:
        raise ValueError("labels must be digit classes 0 to 9 (the classifier's classes)")
    return images, labels


@dataclass
class Seeds:
    """Indices into the data of the digits each unit is made of, and the units' classes."""

    pairs: torch.Tensor             # [P, 2]
    pair_classes: torch.Tensor      # [P]
    sets: list[torch.Tensor]        # S tensors [K]
    set_classes: torch.Tensor       # [S]

    def indices(self) -> torch.Tensor:
        """The distinct indices of all units' digits, sorted ``[M]``."""
        return torch.unique(torch.cat([self.pairs.reshape(-1), *self.sets]))


def choose_seeds(labels: torch.Tensor, *, pairs: int, sets: int, generator: torch.Generator) -> Seeds:
    """``pairs`` pairs and ``sets`` sets of digits of one class (module docstring), given the digits' ``labels
    [N]``; every class present needs 2 digits, or :data:`SEEDS_PER_SET` ``[0]`` when ``sets`` is not 0."""
    classes, counts = torch.unique(labels, return_counts=True)
    need = SEEDS_PER_SET[0] if sets else 2
    for c, n in zip(classes.tolist(), counts.tolist()):
        if n < need:
            raise ValueError(f"class {c} has {n} digit(s) in the data; pairs need at least 2 digits of every class "
                             f"and centroid sets at least {SEEDS_PER_SET[0]}")
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
