import streamlit as st

import ui

with ui.page("Latent Explorer") as (name, model, decoding):
    st.markdown(
        "Explore the latent space of a generative model: sample or upload **seed latents**, **interpolate** between "
        "them with several schemes (linear, SLERP, LOL, NAO, ri-optimal geodesics) and see the decoded images.\n\n"
        f"The model now is **{name}**: {model.description}\n\n"
        "Everything you do is saved on this server in a workspace: the address bar's link brings it back after a "
        "reload, a restart, or on another machine (see **Workspace** in the sidebar)."
    )
    st.page_link("pages/seeds.py", label="Seeds: sample, upload and manage seed latents")
    st.page_link("pages/interpolate.py", label="Interpolate: paths between seeds, scheme by scheme")
    st.page_link("pages/subspace.py", label="Subspace: sliders over the coordinates of a subspace spanned by seeds")
    st.page_link("pages/diagnostics.py", label="Diagnostics: normality tests and realisticity of single latents")
    st.page_link("pages/compare.py", label="Compare schemes: every scheme on the same digits, with metrics and "
                 "intervals")
    st.page_link("pages/centroids.py", label="Centroids and reconstruction: centres of seeds; a latent rebuilt "
                 "from its neighbours")
    st.page_link("pages/playground.py", label="Geometry playground: why straight paths cross empty regions, in 2-D")

    if st.button("Start with a demo", type="primary", help="Samples 8 seeds of this model and opens Interpolate"):
        ui.seed_set(name).add(model.prior.sample(8, seed=0), [f"demo {i}" for i in range(8)])
        st.switch_page("pages/interpolate.py")
