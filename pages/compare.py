import streamlit as st
import torch

import latentcore as lc
import ui
from ui import plots
from ui.schemas import evaluation_misfit
from latentcore.evaluate import (HEADINGS, LEFT_OUT, METRICS, TIMINGS, Evaluation, evaluate, seed_sources,
                                 unavailable_metrics)

CHARTS = {**METRICS, **{t: "seconds per path (set)" for t in TIMINGS}}  # every metric and timing: what it is
SOURCES = {"prior": "Samples of the prior", "seed set": "This model's seed set", "data": "Encodings of real data"}
NOT_PRIOR = {"seed set": "Your seeds may not be samples of the prior (inversions of images, uploads, earlier paths)",
             "data": "Encodings of real images are not samples of the prior (DDIM and flow inversions are far from "
                     "Gaussian)"}


def not_measured(unavailable: dict) -> None:
    """One line per reason: the metrics it leaves out, and why."""
    by_reason = {}
    for metric, why in unavailable.items():
        by_reason.setdefault(why, []).append(HEADINGS[metric])
    for why, names in by_reason.items():
        listed = " and ".join(names)
        st.caption(ui.plain(f"{listed[0].upper()}{listed[1:]}: not measured, {why}."))


with ui.page("Compare schemes") as (name, model, decoding):
    st.markdown(f"Every scheme on the same seeds of **{ui.plain(model.name)}** (the model in the sidebar, decoded "
                "with its settings there), with the same metrics: the LOL paper's tasks (paths between two seeds, "
                "centroids of 3 to 5) measured by both realisticity indices (Struski et al.), the share of frames "
                "at typical norms, normality tests, smoothness and length in image space and, where a judge of the "
                "images is known (a classifier), class preservation and the Frechet distance. Seeds of one class "
                "where there are classes; intervals are 95 %.")
    seeds = ui.seed_set(name)
    offered, refused = seed_sources(model)
    if len(seeds) >= 2:
        offered.insert(1, "seed set")
    else:
        refused["seed set"] = "it holds fewer than 2 seeds"
    left, middle, right = st.columns(3)
    source = left.radio("Seeds", offered, format_func=SOURCES.get,
                        key=ui.remember("compare.seeds", "prior", options=offered))
    for key, why in refused.items():
        left.caption(f"{SOURCES[key]}: not offered, {why}.")
    pairs = middle.slider("Pairs", 2, 32, key=ui.remember("compare.pairs", 8, bounds=(2, 32)))
    set_counts = [0, *range(2, 17)]
    sets = right.select_slider("Centroid sets (0: none)", set_counts,
                               key=ui.remember("compare.sets", 4, options=set_counts))
    seed, _ = ui.number_field("Random seed (which seeds)", "compare.seed", 0, 0, 2**31, what="The random seed",
                              where=right)
    if source in NOT_PRIOR:
        st.info(f"{NOT_PRIOR[source]}: their frames may fail the normality tests under every scheme, and LOL's "
                "guarantee (each frame distributed as the prior) assumes seeds drawn from the prior.")
    schemes_offered, not_offered = lc.schemes_for(model)
    # the scheme lists at the page's width: every chosen scheme's tag in view at 1024 px
    schemes = st.multiselect("Interpolation schemes", schemes_offered, format_func=lambda k: lc.SCHEMES[k].label,
                             key=ui.remember("compare.schemes", lc.SCHEMES.default_selection(),
                                             options=schemes_offered))
    for key, why in not_offered.items():
        st.caption(f"{lc.SCHEMES[key].label} is not offered for {ui.plain(model.name)}: {why}.")
    for key in schemes:  # the settings a comparison runs with: each scheme's defaults, as on Interpolate
        if lc.SCHEMES[key].settings:
            st.caption(f"{lc.SCHEMES[key].label} runs with its defaults: " + "; ".join(
                f"{s.label}: {s.label_of(s.default)}" for s in lc.SCHEMES[key].settings) + ".")
    centroid_schemes = st.multiselect(
        "Centroid schemes", list(lc.CENTROIDS), format_func=lambda k: lc.CENTROIDS[k].label,
        key=ui.remember("compare.centroids", lc.CENTROIDS.default_selection(), options=lc.CENTROIDS))
    not_measured(unavailable_metrics(model, None))
    st.caption("Closed-form schemes take seconds (8 pairs on faces-dcgan: about 2 s on 2 CPU cores); NAO and "
               "ri-optimal paths run until they converge or the time budget (sidebar) is spent, and say so.")

    if st.button("Run the comparison", type="primary", disabled=seed is None):  # the seed's field says why
        given = seeds.latents if source == "seed set" else source
        chosen = dict(schemes=schemes, centroid_schemes=centroid_schemes, pairs=pairs, centroid_sets=sets,
                      seed=seed)
        key = ("compare", model.key, source, seeds.version if source == "seed set" else None, decoding,
               repr(sorted(chosen.items())))
        ui.jobs.start("compare", key, f"Comparing on {model.name}",
                      lambda **controls: evaluate(model, seeds=given, decoding=decoding, **chosen, **controls))
    try:
        result = ui.jobs.ended("compare")
    except ValueError as err:
        ui.show_error(f"The comparison could not run: {ui.plain(err)}.", err)
    else:
        if result is not None:
            st.session_state["compare.result"] = result.to_json()  # kept in the workspace
            st.session_state["compare.examples"] = result.examples

    saved = st.session_state.get(ui.remember("compare.result", None, check=evaluation_misfit))
    if saved is None:
        st.info("Choose the seeds and schemes, then run the comparison.")
        ui.stop()
    result = Evaluation.from_json(saved)
    run = result.settings
    # a result may come with a shared workspace: its texts are another person's, so every one is plain text
    st.subheader(ui.plain(f"{run['model']}: {run['pairs']} pairs, {run['centroid_sets']} centroid sets, seed "
                          f"{run['seed']}, {run['total_seconds']:.1f} s"))
    st.caption(ui.plain(f"Seeds: {SOURCES.get(run.get('seeds'), 'the given latents').lower()}"
                        + (f", classes from {run['classes']}" if run.get("classes") else ", no classes")
                        + (f"; judged by {run['judge']}" if run.get("judge") else "; no judge of the images") + "."))
    not_measured(run.get("unavailable", {}))
    for what, reason in run.get("stopped_early", {}).items():
        if reason == LEFT_OUT:
            st.warning(ui.plain(f"{what} was stopped before it had any result, so it is not in the table."))
        else:
            why = "time budget spent" if reason == "budget" else "on request"
            st.warning(ui.plain(f"{what} was stopped early ({why}): its figures are those of the best results "
                                "reached by then."))
    charted = st.multiselect("Metrics (table and charts)", list(CHARTS), format_func=lambda m: HEADINGS.get(m, m),
                             key=ui.remember("compare.charts", ["class_preservation", "frechet", "ri_typical_mean",
                                                                "typical_band", "normality_pass"], options=CHARTS))
    intervals = st.toggle("Show interval bounds", key=ui.remember("compare.intervals", False))
    headers = {"label": "scheme", **HEADINGS, **{f"{m}_{end}": f"{HEADINGS.get(m, m)} {end}" for m in charted
                                                 for end in ("low", "high")}}
    for task, rows in result.table.groupby("task", sort=False):  # one table per task: interpolation, centroid
        shown = ["label"] + [c for m in charted for c in (m, f"{m}_low", f"{m}_high")
                             if c in rows.columns and (intervals or c == m) and rows[c].notna().any()]
        st.markdown(f"**{ui.plain(task.capitalize())}**")
        ui.table(rows[shown], headers, helps=CHARTS)
    if run.get("frechet_reference"):
        st.caption(ui.plain(f"Frechet distances against {run['frechet_reference']}. Small samples are dominated by "
                            "their size: sets of 8 real digits score about 1000 against all real digits, so the "
                            "centroids' figures (one image per set) say little beyond spread; compare schemes within "
                            "a task, not across."))
    csv, js = st.columns(2)
    stem = f"compare-{ui.file_stem(run['model'])}"
    csv.download_button("Download CSV (every metric)", result.to_csv(), file_name=f"{stem}.csv",
                        mime="text/csv", on_click="ignore")
    js.download_button("Download JSON (every metric, per pair)", result.to_json(),
                       file_name=f"{stem}.json", mime="application/json", on_click="ignore")

    measured = [m for m in charted if result.table[m].notna().any()]  # those not measured are said above
    for column, metric in zip(st.columns(2) * len(measured), measured):
        figure = plots.metric_bars_figure(result.table, metric, CHARTS[metric], HEADINGS.get(metric, metric))
        column.plotly_chart(figure, width="stretch", key=f"chart-{metric}")

    examples = st.session_state.get("compare.examples")
    if examples is None or run["model"] != model.name:
        st.caption("Example filmstrips appear after a run in this session.")
        ui.stop()
    st.subheader("Examples: the first pair of the run, every scheme")
    size = ui.frames.frame_size_control("compare.frame_size")
    run_decoding = result.decoding(model)
    for scheme, paths in examples.paths.items():
        images = ui.decode_to_uint8(model, paths[0], run_decoding)
        captions, _ = ui.frames.path_captions(len(images), 1, ["start", "end"])
        st.markdown(f"**{lc.SCHEMES[scheme].label}**")
        ui.frames.image_row(images, captions, size=size)
    if examples.centroids:
        st.subheader("Examples: the first centroid set, its seeds and every centroid")
        seed_images = ui.decode_to_uint8(model, examples.centroid_seeds[0], run_decoding)
        centres = ui.decode_to_uint8(model, torch.stack([c[0] for c in examples.centroids.values()]), run_decoding)
        ui.frames.image_row(seed_images, [f"seed {i + 1}" for i in range(len(seed_images))], size=size)
        ui.frames.image_row(centres, [lc.CENTROIDS[k].label for k in examples.centroids], size=size)
