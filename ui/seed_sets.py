"""The session's seed sets, one per model (kept in the workspace by :mod:`ui.workspace`), and the prompt to make
some where a page needs them."""

from __future__ import annotations

import streamlit as st

from .server.seed_set import SeedSet

from .errors import stop


def seed_set(model_name: str) -> SeedSet:
    """The session's seed set for one model (empty at first); pages edit it through its methods."""
    sets = st.session_state.setdefault("seed_sets", {})
    return sets.setdefault(model_name, SeedSet())


def go_to_seeds() -> None:
    """A button (not a link that reads as plain text) that opens the Seeds page."""
    if st.button("Go to Seeds", icon=":material/arrow_forward:"):
        st.switch_page("pages/seeds.py")


def seeds_or_stop(model_name: str, what: str) -> SeedSet:
    """The model's seed set when it holds at least two seeds; otherwise says that ``what`` needs two, links to
    the Seeds page and stops the page."""
    seeds = seed_set(model_name)
    if len(seeds) < 2:
        st.info(f"{what} at least two seeds: sample or upload some on the Seeds page.")
        go_to_seeds()
        stop()
    return seeds
