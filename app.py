"""Latent Explorer: the Streamlit entry point. The pages are listed in ui/navigation.py; each is a short script in
pages/."""

import streamlit as st

from ui.navigation import HOME, PAGES

st.navigation([st.Page(page.script, title=page.title, icon=page.icon, default=page is HOME)
               for page in PAGES]).run()
