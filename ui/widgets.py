"""Widgets for the settings of registry entries, made from what each entry declares: a scheme's settings
(:attr:`latentcore.interpolate.Scheme.settings`) and a model's conditions (:class:`latentcore.models.Condition`),
each remembered in the workspace."""

from __future__ import annotations

import math

import streamlit as st

import latentcore.models as models

from .state import remember
from .text import plain


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
    field for text, a slider for a number with both bounds, else a number field. ``shared=False`` for a model from
    a folder, whose path must not go into the workspace."""
    # a plug-in's words: plain text (labels and help render Markdown)
    label, hint = plain(condition.name.replace("_", " ").capitalize()), plain(condition.help) or None
    number = condition.type is not str
    cast = condition.type if number else None
    low, high = (None if b is None else cast(b) for b in (condition.low, condition.high))
    key = remember(f"condition.{model_name if shared else 'folder'}.{condition.name}", condition.default,
                   options=condition.choices, shared=shared,
                   bounds=(-math.inf if low is None else low, math.inf if high is None else high) if number else None)
    if condition.choices is not None:
        return st.selectbox(label, condition.choices, key=key, help=hint)
    if not number:
        return st.text_input(label, key=key, help=hint)
    step = 1 if condition.type is int else None
    if low is not None and high is not None:
        return st.slider(label, low, high, step=step, key=key, help=hint)
    return st.number_input(label, min_value=low, max_value=high, step=step, key=key, help=hint)
