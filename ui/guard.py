"""The guard around every page run and fragment run: unexpected exceptions become messages, and the workspace is
saved afterwards, whatever happened."""

from __future__ import annotations

import contextlib
import functools

import streamlit as st

from .errors import PageStop, errors_shown
from .jobs import job_panel, own_jobs
from .memory import release_when_ended, return_large_blocks, served_session
from .models import plugins
from .sidebar import sidebar
from .text import plain
from .seed_sets import seed_set
from .server import threads
from .workspace import note_workspace, open_workspace, save_workspace


@contextlib.contextmanager
def page(title: str):
    """One page run: page config, plug-in models (loaded once per server process), sidebar and title; yields
    ``(model name, model, decoding)``, ``decoding`` being the :class:`~latentcore.models.Decoding` every decode
    and encode of the page takes: the sampler's steps and scheduler and the value of each condition.

    Long computations the page asked for (:mod:`ui.jobs`) show their progress at the top, under the title.

    Any exception the page body did not expect becomes a message with its details folded away, and the session
    state stays as it was. The guard lives here, not around ``st.navigation`` in app.py, because Streamlit runs
    a script in ``pages/`` directly (without app.py) on a server's first run and in AppTest. Streamlit's rerun
    and stop signals derive from BaseException, so they pass through.
    """
    st.set_page_config(page_title=f"{title} · Latent Explorer", layout="wide")
    count = problem = jobs = None
    try:
        with errors_shown():
            return_large_blocks()  # once per process: a large upload's memory goes back when freed
            if served_session() is not None:
                threads.configure()  # once per server process: each kind of work its own torch threads
            release_when_ended()  # once per session: what it holds goes when it has ended
            plugins()  # before the workspace: a link's ?model= may name a plug-in
            open_workspace()
            name, model, decoding, count = sidebar()
            problem = _save_and_say()  # the widget changes that started this run; st.stop() blocks session state
            st.title(title)
            own_jobs(title)
            jobs = st.container()  # the progress of long computations, at the top; drawn after the page asked
        if count is None:  # the setup failed and says why; a context manager must yield or raise
            st.stop()
        with errors_shown():
            try:
                yield name, model, decoding
            except PageStop:  # ui.stop(): the body ends, the guard goes on
                pass
    finally:  # the page's own changes, also after st.rerun (pages end early with ui.stop(): after st.stop(),
        # Streamlit raises its stop again at the first element drawn)
        _save_and_say(problem)  # e.g. seeds added by this run past the size limit
        note_workspace()  # in this browser's recent workspaces, once saved
        if count is not None:  # the page may have added or removed seeds after the sidebar was drawn
            count.metric("Seeds in the set", len(seed_set(name)))
        if jobs is not None:
            with jobs:
                job_panel(title)


def guarded(fragment):
    """The page's error guard for an ``st.fragment``, whose reruns run only the fragment's function."""
    @functools.wraps(fragment)
    def run(*args, **kwargs):
        try:
            with errors_shown():
                return fragment(*args, **kwargs)
        finally:
            _save_and_say()
    return run


def _save_and_say(shown: str | None = None) -> str | None:
    """Save the workspace; a problem (e.g. past the size limit) is a warning unless it is ``shown`` already."""
    problem = save_workspace()
    if problem and problem != shown:
        st.warning(plain(problem))
    return problem
