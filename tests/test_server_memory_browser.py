"""A server gives back what a closed session held: a large workspace opened by link in a real browser (Chromium,
Playwright) against its own `streamlit run` process, the tab closed, several times over, with the server's resident
memory read from /proc (Linux) while each session is open and once its expiry (Streamlit's
server.disconnectedSessionTTL, lowered to a few seconds) has passed. Waits are on the app's state and on the
server's memory, never fixed sleeps."""

import sys
import time

import pytest
import torch
from test_browser import browser, new_tab, settle  # noqa: F401 - a fixture

from tools.launch import ServerMemory, streamlit_server
from ui.server import workspace
from ui.server.seed_set import SeedSet

pytestmark = [pytest.mark.slow, pytest.mark.browser,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")]

WORKSPACE_MIB = 96   # large beside the server's own noise (a few MiB), small enough to open quickly
OPENS = 3
TTL_S = 2            # the session expiry of this test's server
RELEASE_S = 120      # how long a closed session's memory may take to go: its expiry, the next look, a busy machine


def released(memory: ServerMemory, below: float) -> float:
    """The server's resident memory once it is under ``below`` MiB (polled), or after :data:`RELEASE_S`."""
    deadline = time.monotonic() + RELEASE_S
    while (resident := memory.resident()) >= below and time.monotonic() < deadline:
        time.sleep(0.5)  # polling the server's memory, not waiting for the page
    return resident


def test_a_closed_sessions_workspace_is_given_back_at_its_expiry(browser, tmp_path):  # noqa: F811 - the fixture
    count = WORKSPACE_MIB * 2**20 // (4 * 64 * 64 * 4)  # Stable Diffusion's latents, 64 KiB each
    latents = torch.randn(count, 4, 64, 64, generator=torch.Generator().manual_seed(0))
    link = workspace.new_workspace_id()  # a seed set of a model this server does not load: kept as it is
    workspace.save_workspace(workspace.Workspace(seed_sets={"/models/sd-1.5": SeedSet(
        latents, [f"sd {i}" for i in range(count)])}), link, store=tmp_path)
    del latents
    with streamlit_server(tmp_path, options=["--server.disconnectedSessionTTL", str(TTL_S)]) as server:
        memory = ServerMemory(server.pid)
        start = new_tab(browser)  # the models and the first page's imports: the server's own memory
        start.goto(server)
        start.get_by_role("heading", name="Latent Explorer").wait_for()
        settle(start)
        start.context.close()
        figures = []
        for _ in range(OPENS):
            before = memory.resident()
            tab = new_tab(browser)  # a browser of its own: its own session
            tab.goto(f"{server}/?ws={link}")
            tab.get_by_role("heading", name="Latent Explorer").wait_for()
            settle(tab)  # the workspace is open, and this run has saved what it writes
            opened = memory.resident()
            tab.context.close()
            figures.append((before, opened, released(memory, below=before + WORKSPACE_MIB / 3)))
        shown = ", ".join(f"{b:.0f} -> {o:.0f} -> {r:.0f} MiB" for b, o, r in figures)
        assert all(o - b > 0.7 * WORKSPACE_MIB for b, o, _ in figures), f"the workspace was not held: {shown}"
        assert all(r < b + WORKSPACE_MIB / 3 for b, _, r in figures), f"a closed session kept it: {shown}"
        assert figures[-1][2] < figures[0][2] + WORKSPACE_MIB / 3, f"the server grew: {shown}"
