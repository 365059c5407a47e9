import streamlit as st
import torch

import latentcore as lc
import latentcore.models as models
import ui
from ui import plots
from latentcore.evaluate import HEADINGS, METRICS, TIMINGS, Evaluation, evaluable_models, evaluate

CHARTS = {**METRICS, **{t: "seconds per path (set)" for t in TIMINGS}}  # every metric and timing: what it is


@st.cache_data(show_spinner=False)
def comparable_models() -> list[str]:
    """The built-in models latentcore's evaluation can measure schemes on (:func:`evaluable_models`)."""
    return evaluable_models({n: ui.get_model(n) for n in models.available()})[0]


with ui.page("Compare schemes") as (name, model, decoding):
    st.markdown("Every scheme on the same seeds, with the same metrics: the LOL paper's tasks (interpolation between "
                "two digits of one class, centroids of 3 to 5) measured by class preservation, Frechet distance of "
                "the classifier's features to real digits, realisticity indices (Struski et al.), normality tests, "
                "smoothness and length in image space. Seeds are encodings of held-out digits (DDIM inversion for "
                "diffusion models, ODE inversion for flow matching); intervals are 95 %.")
    choices = comparable_models()
    left, middle, right = st.columns(3)
    model_name = left.selectbox("Model", choices, key=ui.remember(
        "compare.model", name if name in choices else choices[0], options=choices))
    pairs = middle.slider("Pairs of one class", 2, 32, key=ui.remember("compare.pairs", 8, bounds=(2, 32)))
    set_counts = [0, *range(2, 17)]
    sets = right.select_slider("Centroid sets (0: none)", set_counts,
                               key=ui.remember("compare.sets", 4, options=set_counts))
    compared = ui.get_model(model_name)
    offered, not_offered = lc.schemes_for(compared)
    # the scheme lists at the page's width: every chosen scheme's tag in view at 1024 px
    schemes = st.multiselect("Interpolation schemes", offered, format_func=lambda k: lc.SCHEMES[k].label,
                             key=ui.remember("compare.schemes", lc.SCHEMES.default_selection(), options=offered))
    for key, why in not_offered.items():
        st.caption(f"{lc.SCHEMES[key].label} is not offered for {model_name}: {why}.")
    centroid_schemes = st.multiselect(
        "Centroid schemes", list(lc.CENTROIDS), format_func=lambda k: lc.CENTROIDS[k].label,
        key=ui.remember("compare.centroids", lc.CENTROIDS.default_selection(), options=lc.CENTROIDS))
    seed = right.number_input("Random seed (which digits)", min_value=0, step=1,
                              key=ui.remember("compare.seed", 0, bounds=(0, 2**31)))
    st.caption("About 1 s for the defaults on digits-vae, 7 s on digits-ddim or digits-flow (2 CPU cores); NAO adds "
               "~0.5 s per path and ~0.1 s (VAE) to ~3 s (DDIM) per centroid; ri-optimal paths ~0.1 s per path on VAEs,"
               " while through a sampler (digits-ddim, digits-flow) they run until the time budget (sidebar) is spent.")

    if st.button("Run the comparison", type="primary"):
        chosen = dict(schemes=schemes, centroid_schemes=centroid_schemes, pairs=pairs, centroid_sets=sets,
                      seed=int(seed))
        ui.jobs.start("compare", ("compare", model_name, repr(sorted(chosen.items()))), f"Comparing on {model_name}",
                      lambda **controls: evaluate(compared, models.load_classifier(), **chosen, **controls))
    try:
        result = ui.jobs.ended("compare")
    except ValueError as err:
        ui.show_error(f"The comparison could not run: {err}.", err)
    else:
        if result is not None:
            st.session_state["compare.result"] = result.to_json()  # kept in the workspace
            st.session_state["compare.examples"] = result.examples

    saved = st.session_state.get(ui.remember("compare.result", None))
    if saved is None:
        st.info("Choose the model and schemes, then run the comparison.")
        ui.stop()
    result = Evaluation.from_json(saved)
    run = result.settings
    st.subheader(f"{run['model']}: {run['pairs']} pairs, {run['centroid_sets']} centroid sets, seed {run['seed']}, "
                 f"{run['total_seconds']:.1f} s")
    for what, reason in run.get("stopped_early", {}).items():
        st.warning(f"{what} was stopped early ({'time budget spent' if reason == 'budget' else 'on request'}): its "
                   "figures are those of the best results reached by then.")
    charted = st.multiselect("Metrics (table and charts)", list(CHARTS), format_func=lambda m: HEADINGS.get(m, m),
                             key=ui.remember("compare.charts", ["class_preservation", "frechet", "ri_typical_mean",
                                                                "normality_pass"], options=CHARTS))
    intervals = st.toggle("Show interval bounds", key=ui.remember("compare.intervals", False))
    headers = {"label": "scheme", **HEADINGS, **{f"{m}_{end}": f"{HEADINGS.get(m, m)} {end}" for m in charted
                                                 for end in ("low", "high")}}
    for task, rows in result.table.groupby("task", sort=False):  # one table per task: interpolation, centroid
        shown = ["label"] + [c for m in charted for c in (m, f"{m}_low", f"{m}_high")
                             if c in rows.columns and (intervals or c == m) and rows[c].notna().any()]
        st.markdown(f"**{task.capitalize()}**")
        ui.table(rows[shown], headers, helps=CHARTS)
    st.caption("Frechet distances of small samples are dominated by the sample size: sets of 8 real digits score "
               "about 1000 against all real digits, so the centroids' figures (one image per set) say little "
               "beyond spread; compare schemes within a task, not across (see the README's Evaluation section).")
    csv, js = st.columns(2)
    csv.download_button("Download CSV (every metric)", result.to_csv(), file_name=f"compare-{run['model']}.csv",
                        mime="text/csv", on_click="ignore")
    js.download_button("Download JSON (every metric, per pair)", result.to_json(),
                       file_name=f"compare-{run['model']}.json", mime="application/json", on_click="ignore")

    for column, metric in zip(st.columns(2) * len(charted), charted):
        figure = plots.metric_bars_figure(result.table, metric, CHARTS[metric], HEADINGS.get(metric, metric))
        column.plotly_chart(figure, width="stretch", key=f"chart-{metric}")

    examples = st.session_state.get("compare.examples")
    if examples is None or run["model"] != model_name:
        st.caption("Example filmstrips appear after a run in this session.")
        ui.stop()
    st.subheader("Examples: the first pair of the run, every scheme")
    size = ui.frames.frame_size_control("compare.frame_size")
    compared = ui.get_model(run["model"])
    for scheme, paths in examples.paths.items():
        images = ui.decode_to_uint8(compared, paths[0], compared.decoding())
        captions, _ = ui.frames.path_captions(len(images), 1, ["start", "end"])
        st.markdown(f"**{lc.SCHEMES[scheme].label}**")
        ui.frames.image_row(images, captions, size=size)
    if examples.centroids:
        st.subheader("Examples: the first centroid set, its seeds and every centroid")
        seeds = ui.decode_to_uint8(compared, examples.centroid_seeds[0], compared.decoding())
        centres = ui.decode_to_uint8(compared, torch.stack([c[0] for c in examples.centroids.values()]),
                                     compared.decoding())
        ui.frames.image_row(seeds, [f"seed {i + 1}" for i in range(len(seeds))], size=size)
        ui.frames.image_row(centres, [lc.CENTROIDS[k].label for k in examples.centroids], size=size)
