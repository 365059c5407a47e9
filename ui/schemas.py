"""The schema of every setting a workspace carries, checked when a workspace opens (:func:`check_settings`, called
by :mod:`ui.workspace`), so that what a shared link or an upload holds reaches no page unless that page can show it.

Every setting a page keeps (:func:`ui.state.remember`) is a true-or-false, a number, a text or a list of these; a
setting of another shape (a dict, a list of lists), a whole number past what a float holds, a text longer than
:data:`ui.server.limits.MAX_SETTING_CHARS` or a list longer than a seed set is dropped on opening. Settings with a
schema of their own (:data:`SCHEMAS`) are checked by it instead: the result of a comparison (``compare.result``, a
JSON text that the Compare page draws) and the playground's endpoints (numbers the playground's map can hold). Each
page then checks its settings' types against their defaults when it runs (:func:`ui.state.misfit`), and its own
bounds (a playground endpoint on the map of the prior chosen).
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable

from latentcore.evaluate import HEADINGS, METRICS, TASKS, TIMINGS

from .server import limits

Check = Callable[[Any], "str | None"]  # why a value does not fit, or None when it does

MAX_KEY_CHARS = 2048  # a setting's name; the longest the app makes name up to 6 seed names (Subspace's sliders)
MAX_WHOLE = 2**63  # whole numbers past this are no widget's value (and some are past what a float holds)
# Far past the maps of the playground's priors (all within 13 of the origin); the page then checks the map of the
# prior chosen (ui.schemas.within). 1e308 would overflow float32, the playground's precision.
PLAYGROUND_REACH = 1000.0
MAX_RESULT_ROWS = 256  # rows of a comparison's table: one per task and scheme
MAX_RESULT_UNITS = 100_000  # its per-path and per-set rows


def _scalar_misfit(value) -> str | None:
    if value is None or isinstance(value, bool):  # None: no value; the page that has the setting says so
        return None
    if isinstance(value, int):
        return None if abs(value) < MAX_WHOLE else "a whole number too large"
    if isinstance(value, float):
        return None if math.isfinite(value) else "a number that is not finite"
    if isinstance(value, str):
        return None if len(value) <= limits.MAX_SETTING_CHARS else \
            f"a text of {len(value)} characters, more than the {limits.MAX_SETTING_CHARS} a setting holds"
    return "a record"


def any_setting_misfit(value) -> str | None:
    """Why ``value`` is not a true-or-false, a finite number, a text or a list of these (the shapes of
    :func:`ui.state.remember`'s defaults) within the limits, or ``None`` when it is."""
    if not isinstance(value, list):
        return _scalar_misfit(value)
    if len(value) > limits.MAX_SEEDS:
        return f"a list of {len(value)} values, more than the {limits.MAX_SEEDS} a setting holds"
    if any(isinstance(v, list) for v in value):
        return "a list of lists"
    return next((f"a list holding {why}" for why in map(_scalar_misfit, value) if why), None)


def playground_point_misfit(value) -> str | None:
    """Why ``value`` is not a coordinate the geometry playground can draw (a finite number within
    :data:`PLAYGROUND_REACH` of the origin), or ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "not a number"
    if not (math.isfinite(value) and -PLAYGROUND_REACH <= value <= PLAYGROUND_REACH):
        return f"outside -{PLAYGROUND_REACH:g} to {PLAYGROUND_REACH:g}, the most the playground draws"
    return None


def within(low: float, high: float, what: str) -> Check:
    """A check (for :func:`ui.state.remember`'s ``check``) that a number lies in ``[low, high]``; ``what`` names
    that range in the message, e.g. ``"the map"``."""
    def check(value) -> str | None:
        return None if low <= value <= high else f"outside {what}, {low:.2f} to {high:.2f}"
    return check


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON holds")


def evaluation_misfit(value) -> str | None:
    """Why ``value`` is not the JSON text of a comparison's result (:meth:`latentcore.evaluate.Evaluation.to_json`)
    that the Compare page can show, or ``None``: its settings with the run's sizes, a table with a row per task
    and scheme holding every metric and timing (a number, or null where it does not apply), per-unit rows of
    plain values, every text at most :data:`ui.server.limits.MAX_SETTING_CHARS` characters."""
    if not isinstance(value, str):
        return "not the text of a comparison"
    try:
        doc = json.loads(value, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return "not a comparison's JSON"
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), t) for k, t in
                                            (("settings", dict), ("table", list), ("units", list))):
        return "not a comparison's settings, table and units"
    why = _run_misfit(doc["settings"])
    if why is None and not 0 < len(doc["table"]) <= MAX_RESULT_ROWS:
        why = f"a table of {len(doc['table'])} rows, not 1 to {MAX_RESULT_ROWS}"
    if why is None and len(doc["units"]) > MAX_RESULT_UNITS:
        why = f"{len(doc['units'])} per-unit rows, more than {MAX_RESULT_UNITS}"
    numbers = [m + end for m in METRICS for end in ("", "_low", "_high")] + list(TIMINGS)
    for row in doc["table"] if why is None else ():
        if not isinstance(row, dict) or row.get("task") not in TASKS:
            why = f"a table row not of a task ({', '.join(TASKS)})"
        elif not all(isinstance(row.get(k), str) for k in ("scheme", "label")):
            why = "a table row without its scheme's name and label"
        elif not all(k in row and (row[k] is None or _number(row[k])) for k in numbers):
            why = "a table row whose figures are not numbers"
        else:
            why = _plain_values_misfit(row)
        if why:
            break
    for row in doc["units"] if why is None else ():
        why = _plain_values_misfit(row) if isinstance(row, dict) else "a per-unit row that is not a record"
        if why:
            break
    return why and f"a comparison's result: {why}"


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _plain_values_misfit(record: dict) -> str | None:
    """Why a record's keys and values are not short texts, numbers or nulls."""
    for key, value in record.items():
        if len(key) > limits.MAX_SETTING_CHARS or not (value is None or _number(value) or isinstance(value, str)):
            return "a value that is not a text or a number"
        if isinstance(value, str) and len(value) > limits.MAX_SETTING_CHARS:
            return f"a text longer than {limits.MAX_SETTING_CHARS} characters"
    return None


def _run_misfit(run: dict) -> str | None:
    """Why a comparison's settings are not those the Compare page shows."""
    if not isinstance(run.get("model"), str):
        return "no model name"
    if not all(_number(run.get(k)) and isinstance(run[k], int) and run[k] >= 0 for k in ("pairs", "centroid_sets",
                                                                                         "seed")):
        return "its pairs, centroid sets and seed are not whole numbers"
    if not _number(run.get("total_seconds")):
        return "its run time is not a number"
    if not all(run.get(k) is None or isinstance(run[k], str) for k in ("seeds", "classes", "judge",
                                                                     "frechet_reference", "scheduler")):
        return "its seeds, classes, judge or reference are not texts"
    if not (run.get("steps") is None or (_number(run["steps"]) and isinstance(run["steps"], int))):
        return "its sampler steps are not a whole number"
    for key, values in (("unavailable", HEADINGS), ("stopped_early", None), ("conditions", None)):
        found = run.get(key, {})
        if not isinstance(found, dict) or (values is not None and not set(found) <= set(values)):
            return f"its {key.replace('_', ' ')} is not a record of metrics" if values else \
                f"its {key.replace('_', ' ')} is not a record"
        why = _plain_values_misfit(found)
        if why:
            return why
    for key, value in run.items():  # the rest is shown nowhere but in the JSON download: short, plain values
        if key not in ("unavailable", "stopped_early", "conditions"):
            why = _nested_misfit(value) if isinstance(value, dict) else any_setting_misfit(value)
            if why:
                return f"its {key[:40]}: {why}"
    return None


def _nested_misfit(value, depth: int = 0) -> str | None:
    """Why a record of the run's options (scheme name -> option -> value) is not plain values, two levels deep."""
    if depth > 2:
        return "too deep"
    for inner in value.values():
        why = _nested_misfit(inner, depth + 1) if isinstance(inner, dict) else any_setting_misfit(inner)
        if why:
            return why
    return None


# Settings with a schema of their own, by name.
SCHEMAS: dict[str, Check] = {
    "compare.result": evaluation_misfit,
    **{f"playground.{end}_{axis}": playground_point_misfit for end in ("start", "end") for axis in "xy"},
}


def setting_misfit(key, value) -> str | None:
    """Why the setting ``key`` cannot hold ``value``: by its schema in :data:`SCHEMAS`, else as any setting
    (:func:`any_setting_misfit`); ``None`` when it fits."""
    if not isinstance(key, str) or len(key) > MAX_KEY_CHARS:
        return f"a setting's name longer than {MAX_KEY_CHARS} characters"
    return SCHEMAS.get(key, any_setting_misfit)(value)


def check_settings(settings: dict) -> list[str]:
    """Drop from ``settings`` (in place) each setting that does not fit its schema, and return what was dropped and
    why, as :attr:`ui.server.workspace.Workspace.dropped` lists it."""
    dropped = []
    for key in list(settings):
        why = setting_misfit(key, settings[key])
        if why:
            dropped.append(f"the setting {str(key)[:40]} ({why})")
            del settings[key]
    return dropped
