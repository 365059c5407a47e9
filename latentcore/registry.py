"""The one registry mechanism: :class:`Registry` holds the entries of one family by name (interpolation schemes,
centroid schemes, prior families, models), each an :class:`Entry`; :class:`BaseScheme` is what interpolation and
centroid schemes share.

A name is registered once: registering it again is an error unless the caller asks to replace the entry, so two
parts of a program cannot silently take the same name. Each entry says whether it is in its registry's default
selection, so a page asks the registry what to preselect instead of naming entries.

An entry that is renamed keeps its old names in :attr:`Entry.formerly`. Lookups go by the name it has now only (one
name, one entry); what was saved under an old name (a workspace's selections and settings) is read through
:func:`current_names` and :func:`former_names`, which look in every registry.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, TypeVar

from .policy import context_options


@dataclass(frozen=True)
class Entry:
    """What a registry needs of an entry: its ``name`` (the key), whether it is ``in_default_selection`` (a page
    that offers the registry's entries preselects those; a choice of one takes the first) and the names it was
    registered under before (``formerly``), so that what was saved under them still finds it.

    Parameters
    ----------
    name
        The key of the entry in its registry.
    in_default_selection
        Whether pages that offer the registry's entries preselect this one. Default False.
    formerly
        Names the entry was registered under before (e.g. ``("geodesic",)``). Default ``()``.
    """

    #: The key of the entry in its registry.
    name: str
    #: Whether a page that offers the registry's entries preselects this one (a choice of one takes the first).
    in_default_selection: bool = field(default=False, kw_only=True)
    #: The names the entry was registered under before, which :func:`current_names` maps to :attr:`name`.
    formerly: tuple[str, ...] = field(default=(), kw_only=True)


#: The type of a registry's entries, :class:`Entry` or a subclass.
E = TypeVar("E", bound=Entry)


class Registry(Mapping[str, E]):
    """The entries of one family by name, in the order they were registered; read like a mapping.

    Parameters
    ----------
    family : str
        What one entry is, for messages, e.g. ``"interpolation scheme"``.
    """

    def __init__(self, family: str):
        self.family = family
        self._entries: dict[str, E] = {}
        self._renamed: dict[str, str] = {}  # a former name -> the name its entry has now
        _REGISTRIES.append(weakref.ref(self))

    def register(self, entry: E, *, replace: bool = False) -> E:
        """Add ``entry`` under its name and return it.

        Raises ValueError when the name is taken, unless ``replace`` is True (the entry then takes the place of
        the one registered before).

        Parameters
        ----------
        entry
            The entry; its ``name`` is the key, its ``formerly`` names map to it from now on.
        replace
            Replace an entry registered under the same name (its former names go with it). Default False.

        Returns
        -------
        Entry
            ``entry`` itself.

        Raises
        ------
        ValueError
            When the name is taken and ``replace`` is False, or when one of ``entry.formerly`` is a registered
            name or a former name of another entry.
        """
        if entry.name in self._entries and not replace:
            raise ValueError(f"the {self.family} {entry.name!r} is already registered; choose another name, or "
                             "pass replace=True to replace it")
        for old in entry.formerly:
            if old == entry.name or old in self._entries or self._renamed.get(old, entry.name) != entry.name:
                raise ValueError(f"{old!r} cannot be a former name of the {self.family} {entry.name!r}: it is a "
                                 "registered name or a former name of another entry")
        # the entry's former names are its own (a replaced entry's go); a name taken again is no former name
        self._renamed = {old: new for old, new in self._renamed.items() if new != entry.name and old != entry.name}
        self._entries[entry.name] = entry
        self._renamed.update(dict.fromkeys(entry.formerly, entry.name))
        return entry

    def unregister(self, name: str) -> E:
        """Remove the entry ``name`` and return it; KeyError when there is none.

        Its former names are forgotten with it.
        """
        entry = self._entries.pop(name)
        self._renamed = {old: new for old, new in self._renamed.items() if new != name}
        return entry

    def current_name(self, name: str) -> str | None:
        """The name the entry formerly called ``name`` has now (None when none was called that)."""
        return self._renamed.get(name)

    # The registries were dicts, and code written for them removes entries with del or pop.
    __delitem__ = unregister

    def pop(self, name: str, *default):
        """:meth:`unregister`, or ``default`` when given and there is no entry ``name`` (as ``dict.pop``)."""
        if default and name not in self._entries:
            return default[0]
        return self.unregister(name)

    def default_selection(self) -> list[str]:
        """The names of the entries with ``in_default_selection``, in registration order."""
        return [name for name, entry in self._entries.items() if entry.in_default_selection]

    def __getitem__(self, name: str) -> E:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.family!r}: {', '.join(self._entries)})"


_REGISTRIES: list[weakref.ref[Registry]] = []  # every registry (weakly: a test's own may go), for the functions below


def _registries() -> list[Registry]:
    return [registry for ref in list(_REGISTRIES) if (registry := ref()) is not None]


def current_names(name: str) -> list[str]:
    """The names that entries of any registry formerly called ``name`` have now (empty when none was), e.g.
    ``["ri-optimal"]`` for ``"geodesic"``."""
    return sorted({new for registry in _registries() if (new := registry.current_name(name)) is not None})


def former_names(name: str) -> list[str]:
    """The names that entries of any registry called ``name`` now had before (empty when none)."""
    return sorted({old for registry in _registries() if name in registry for old in registry[name].formerly})


@dataclass(frozen=True)
class BaseScheme(Entry):
    """What interpolation schemes (:class:`~latentcore.interpolate.Scheme`) and centroid schemes
    (:class:`~latentcore.combine.Centroid`) share: a ``label``, a ``description`` (precise: the formula and the paper)
    and a ``summary`` (one or two plain sentences for someone meeting the scheme first: what it does and what to look
    for; pages lead with it and keep the description for those who ask), whether the scheme is ``iterative`` (it
    optimises, reports progress, takes a time budget and a stop request, and returns a result with its
    ``stopping``), and the fixed options of each context of use, ``interactive`` (the app's pages) and
    ``evaluation`` (:mod:`latentcore.evaluate`).

    A subclass names the function that computes (:attr:`compute`) and the attribute of an iterative run's result
    that holds what it computed (:attr:`result_field`).

    Parameters
    ----------
    name
        The key in the scheme's registry (see :class:`Entry`, which also gives the keyword-only
        ``in_default_selection`` and ``formerly``).
    label
        The name pages show.
    description
        The precise description: the formula and the paper.
    summary
        One or two plain sentences for someone meeting the scheme first. Default ``""`` (pages then
        lead with ``description``).
    iterative
        Whether the scheme optimises: it then takes ``budget_s`` and ``should_stop`` and returns a
        result with its ``stopping``. Default False.
    interactive
        Fixed options for the app's pages. Default empty.
    evaluation
        Fixed options for :mod:`latentcore.evaluate`. Default empty.
    """

    #: The name pages show.
    label: str
    #: The precise description, with the formula and the paper.
    description: str
    #: One or two plain sentences for someone meeting the scheme first (if empty, pages lead with
    #: :attr:`description`).
    summary: str = field(default="", kw_only=True)
    #: Whether the scheme optimises (reports progress, takes a time budget and a stop request).
    iterative: bool = field(default=False, kw_only=True)
    #: Fixed options for the app's pages, where a person waits (e.g. an iteration cap).
    interactive: Mapping[str, Any] = field(default_factory=dict, kw_only=True)
    #: Fixed options for the comparison of schemes in :mod:`latentcore.evaluate`.
    evaluation: Mapping[str, Any] = field(default_factory=dict, kw_only=True)

    #: The attribute of an iterative run's result that holds what it computed (e.g. ``"path"``).
    result_field = ""

    @property
    def compute(self) -> Callable[..., Any]:
        """The function that computes the scheme's result."""
        raise NotImplementedError

    @property
    def lead(self) -> str:
        """The text a page leads with, :attr:`summary`, or :attr:`description` for an entry registered without
        one."""
        return self.summary or self.description

    def options(self, *, context: str | None = None) -> dict:
        """The fixed options of ``context`` (see :mod:`latentcore.policy`).

        Parameters
        ----------
        context
            ``"interactive"`` (:attr:`interactive`), ``"evaluation"`` (:attr:`evaluation`) or None (no fixed
            options). Default None.

        Returns
        -------
        dict
            A copy of the options, empty for ``context=None``.

        Raises
        ------
        ValueError
            When ``context`` is none of these.
        """
        return context_options(self, context)

    def run(self, *inputs, progress=None, budget_s: float | None = None, should_stop=None, **options):
        """``(result, stopping)``: :attr:`compute` of ``inputs`` with the run controls where it is iterative;
        closed-form schemes take no time to speak of, so they ignore the controls and give ``stopping`` None."""
        if not self.iterative:
            return self.compute(*inputs, progress=progress, **options), None
        result = self.compute(*inputs, progress=progress, budget_s=budget_s, should_stop=should_stop, **options)
        return getattr(result, self.result_field), result.stopping
