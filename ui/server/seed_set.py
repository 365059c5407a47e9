"""Seed sets: named seed latents of one model, the starting points of every path, subspace and centroid.

A seed set's names are distinct, one per latent. Latents are kept detached, on the CPU, in float32: the set is
saved in workspaces and shown across pages, so it holds no autograd graph and no GPU memory. A set holds at most
:data:`ui.server.limits.MAX_SEEDS` seeds (4096 unless the server sets another limit).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import torch

from . import limits

_VERSIONS = itertools.count()  # one counter for every set, so that a replaced set never repeats a version


class SeedSetFull(ValueError):
    """Adding these seeds would take the set past :data:`ui.server.limits.MAX_SEEDS`; the message says how many
    fit."""


@dataclass(eq=False)
class SeedSet:
    """Seed latents ``[N, *shape]`` (``None`` while the set is empty) and their ``N`` distinct names.

    Every change replaces ``latents`` and ``names`` instead of editing them in place, so a caller holding the old
    values (a download being prepared, say) keeps them, and gives the set a new :attr:`version`.
    """

    latents: torch.Tensor | None = None
    names: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.names = list(self.names)
        if not all(isinstance(n, str) for n in self.names) or len(set(self.names)) < len(self.names):
            raise ValueError("the seed names are not a list of distinct strings")
        if self.latents is not None:
            self.latents = _stored(self.latents)
        count = 0 if self.latents is None else len(self.latents)
        if len(self.names) != count:
            raise ValueError(f"{len(self.names)} names for {count} seeds; give one name per seed")
        if count == 0:
            self.latents = None

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if name in ("latents", "names"):
            super().__setattr__("_version", next(_VERSIONS))

    @property
    def version(self) -> int:
        """A number that changes with every change of the set and is never given to another set of this process:
        an unchanged version means unchanged seeds, told without reading them (e.g. to skip saving a workspace)."""
        return self._version

    def __len__(self) -> int:
        return len(self.names)

    def room(self) -> int:
        """How many more seeds the set takes before it reaches :data:`ui.server.limits.MAX_SEEDS`."""
        return max(0, limits.MAX_SEEDS - len(self))

    def add(self, latents: torch.Tensor, names: list[str]) -> list[str]:
        """Append ``latents [M, *shape]`` under ``names``; a taken name becomes ``"x (2)"``, ``"x (3)"``, ...
        Returns the names given. :class:`SeedSetFull` when the set would hold more than
        :data:`ui.server.limits.MAX_SEEDS` seeds (nothing is added then)."""
        if len(latents) > self.room():
            raise SeedSetFull(f"The seed set holds {len(self)} seeds and a set holds at most {limits.MAX_SEEDS}, so "
                              f"these {len(latents)} do not fit (room for {self.room()}); delete seeds on the Seeds "
                              "page first")
        latents = _stored(latents)
        if len(names) != len(latents):
            raise ValueError(f"{len(names)} names for {len(latents)} seeds; give one name per seed")
        if self.latents is not None and latents.shape[1:] != self.latents.shape[1:]:
            raise ValueError(f"latents of shape {tuple(latents.shape[1:])} do not fit this set's "
                             f"{tuple(self.latents.shape[1:])}")
        taken = set(self.names)
        unique = []
        for name in names:
            base, k = name, 2
            while name in taken:
                name, k = f"{base} ({k})", k + 1
            taken.add(name)
            unique.append(name)
        self.latents = latents if self.latents is None else torch.cat([self.latents, latents])
        self.names = self.names + unique
        return unique

    def add_new(self, latents: torch.Tensor, names: list[str]) -> tuple[list[str], list[str]]:
        """:meth:`add` the latents of ``latents [M, *shape]`` that are not in the set already (a seed with exactly
        their values, e.g. the same prior sample drawn again), under their ``names``. Returns the names given to those
        added and the names of the seeds already holding the others, so that the caller can say so instead of adding
        copies named ``"x (2)"``, ``"x (3)"``."""
        latents = _stored(latents)
        if len(names) != len(latents):
            raise ValueError(f"{len(names)} names for {len(latents)} seeds; give one name per seed")
        found = self.find(latents)
        fresh = [i for i, name in enumerate(found) if name is None]
        given = self.add(latents[fresh], [names[i] for i in fresh]) if fresh else []
        return given, [name for name in found if name is not None]

    def find(self, latents: torch.Tensor) -> list[str | None]:
        """For each latent of ``latents [M, *shape]`` (as the set keeps it: float32), the name of a seed with exactly
        its values, or None."""
        latents = _stored(latents)
        if self.latents is None or latents.shape[1:] != self.latents.shape[1:]:
            return [None] * len(latents)
        mine, theirs = self.latents.flatten(1), latents.flatten(1)
        candidates = mine[:, None, 0] == theirs[None, :, 0]  # [N, M]: equal first elements, checked in full below
        return [next((self.names[i] for i in candidates[:, j].nonzero().flatten().tolist()
                      if torch.equal(mine[i], theirs[j])), None) for j in range(len(theirs))]

    def rename(self, old: str, new: str) -> str:
        """Rename seed ``old`` to ``new`` (surrounding spaces dropped) and return the new name; ``ValueError``, with
        a message for the user, when ``new`` is empty or another seed's name."""
        index = self.index(old)
        new = new.strip()
        if not new:
            raise ValueError("A name cannot be empty.")
        if new != old and new in self.names:
            raise ValueError(f"Another seed is already called {new!r}.")
        self.names = self.names[:index] + [new] + self.names[index + 1:]
        return new

    def keep(self, indices: list[int]) -> None:
        """Keep only the seeds at ``indices``, in that order."""
        indices = list(indices)
        self.names = [self.names[i] for i in indices]
        self.latents = self.latents[indices] if indices else None

    def remove(self, names) -> None:
        """Delete the seeds called ``names``; names not in the set are ignored."""
        gone = set(names)
        self.keep([i for i, n in enumerate(self.names) if n not in gone])

    def index(self, name: str) -> int:
        """The row of seed ``name`` in ``latents``; ``KeyError`` when there is none."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no seed is called {name!r}") from None

    def select(self, names) -> torch.Tensor:
        """The latents of the seeds called ``names``, in that order: ``[len(names), *shape]``."""
        return self.latents[[self.index(n) for n in names]]


def _stored(latents: torch.Tensor) -> torch.Tensor:
    latents = latents.detach().to("cpu", torch.float32)
    if latents.dim() < 2:
        raise ValueError(f"seed latents must be a batch [N, *shape], not a tensor of shape {tuple(latents.shape)}")
    return latents
