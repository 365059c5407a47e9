"""Widgets for the settings of registry entries, made from what each entry declares: a scheme's settings
(:attr:`latentcore.interpolate.Scheme.settings`) and a model's conditions (:class:`latentcore.models.Condition`),
each remembered in the workspace."""

from __future__ import annotations

import math

import streamlit as st

import latentcore.models as models

from .state import remember
from .text import plain

# The largest whole number a browser's numbers hold exactly (JavaScript's Number.MAX_SAFE_INTEGER): past it the field
# would show one number and send another, so no whole-number field goes past it.
BROWSER_MAX_WHOLE = 2**53 - 1


def scheme_settings(scheme, key: str) -> dict:
    """Widgets for the settings a user may choose of one registered scheme (its ``settings``), in one row with what
    they change under them; their values by name. ``key``: the prefix of the widgets' remembered keys."""
    if not scheme.settings:
        return {}
    chosen = {}
    for column, setting in zip(st.columns(len(scheme.settings)), scheme.settings):
        widget_key = f"{key}.{setting.name}"
        if setting.choices is not None:
            chosen[setting.name] = column.selectbox(
                f"{scheme.label}: {setting.label}", setting.choices, format_func=setting.label_of,
                key=remember(widget_key, setting.default, options=setting.choices))
        else:
            chosen[setting.name] = column.slider(
                f"{scheme.label}: {setting.label}", setting.low, setting.high, step=setting.step,
                key=remember(widget_key, setting.default, bounds=(setting.low, setting.high)))
        column.caption(setting.help)
    return chosen


def condition_widget(model_name: str, condition: models.Condition, *, shared: bool):
    """The widget of one condition of the model's decoder, remembered per model: a selectbox for choices, a text
    field for text, a slider for a number with both bounds, else a number field (:func:`number_field`; a number it
    does not take is said under it, and the condition's default used meanwhile). ``shared=False`` for a model from
    a folder, whose path must not go into the workspace."""
    # a plug-in's words: plain text (labels and help render Markdown)
    label, hint = plain(condition.name.replace("_", " ").capitalize()), plain(condition.help) or None
    number = condition.type is not str
    cast = condition.type if number else None
    low, high = (None if b is None else cast(b) for b in (condition.low, condition.high))
    name = f"condition.{model_name if shared else 'folder'}.{condition.name}"
    if number and condition.choices is None and (low is None or high is None):  # a number field: it says what fits
        value, problem = number_field(label, name, condition.default, -math.inf if low is None else low,
                                      math.inf if high is None else high, whole=condition.type is int,
                                      fmt=None if condition.type is int else "%s", help=hint, shared=shared, say=False)
        if problem:  # the decoder needs a value: its default, said so beside the field
            st.warning(f"{problem} Meanwhile the default, {plain(condition.default)}, is used.")
            return condition.default
        return value
    key = remember(name, condition.default, options=condition.choices, shared=shared,
                   bounds=(-math.inf if low is None else low, math.inf if high is None else high) if number else None)
    if condition.choices is not None:
        return st.selectbox(label, condition.choices, key=key, help=hint)
    if not number:
        return st.text_input(label, key=key, help=hint)
    return st.slider(label, low, high, step=1 if condition.type is int else None, key=key, help=hint)


def number_field(label: str, key: str, default, low: float, high: float, *, whole: bool = True,
                 step: float | None = None, fmt: str | None = None, why_high: str = "", help: str | None = None,
                 what: str | None = None, shared: bool = True, check=None, where=st, say: bool = True):
    """A number field from ``low`` to ``high`` whose every entry reaches the page, remembered under ``key`` (see
    :func:`ui.state.remember`; ``check`` as there). Returns ``(value, problem)``: the value (an int when ``whole``)
    and None, or None and a sentence saying what was entered, what is wrong with it and what is accepted, shown under
    the field in ``where`` unless ``say`` is False (then the caller shows it, e.g. beside the button it holds back).

    The field itself declares no bounds: Streamlit's field would refuse a number past them in the browser, saying so
    only in a tooltip while it keeps showing the number and the page goes on with the last one it accepted. Whole
    numbers stop at :data:`BROWSER_MAX_WHOLE`; ``why_high`` says why ``high`` is the most (e.g. "the most one Sample
    adds"). ``what`` names the number in the sentence (default the label)."""
    if whole:
        low, high = max(low, -BROWSER_MAX_WHOLE), min(high, BROWSER_MAX_WHOLE)
    what = what or label
    accepted = f"enter {'a whole number' if whole else 'a number'}" + (
        f" from {_number(low)} to {_number(high)}" if math.isfinite(low) and math.isfinite(high) else
        f" of at least {_number(low)}" if math.isfinite(low) else
        f" of at most {_number(high)}" if math.isfinite(high) else "")
    fits = check or (lambda v: None if low <= v <= high and (not whole or float(v).is_integer()) else
                     "not a whole number" if low <= v <= high else accepted.replace("enter ", "not "))
    key = remember(key, float(default) if not whole else default, shared=shared, check=fits)
    # a float field: a typed 3.7 reaches the page as 3.7 (a whole-number field would cut it to 3 in the browser)
    value = where.number_input(label, step=float(step or (1 if whole else 0.01)),
                               format=fmt or ("%s" if whole else "%.2f"), key=key, help=help)
    problem = None
    if value is None:
        problem = f"{what}: the field is empty; {accepted}."
    elif whole and not float(value).is_integer():
        problem = f"{what}: {_number(value)} is not a whole number; {accepted}."
    elif value > high:
        problem = (f"{what}: {_number(value)} is more than {_number(high)}"
                   f"{f', {why_high}' if why_high else ', the most it takes'}; {accepted}.")
    elif value < low:
        problem = f"{what}: {_number(value)} is less than {_number(low)}, the least it takes; {accepted}."
    if problem is not None:
        if say:
            where.warning(problem)
        return None, problem
    return (int(value) if whole else float(value)), None


def _number(value) -> str:
    """A number as a person writes it: whole numbers in full (up to 10^16), others to 6 significant digits."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return f"{value:.6g}"
