"""Widget state of a session: :func:`remember` keeps a widget's value in the session's workspace (read and written
by :mod:`ui.workspace`), and named accessors hold what one page leaves for another (never a raw session key that
two pages must spell alike). The bottom of ``ui``: it imports nothing else of it but :mod:`ui.text`."""

from __future__ import annotations

import math
import numbers

import streamlit as st

from latentcore.registry import current_names, former_names

from .text import plain

PRECISION_KEY = "precision"  # the sidebar's precision widget


def remember(key: str, default, options=None, bounds: tuple[float, float] | None = None, *,
             shared: bool = True, check=None, least: int = 1) -> str:
    """Use as a widget's ``key``: its value is kept in the workspace and comes back after a reload, a page switch
    or a server restart. ``options`` (for select widgets) and ``bounds`` (for sliders) drop restored values that
    no longer fit, such as a deleted seed's name. The widget itself must not be given a default value. A restored
    selection (a list) that loses values so and keeps fewer than ``least`` (e.g. the seeds of another model, after a
    model switch) becomes the default, as on a page opened afresh; one the user emptied stays empty.

    A value restored from the workspace must also be of the default's type (a bool, a whole number, a finite
    number, a string, a list of the default's element type) and pass ``check`` (a function saying why a value does
    not fit, or ``None`` when it does: what the default's type cannot say, such as a number that must lie on a map);
    one that is not is dropped and the default used, with a message where the widget goes (a shared workspace may
    hold anything). A default of ``None`` says nothing of the type, so such a setting must have a ``check`` (e.g.
    the JSON schema of :func:`ui.schemas.evaluation_misfit`). Opening a workspace checks every setting's schema
    first (:mod:`ui.schemas`).

    ``shared=False``: kept across page switches of this session only, never written to or read from a workspace
    (e.g. a folder on the server, which a shared link must not make the server open).

    A workspace saved before a registry entry was renamed (:attr:`latentcore.registry.Entry.formerly`, e.g. the
    scheme ``geodesic``, now ``ri-optimal``) still fits: a restored name that is no longer an option becomes the
    entry's name now where that is one, and a setting saved under a key that names the entry (such as
    ``interpolate.geodesic.alpha``) moves to the key with its name now. This is the one place that reads saved
    selections, so no page names old entries."""
    if default is None and check is None:
        raise TypeError(f"the setting {key} has the default None, which says nothing of its type: give a check")
    state = st.session_state
    if shared:
        state.setdefault("remembered", {})[key] = default
    else:
        state.setdefault("session_only", set()).add(key)
    saved = state.get("settings", {}) if shared else {}
    if key not in saved and key not in state and (old := _former_key(key, saved)) is not None:
        saved[key] = saved.pop(old)  # moved, so that the old key cannot come back once this one is at its default
    if key in state:
        value = state[key]
    elif key in saved and (why := misfit(saved[key], default) or (check and check(saved[key]))):
        st.warning(plain(f"Left out of the workspace, as it does not fit: the setting {key[:40]} ({why}); the "
                         f"default {str(default)[:40]} is used."))
        value = default
    else:
        value = saved.get(key, default)
    if options is not None:
        try:
            allowed = set(options)  # a set: a restored list may be long
        except TypeError:  # unhashable options
            allowed = list(options)
        if isinstance(default, list):
            renamed = [_renamed(v, allowed) for v in value] if isinstance(value, list) else None
            value = default if renamed is None else [v for v in renamed if _member(v, allowed)]
            if renamed is not None and len(value) < min(least, len(renamed)):  # what is left is not a selection
                value = [v for v in default if _member(v, allowed)]
        elif not _member(value := _renamed(value, allowed), allowed):
            value = default
    if bounds is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = min(max(value, bounds[0]), bounds[1])
    state[key] = value
    return key


def _renamed(value, allowed):
    """``value``, or, where it is not among ``allowed`` but was a registry entry's name, the entry's name now if
    that is among them."""
    if not isinstance(value, str) or _member(value, allowed):
        return value
    return next((name for name in current_names(value) if _member(name, allowed)), value)


def _former_key(key: str, saved) -> str | None:
    """The key in ``saved`` that ``key`` had while a registry entry it names (a dotted part) had a former name."""
    parts = key.split(".")
    for i, part in enumerate(parts):
        for old in former_names(part):
            candidate = ".".join([*parts[:i], old, *parts[i + 1:]])
            if candidate in saved:
                return candidate
    return None


def _member(value, allowed) -> bool:
    try:
        return value in allowed
    except TypeError:  # an unhashable value (a list where a name belongs) is in no set of options
        return False


def misfit(value, default) -> str | None:
    """Why a restored ``value`` is not of the type of ``default``, or ``None`` when it is."""
    if default is None:
        return None
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "not true or false"
    if isinstance(value, bool):  # JSON true is not a number here
        return "not a number"
    if isinstance(default, numbers.Integral):  # 8.0 is a whole number too: number fields give floats (ui.widgets)
        return None if isinstance(value, int) or (isinstance(value, float) and value.is_integer()) else \
            "not a whole number"
    if isinstance(default, numbers.Real):
        return None if isinstance(value, (int, float)) and math.isfinite(value) else "not a finite number"
    if isinstance(default, str):
        return None if isinstance(value, str) else "not text"
    if isinstance(default, list):
        if not isinstance(value, list):
            return "not a list"
        kinds = {type(v) for v in default} or {str, int, float}
        return None if all(type(v) in kinds for v in value) else "a list of the wrong kind of values"
    return None


def chosen_precision() -> str:
    """The precision chosen in the sidebar's Device panel (``"auto"`` until one is)."""
    return st.session_state.get(PRECISION_KEY, "auto")


def keep_last_paths(model_name: str, paths: dict) -> None:
    """The paths the Interpolate page drew last for ``model_name`` (label -> path), for Diagnostics to inspect."""
    st.session_state.setdefault("last_paths", {})[model_name] = paths


def last_paths(model_name: str) -> dict:
    """What :func:`keep_last_paths` kept for ``model_name`` in this session (empty when nothing)."""
    return st.session_state.get("last_paths", {}).get(model_name, {})
