import numpy as np
import pandas as pd
import streamlit as st

import latentcore as lc
import ui
from ui import plots
from latentcore.diagnostics import TEACHING_EXAMPLES, TESTS, ad_p_floor, diagnostic_views, teaching_examples

# Short headers fit the page; the full names are their help.
SHORT = {TESTS["ks"]: "KS p", TESTS["cvm"]: "CvM p", TESTS["ad"]: "AD p", TESTS["chi2_norm"]: "χ² p (norm)",
         "realisticity (density)": "density index", "realisticity (typical set)": "typical-set index"}

with ui.page("Diagnostics") as (name, model, decoding):
    seeds = ui.seed_set(name)

    st.markdown("Is a latent one the model expects? The elements of a standardised latent should look like draws of "
                "N(0, 1) (LOL paper, section 4): a likely norm alone is not enough.")
    own, teaching, on_paths = {}, {}, {}  # three groups, each its own list: the seeds, the examples, path frames
    if len(seeds):
        own = {f"seed: {n}": z for n, z in zip(seeds.names, seeds.latents)}
        if len(seeds) >= 2:
            examples = teaching_examples(seeds.latents[0], seeds.latents[1], prior=model.prior)
            teaching = {TEACHING_EXAMPLES[k]: z for k, z in examples.items()}
    for label, path in ui.last_paths(name).items():
        middle = len(path) // 2
        on_paths[f"{label} path, frame {middle + 1} of {len(path)}"] = path[middle]  # from 1, as on Interpolate
    candidates = {**teaching, **own, **on_paths}
    if not candidates:
        st.info("Sample or upload seeds first; with two or more, the teaching examples appear too.")
        ui.go_to_seeds()
        ui.stop()

    chosen = []
    if teaching:
        chosen += st.multiselect(
            "Teaching examples", list(teaching), key=ui.remember("diagnostics.examples", list(teaching),
                                                                 options=teaching),
            help="Latents made from your first two seeds to show what the tests catch: the midpoints of a linear and "
                 "a LOL path, and a constant vector whose norm is likely but whose elements are not normal")
    if own:
        chosen += st.multiselect(
            "Seeds", list(own), format_func=lambda label: label.removeprefix("seed: "), placeholder="Add seeds",
            key=ui.remember("diagnostics.latents", [] if teaching else list(own)[:3], options=own))
    if on_paths:
        chosen += st.multiselect(
            "Middle frames of your last paths (Interpolate)", list(on_paths), placeholder="Add a path's frame",
            key=ui.remember("diagnostics.paths", [], options=on_paths, shared=False))
    if not chosen:
        st.info("Choose at least one latent.")
        ui.stop()
    batch = np.stack([candidates[c].numpy() for c in chosen])
    p = lc.normality_tests(batch, prior=model.prior)
    density = lc.realisticity_index(batch, prior=model.prior).numpy()
    typical = lc.realisticity_index(batch, prior=model.prior, kind="typical").numpy()
    st.markdown("**Normality tests**: p-values of each latent's standardised elements against N(0, 1), and of its "
                "squared norm against the chi-square distribution")
    ui.table(pd.DataFrame({"latent": chosen, **{TESTS[k]: p[k] for k in TESTS}}), SHORT)
    st.caption(f"Anderson-Darling p-values stop at {ad_p_floor(model.prior.dim):.1e} for latents of "
               f"{model.prior.dim} elements: the approximation of its distribution (Marsaglia & Marsaglia 2004) "
               "cannot tell smaller values apart, so read that value as \"this or less\".")
    st.markdown("**Realisticity indices** (Struski et al., \"Interpolation in generative models\"): how usual the "
                "latent is for the prior, between 0 and 1")
    ui.table(pd.DataFrame({"latent": chosen, "realisticity (density)": density,
                           "realisticity (typical set)": typical}), SHORT)
    st.caption("The density index asks how many latents are less likely than this one: ~1 anywhere inside a "
               "Gaussian's bulk, even at its improbable centre. The typical-set index asks whether the norm is one the "
               "prior produces, so a linear midpoint (too short) scores low there while scoring high on density.")

    focus = st.selectbox("Plots for", chosen, key=ui.remember("diagnostics.focus", chosen[0], options=chosen))
    views = diagnostic_views(candidates[focus], prior=model.prior)
    st.image(ui.decode_to_uint8(model, candidates[focus][None], decoding)[0], width=128, clamp=True,
             caption=ui.plain(f"{focus}, decoded"))  # a seed's name: the workspace's text
    a, b = st.columns(2)
    a.plotly_chart(plots.histogram_figure(views.elements, views.normal_x, views.normal_y,
                                          "Standardised elements over N(0, 1)", "element"), width="stretch")
    b.plotly_chart(plots.qq_figure(views.qq_theoretical, views.qq_observed), width="stretch")
    st.plotly_chart(plots.chi2_figure(views.chi2_x, views.chi2_y, views.chi2_band, views.squared_norm),
                    width="stretch")
