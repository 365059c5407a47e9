import pandas as pd
import streamlit as st

import latentcore as lc
import ui
from ui import plots
from ui.schemas import within
from latentcore.playground import ALPHA

PATH_INDEX_HELP = ("The realisticity index of a whole path (Struski et al., Definition 2): exp(-sum of -log ri along "
                   "the path times each step's length); 1 only for a path through points of index 1")
BUDGET_S = 20.0  # 2-D paths take well under a second; the bound is for a machine under heavy load
OFF_SUPPORT = 0.01  # an endpoint whose realisticity index is below this lies where the prior has (almost) no density

@st.cache_resource(show_spinner="Fitting the prior ...")
def playground_prior(name: str):
    prior = lc.make_prior(name, 2)
    xlim, ylim = lc.view_box(prior)
    start, end = (tuple(round(float(v), 2) for v in p) for p in lc.default_endpoints(prior))
    return prior, (xlim, ylim), lc.density_grid(prior, xlim, ylim), {"start": start, "end": end}


@st.cache_data(max_entries=64, show_spinner="Optimising the ri-optimal path ...")
def paths_between(name: str, start: tuple[float, float], end: tuple[float, float], alpha: float, frames: int):
    paths = lc.playground_paths(playground_prior(name)[0], start, end, frames=frames, alpha=alpha,
                                budget_s=BUDGET_S)
    return {lc.SCHEMES[k].label: {"path": p.path.numpy(), "point_index": p.point_index.numpy(), "index": p.index,
                        "length": p.length} for k, p in paths.items()}


def place_clicked_point():
    """A click on the density plot moves the endpoint chosen in 'A click places', then the other one is next."""
    points = st.session_state["playground.click"].selection.points
    if points:
        which = st.session_state["playground.next"]
        st.session_state[f"playground.{which.lower()}_x"] = round(float(points[0]["x"]), 2)
        st.session_state[f"playground.{which.lower()}_y"] = round(float(points[0]["y"]), 2)
        st.session_state["playground.next"] = "End" if which == "Start" else "Start"


def endpoints_to_defaults():
    """Both endpoints at the prior's own (two likely points far apart)."""
    defaults = playground_prior(st.session_state["playground.prior"])[3]
    for which in ("start", "end"):
        st.session_state[f"playground.{which}_x"], st.session_state[f"playground.{which}_y"] = defaults[which]


def keep_endpoints_on_the_map():
    """After the prior changes: an endpoint outside the new prior's map goes to that prior's default."""
    _, (xlim, ylim), _, defaults = playground_prior(st.session_state["playground.prior"])
    for which in ("start", "end"):
        x, y = (st.session_state.get(f"playground.{which}_{axis}") for axis in "xy")
        if x is None or y is None or not (xlim[0] <= x <= xlim[1] and ylim[0] <= y <= ylim[1]):
            st.session_state[f"playground.{which}_x"], st.session_state[f"playground.{which}_y"] = defaults[which]


with ui.page("Geometry playground") as (name, model, decoding):
    st.markdown("Two-dimensional priors where the geometry is visible. Place two endpoints (click on the plot or "
                "type them) and compare the paths: each scheme's points are coloured lines over the density. The "
                "realisticity index of a point (Struski et al., \"Interpolation in generative models\") is the share "
                "of the prior's samples less likely than it: near 0 where the prior rarely goes, 1 at its densest.")
    controls, view = st.columns([1, 3])
    with controls:
        priors = lc.playground_priors()
        prior_name = st.selectbox("Prior", priors, format_func=lambda p: lc.PRIORS[p].label,
                                  key=ui.remember("playground.prior", lc.PRIORS.default_selection()[0], options=priors),
                                  on_change=keep_endpoints_on_the_map)
        prior, (xlim, ylim), (xs, ys, density), defaults = playground_prior(prior_name)
        st.radio("A click places", ["Start", "End"], horizontal=True,
                 key=ui.remember("playground.next", "Start", options=["Start", "End"]))
        point, off_map = {}, False
        for which in ("start", "end"):  # on the map: what the page draws (a workspace's endpoint may be anywhere)
            point[which] = tuple(
                ui.number_field(f"{which} {label}", f"playground.{which}_{axis}", default, low, high, whole=False,
                                step=0.1, fmt="%.2f", why_high="the map's edge", check=within(low, high, "the map"),
                                where=column)[0]  # a number off the map: None, and said under its field
                for column, label, axis, (low, high), default in zip(st.columns(2), ("x1", "x2"), "xy",
                                                                     (xlim, ylim), defaults[which]))
            off_map = off_map or None in point[which]
        alpha = st.slider(ALPHA.label, ALPHA.low, ALPHA.high, step=ALPHA.step, help=ALPHA.help,
                          key=ui.remember("playground.alpha", ALPHA.default, bounds=(ALPHA.low, ALPHA.high)))
        frames = st.slider("Points per path", 8, 48, step=4, key=ui.remember("playground.frames", 24, bounds=(8, 48)))
    if off_map:
        st.info("The paths are drawn once both endpoints are on the map.")
        ui.stop()
    if point["start"] == point["end"]:
        st.info("Start and end are the same point: move one of them.")
        ui.stop()
    paths = paths_between(prior_name, point["start"], point["end"], alpha, frames)
    ends = next(iter(paths.values()))["point_index"][[0, -1]]  # every path has the same endpoints
    off = [which for which, index in zip(("start", "end"), ends.tolist()) if index < OFF_SUPPORT]
    with view:
        if off:
            st.warning(f"The {' and the '.join(off)} {'lie' if len(off) == 2 else 'lies'} where the "
                       f"{lc.PRIORS[prior_name].label} prior has almost no density (realisticity index below "
                       f"{OFF_SUPPORT:g}), so every path scores about 0 there. Click on the blue region of the map "
                       f"to move {'them' if len(off) == 2 else 'it'}, or:", icon=":material/location_off:")
            st.button("Put both endpoints at this prior's defaults", on_click=endpoints_to_defaults)
        st.plotly_chart(plots.playground_figure(xs.numpy(), ys.numpy(), density.numpy(),
                                                {k: v["path"] for k, v in paths.items()},
                                                point["start"], point["end"]),
                        key="playground.click", on_select=place_clicked_point, selection_mode="points",
                        width="stretch")
    st.plotly_chart(plots.along_path_figure({k: v["point_index"] for k, v in paths.items()},
                                            "Realisticity index along each path", "ri"), width="stretch")
    ui.table(pd.DataFrame({"path": list(paths), "path index": [v["index"] for v in paths.values()],
                           "lowest point index": [float(v["point_index"].min()) for v in paths.values()],
                           "length": [v["length"] for v in paths.values()]}), {},
             helps={"path index": PATH_INDEX_HELP, "lowest point index": "The smallest realisticity index of a point "
                    "on the path", "length": "The path's length in the plane"})
    st.markdown(
        "**What to notice.** The straight line is the shortest path, yet between two points of the semicircle or "
        "the ring it crosses the empty middle, where the realisticity index drops to ~0: those images would be "
        "unrealistic. SLERP bends about the *origin*, which is not where this density lives; when the endpoints "
        "lie on nearly opposite sides of the origin with different norms its coefficients `1/sin W` blow up and it "
        "swings far out. LOL rescales the straight line to a typical norm, which helps for Gaussians but not for "
        "these shapes. The ri-optimal path (Struski et al., Eq. 3) trades length for realism and follows the ridge; "
        "lower **alpha** makes every step cost more, so the path cuts corners. Eq. 3 prices each step by the index "
        "at its two ends, not by how the points are spaced: the optimised points gather where the index is highest "
        "and leave a few long straight steps between (on the ring, next to the endpoints), which makes the path "
        "look jagged. More points per path shorten those steps, at the price of a longer optimisation.")
