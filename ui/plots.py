"""Plotly figure builders: arrays in, ``go.Figure`` out (no streamlit, no latent arithmetic beyond layout). Every
text a builder is given (titles, axis titles, trace names, point and category labels: seed names and a workspace's
results among them) is drawn as written: plotly renders a subset of HTML in them, links included, so each goes
through :func:`ui.text.plain_html` here, and callers pass plain text."""

from __future__ import annotations

import textwrap

import numpy as np
import plotly.graph_objects as go

from .text import plain_html

PALETTE = ["#2ca02c", "#1f77b4", "#d62728", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"]


# A chart title wraps beyond this many characters, at TITLE_PX: a chart in half the page at 1024 px (about 270 px
# wide) holds a line of that length (about 6.2 px a character in Source Sans, bold; the browser journey checks that
# every title lies within its chart at 1024 px), and wider charts do not wrap short titles early.
TITLE_CHARS, TITLE_PX = 40, 14


def _layout(fig: go.Figure, title: str, x: str, y: str, height: int = 320) -> go.Figure:
    lines = textwrap.wrap(title, TITLE_CHARS) or [""]
    fig.update_layout(title=dict(text="<br>".join(map(plain_html, lines)), font=dict(size=TITLE_PX)),
                      xaxis_title=plain_html(x), yaxis_title=plain_html(y),
                      height=height + 20 * (len(lines) - 1),
                      margin=dict(l=40, r=10, t=20 + 20 * len(lines), b=40), legend=dict(orientation="h", y=-0.25))
    return fig


def endpoint_plane_figure(coords: dict[str, np.ndarray]) -> go.Figure:
    """Each scheme's path ``[S, 2]`` in the endpoint plane (Struski et al., "Interpolation in generative models",
    Eq. 4): start (1, 0), end (0, 1)."""
    fig = go.Figure()
    for k, (name, xy) in enumerate(coords.items()):
        fig.add_trace(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="lines+markers", name=plain_html(name),
                                 line=dict(color=PALETTE[k % len(PALETTE)])))
    fig.add_trace(go.Scatter(x=[0], y=[0], mode="markers", name="origin", marker=dict(color="black", symbol="x")))
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return _layout(fig, "Endpoint plane (Struski et al.)", "start coordinate", "end coordinate", height=380)


def along_path_figure(values: dict[str, np.ndarray], title: str, y: str, band: tuple[float, float] | None = None,
                      log_y: bool = False, level: float | None = None) -> go.Figure:
    """One line per scheme of a quantity along the path; ``band`` shades a reference interval; ``log_y`` puts
    the y axis on a log scale ticked at powers of ten (p-values); ``level`` draws a test level as a line."""
    fig = go.Figure()
    for k, (name, v) in enumerate(values.items()):
        fig.add_trace(go.Scatter(y=v, mode="lines+markers", name=plain_html(name),
                                 line=dict(color=PALETTE[k % len(PALETTE)])))
    if band is not None:
        fig.add_hrect(y0=band[0], y1=band[1], fillcolor="grey", opacity=0.15, line_width=0,
                      annotation_text="typical", annotation_position="top left")
    if log_y:
        fig.update_yaxes(type="log", dtick=1, exponentformat="power", showexponent="all")
    if level is not None:  # named in the axis title: plotly misplaces a line's annotation on a log axis
        fig.add_hline(y=level, line_dash="dot", line_color="black")
        y = f"{y} (dotted: test level {level:g})"
    return _layout(fig, title, "frame", y)


def scatter_figure(points: np.ndarray, labels: list[str], current: np.ndarray | None = None,
                   title: str = "Coordinates", axes: tuple[str, str] = ("x", "y")) -> go.Figure:
    """Labelled points ``[N, 2]`` and an optional current point."""
    fig = go.Figure(go.Scatter(x=points[:, 0], y=points[:, 1], mode="markers+text", text=list(map(plain_html, labels)),
                               textposition="top center", name="seeds"))
    if current is not None:
        fig.add_trace(go.Scatter(x=[current[0]], y=[current[1]], mode="markers", name="current",
                                 marker=dict(size=14, symbol="star", color="#d62728")))
    return _layout(fig, title, *axes, height=380)


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) within ``[low, high]``, about ``count`` of them."""
    raw = (high - low) / count
    power = 10.0 ** np.floor(np.log10(raw))
    step = power * min((m for m in (1, 2, 5, 10) if m * power >= raw), default=10)
    return [float(t) + 0.0 for t in np.arange(np.ceil(low / step) * step, high + step * 1e-9, step)]  # no -0


def scatter_svg(points: np.ndarray, labels: list[str], current: np.ndarray | None = None,
                title: str = "Coordinates", axes: tuple[str, str] = ("x", "y"),
                bounds: tuple[tuple[float, float], tuple[float, float]] | None = None) -> str:
    """:func:`scatter_figure` as an SVG image (for ``st.image``): labelled points ``[N, 2]`` and the current point
    (a red star) in the box ``bounds`` ``((x0, x1), (y0, y1))`` (default: around the points). For a chart that
    every slider step draws again: a plotly chart took the browser's main thread ~70 ms per redraw on the 2-core
    machine (headless Chromium), and the image beside it showed only after that; this image ~6 ms, and ~0.1 ms to
    build instead of ~7 ms. Texts are escaped (:func:`ui.text.plain_html`); an SVG shown as an image runs no script
    and fetches nothing."""
    width, height, left, right, top, bottom = 600, 380, 56, 16, 36, 48
    ink = "#31333f"  # Streamlit's text colour, on white (an image does not take the page's theme)
    shown = points if current is None else np.vstack([points, np.asarray(current).reshape(1, 2)])
    if bounds is None:
        lo, hi = shown.min(0), shown.max(0)
        pad = np.where(hi > lo, 0.1 * (hi - lo), 1.0)
        bounds = ((lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1]))
    (x0, x1), (y0, y1) = ((float(a), float(b) if b > a else float(a) + 1.0) for a, b in bounds)

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (width - left - right)

    def py(y: float) -> float:
        return height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="Source Sans Pro, sans-serif" font-size="12" fill="{ink}">',
             f'<rect width="{width}" height="{height}" fill="#fff"/>',
             f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">'
             f'{plain_html(title)}</text>',
             f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{height - top - bottom}" '
             f'fill="none" stroke="{ink}" stroke-opacity="0.3"/>']
    for t in _ticks(x0, x1):
        parts.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{top}" y2="{height - bottom}" stroke="{ink}" '
                     f'stroke-opacity="0.1"/><text x="{px(t):.1f}" y="{height - bottom + 16}" '
                     f'text-anchor="middle">{t:g}</text>')
    for t in _ticks(y0, y1):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="{ink}" '
                     f'stroke-opacity="0.1"/><text x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
    parts.append(f'<text x="{(left + width - right) / 2}" y="{height - 10}" text-anchor="middle">'
                 f'{plain_html(axes[0])}</text>')
    parts.append(f'<text transform="translate(14 {(top + height - bottom) / 2}) rotate(-90)" text-anchor="middle">'
                 f'{plain_html(axes[1])}</text>')
    for (x, y), label in zip(points.tolist(), labels):
        parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="5" fill="{PALETTE[1]}"/><text x="{px(x):.1f}" '
                     f'y="{py(y) - 9:.1f}" text-anchor="middle">{plain_html(label)}</text>')
    if current is not None:
        cx, cy = px(float(current[0])), py(float(current[1]))
        star = " ".join(f"{cx + r * np.sin(k * np.pi / 5):.1f},{cy - r * np.cos(k * np.pi / 5):.1f}"
                        for k, r in zip(range(10), [9, 3.8] * 5))
        parts.append(f'<polygon points="{star}" fill="{PALETTE[2]}"/>')
    return "".join(parts) + "</svg>"


def histogram_figure(values: np.ndarray, density_x: np.ndarray, density_y: np.ndarray, title: str,
                     x: str, band: tuple[float, float] | None = None) -> go.Figure:
    """A normalised histogram with a reference density over it."""
    fig = go.Figure(go.Histogram(x=values, histnorm="probability density", name="values", nbinsx=40))
    fig.add_trace(go.Scatter(x=density_x, y=density_y, mode="lines", name="reference"))
    if band is not None:
        fig.add_vrect(x0=band[0], x1=band[1], fillcolor="grey", opacity=0.15, line_width=0)
    return _layout(fig, title, x, "density")


def qq_figure(theoretical: np.ndarray, observed: np.ndarray, title: str = "Q-Q plot against N(0, 1)") -> go.Figure:
    fig = go.Figure(go.Scatter(x=theoretical, y=observed, mode="markers", name="elements", marker=dict(size=4)))
    lo, hi = float(theoretical.min()), float(theoretical.max())
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="y = x"))
    return _layout(fig, title, "N(0, 1) quantile", "standardised element")


def chi2_figure(x: np.ndarray, y: np.ndarray, band: tuple[float, float], value: float) -> go.Figure:
    """The chi-square density of the squared norm, its central band, and one latent's squared norm."""
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines", name="chi-square density"))
    fig.add_vrect(x0=band[0], x1=band[1], fillcolor="grey", opacity=0.15, line_width=0, annotation_text="central 99%")
    fig.add_vline(x=value, line_color="#d62728", annotation_text="this latent")
    return _layout(fig, "Squared norm and its chi-square law", "squared norm", "density")


def playground_figure(xs: np.ndarray, ys: np.ndarray, density: np.ndarray, paths: dict[str, np.ndarray],
                      start: np.ndarray, end: np.ndarray, clickable: int = 50) -> go.Figure:
    """A 2-D prior's density as a heatmap, each scheme's path ``[S, 2]`` over it, and the endpoints.

    A faint ``clickable x clickable`` grid of markers lies over the heatmap: plotly reports clicks on markers,
    not on heatmap cells, so clicking near a point of the grid selects that point.
    """
    # the square root keeps the thin parts of the density visible beside its peaks
    fig = go.Figure(go.Heatmap(x=xs, y=ys, z=np.sqrt(density), colorscale="Blues", showscale=False,
                               hoverinfo="skip"))
    gx, gy = np.meshgrid(np.linspace(xs[0], xs[-1], clickable), np.linspace(ys[0], ys[-1], clickable))
    fig.add_trace(go.Scatter(x=gx.ravel(), y=gy.ravel(), mode="markers", name="click to place",
                             marker=dict(size=14, opacity=0.02, color="#1f77b4"), showlegend=False,
                             hovertemplate="(%{x:.2f}, %{y:.2f})<extra>click to place an endpoint</extra>"))
    for k, (name, xy) in enumerate(paths.items()):
        fig.add_trace(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="lines+markers", name=plain_html(name),
                                 marker=dict(size=4),
                                 line=dict(color=PALETTE[k % len(PALETTE)], width=2.5)))
    fig.add_trace(go.Scatter(x=[start[0], end[0]], y=[start[1], end[1]], mode="markers+text", name="endpoints",
                             text=["start", "end"], textposition="top center",
                             marker=dict(size=12, color="#ff7f0e", symbol="diamond")))
    # equal scales by shrinking the plot, not by widening a range past the density
    fig.update_xaxes(range=[float(xs[0]), float(xs[-1])], constrain="domain")
    fig.update_yaxes(range=[float(ys[0]), float(ys[-1])], scaleanchor="x", scaleratio=1, constrain="domain")
    # tall enough that a square map fills most of a wide column; the legend close under the x axis
    return _layout(fig, "Density of the prior and the paths", "x1", "x2", height=640).update_layout(
        legend=dict(y=-0.12))


def weights_figure(labels: list[str], weights: np.ndarray,
                   title: str = "Affine weights of the neighbours") -> go.Figure:
    """One bar per neighbour; the weights of an affine combination sum to 1 and may be negative."""
    colours = [PALETTE[1] if w >= 0 else PALETTE[2] for w in weights]
    fig = go.Figure(go.Bar(x=list(map(plain_html, labels)), y=weights, marker_color=colours,
                           text=[f"{w:.2f}" for w in weights],
                           textposition="outside"))
    fig.add_hline(y=0, line_color="black", line_width=1)
    return _layout(fig, title, "neighbour (nearest first)", "weight")


def metric_bars_figure(table, metric: str, title: str, y: str) -> go.Figure:
    """Bars of one metric per scheme, one colour per task, with asymmetric error bars to the interval bounds.

    ``table``: rows with ``task``, ``scheme``, ``metric``, ``metric_low`` and ``metric_high`` (a pandas frame, or
    anything whose ``to_dict("records")`` gives them; :attr:`latentcore.evaluate.Evaluation.table`). Rows where
    the metric does not apply (NaN, e.g. smoothness of a centroid) are left out.
    """
    fig = go.Figure()
    records = [r for r in table.to_dict("records") if np.isfinite(r[metric])]
    for k, task in enumerate(dict.fromkeys(r["task"] for r in records)):
        rows = [r for r in records if r["task"] == task]
        mean = np.array([r[metric] for r in rows], dtype=float)
        low = np.array([r[f"{metric}_low"] for r in rows], dtype=float)
        high = np.array([r[f"{metric}_high"] for r in rows], dtype=float)
        fig.add_trace(go.Bar(x=[plain_html(r["scheme"]) for r in rows], y=mean, name=plain_html(task),
                             marker_color=PALETTE[k % len(PALETTE)],
                             error_y=dict(type="data", symmetric=False, array=high - mean, arrayminus=mean - low)))
    fig.update_layout(barmode="group")
    return _layout(fig, title, "scheme", y)
