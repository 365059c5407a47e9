import streamlit as st

import ui
from ui.navigation import HOME, PAGES

# The list of pages reads as links: each page's name in a link's blue, underlined, flush with the text above.
LINKS_LOOK_LIKE_LINKS = """<style>
[data-testid=stMain] [data-testid=stPageLink-NavLink] { padding-left: 0; }
[data-testid=stMain] [data-testid=stPageLink-NavLink] strong { color: #1c83e1; text-decoration: underline;
  text-underline-offset: 3px; }
[data-testid=stMain] [data-testid=stPageLink-NavLink]:hover strong { text-decoration-thickness: 2px; }
</style>"""

with ui.page("Latent Explorer") as (name, model, decoding):
    st.markdown(
        "Explore the latent space of a generative model: sample or upload **seed latents**, **interpolate** between "
        "them with several schemes (linear, SLERP, LOL, NAO, ri-optimal geodesics) and see the decoded images.\n\n"
        f"The model now is **{name}**: {ui.plain(model.description)}\n\n"  # a plug-in's words: plain
        "Everything you do is saved on this server in a workspace: the address bar's link brings it back after a "
        "reload or a restart, and opens a copy in another browser, yours on another machine or someone else's (see "
        "**Workspace** in the sidebar)."
    )
    st.html(LINKS_LOOK_LIKE_LINKS)
    for listed in PAGES:
        if listed is not HOME:
            st.page_link(listed.script, label=f"**{listed.title}**: {listed.description}", icon=listed.icon)

    if st.button("Start with a demo", type="primary", help="Samples 8 seeds of this model and opens Interpolate"):
        ui.seed_set(name).add(model.prior.sample(8, seed=0), [f"demo {i}" for i in range(8)])
        st.switch_page("pages/interpolate.py")
