"""Latent Explorer: the Streamlit entry point. Pages are listed here; each is a short script in pages/."""

import streamlit as st

PAGES = [
    st.Page("pages/home.py", title="Home", default=True),
    st.Page("pages/seeds.py", title="Seeds"),
    st.Page("pages/interpolate.py", title="Interpolate"),
    st.Page("pages/subspace.py", title="Subspace"),
    st.Page("pages/diagnostics.py", title="Diagnostics"),
    st.Page("pages/compare.py", title="Compare schemes"),
    st.Page("pages/centroids.py", title="Centroids and reconstruction"),
    st.Page("pages/playground.py", title="Geometry playground"),
]

st.navigation(PAGES).run()
