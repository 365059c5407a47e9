"""What the entries of the scheme and centroid registries share: fixed options for each context of use.

``interactive``: the app's pages, where a person waits (e.g. iteration caps); ``evaluation``: the comparison of
schemes in :mod:`latentcore.evaluate` (the published settings where there are some); None: the library's own
defaults.
"""

from __future__ import annotations

#: The contexts of use that entries carry fixed options for (a field of each entry by that name).
CONTEXTS = ("interactive", "evaluation")


def context_options(entry, context: str | None) -> dict:
    """A copy of ``entry.interactive`` or ``entry.evaluation`` (empty for ``context=None``)."""
    if context is None:
        return {}
    if context not in CONTEXTS:
        raise ValueError(f"context must be one of {', '.join(CONTEXTS)} or None, got {context!r}")
    return dict(getattr(entry, context))
