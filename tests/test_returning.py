"""Nothing lost, found again: this browser's recent workspaces (a cookie, ui.recent), the plain address reopening
the last one, the cheap no-change save of a rerun, and two server processes sharing one workspace folder, in a
real browser."""

import contextlib
import time
from pathlib import Path

import pytest
import torch
from test_app import _no_errors, _session
from test_browser import browser, new_tab, seeds_in_set  # noqa: F401 - browser is a fixture

from ui.server import workspace
from ui.server.seed_set import SeedSet
from ui import recent
from tools.launch import streamlit_server
from ui.sidebar import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parents[1]  # pages are addressed relative to the app
NOW = 1_700_000_000
A, B, C = "A" * 22, "B-b_" * 5 + "bb", "c" * 64


def test_the_cookie_is_read_as_untrusted_text():
    assert recent.parse_recent(f"{A}:{NOW}.{B}:{NOW + 5}") == [(B, NOW + 5), (A, NOW)]
    assert recent.parse_recent(f"{A}:{NOW}.{A}:{NOW + 9}.{A}:{NOW + 1}") == [(A, NOW + 9)]  # each id once, latest
    garbage = [f"../../etc/passwd:{NOW}", f"short:{NOW}", f"{A}:", f"{A}:-5", f"{A}:1e9", f"{A}:{'9' * 13}",
               f"{A}:{NOW}:x", f"{A}:٣", "", ":", "..", f"{C}x:{NOW}", f"<script>:{NOW}"]
    assert recent.parse_recent(".".join(garbage + [f"{C}:{NOW}"])) == [(C, NOW)]
    assert recent.parse_recent(f"{A}:{NOW}." + "x" * recent.MAX_CHARS) == []  # too long: ignored whole
    assert recent.parse_recent(None) == [] and recent.parse_recent(12) == []
    many = ".".join(f"{workspace.new_workspace_id()}:{NOW + i}" for i in range(20))
    kept = recent.parse_recent(many)
    assert len(kept) == recent.KEPT and [t for _, t in kept] == list(range(NOW + 19, NOW + 19 - recent.KEPT, -1))


def test_notes_merge_to_the_same_list_in_any_order():
    start = [(A, NOW), (B, NOW - 60)]
    once = recent.merged(start, B, NOW + 30)
    assert once == [(B, NOW + 30), (A, NOW)]
    assert recent.merged(once, B, NOW + 30) == once  # a note written again changes nothing
    assert recent.merged(once, A, NOW - 100) == once  # an older note of a known id does not move it back
    assert recent.merged(once, A, NOW + 30) == [(A, NOW + 30), (B, NOW + 30)]  # in the same second: the note first
    assert recent.merged(recent.merged(start, C, NOW + 1), B, NOW + 2) == recent.merged(
        recent.merged(start, B, NOW + 2), C, NOW + 1)


@pytest.mark.parametrize("seconds, said", [(0, "just now"), (59, "just now"), (60, "1 min ago"),
                                           (3599, "59 min ago"), (7200, "2 h ago"), (86400, "1 day ago"),
                                           (86400 * 40, "40 days ago"), (-30, "just now")])
def test_last_used_is_said_briefly(seconds, said):
    assert recent.last_used(NOW - seconds, now=NOW) == said


def _saved(seeds: int) -> str:
    ws_id = workspace.new_workspace_id()
    latents = torch.randn(seeds, 100, 1, 1, generator=torch.Generator().manual_seed(seeds))  # faces-dcgan's shape
    seed_sets = {DEFAULT_MODEL: SeedSet(latents, [f"s{i}" for i in range(seeds)])}
    workspace.save_workspace(workspace.Workspace(seed_sets=seed_sets, settings={"model": DEFAULT_MODEL}), ws_id)
    return ws_id


def _returning(entries, **params):
    """A session of a browser whose cookie held ``entries`` (what ui.recent read from it; AppTest has no cookies)."""
    from streamlit.testing.v1 import AppTest
    from test_app import APP

    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state[recent.RECENT] = entries
    at.query_params.update(params)
    return at.run()


def test_the_plain_address_reopens_the_last_saved_workspace_of_this_browser(monkeypatch, workspace_folder):
    monkeypatch.chdir(ROOT)
    older, last = _saved(3), _saved(5)
    never_saved = workspace.new_workspace_id()
    at = _returning([(never_saved, int(time.time()) - 60), (last, int(time.time()) - 7200), (older, NOW)])
    _no_errors(at)
    assert at.session_state["workspace_id"] == last and at.sidebar.metric[0].value == "5"
    assert any("Reopened this browser's last workspace (used 2 h ago)" in i.value.replace("\\", "")
               for i in at.sidebar.info)
    assert not (workspace_folder / f"{never_saved}.safetensors").exists()  # a cookie's id is never adopted unsaved
    buttons = [b.label for b in at.sidebar.button if b.label.startswith(older[:8])]
    assert buttons == [f"{older[:8]}… used {recent.last_used(NOW)}"]  # the other saved one, not the unsaved
    [b for b in at.sidebar.button if b.label.startswith(older[:8])][0].click().run()
    _no_errors(at)
    assert at.session_state["workspace_id"] == older and at.sidebar.metric[0].value == "3"
    assert at.query_params["ws"] == older
    assert [b.label for b in at.sidebar.button if b.label.startswith(last[:8])]  # and the first is listed now
    assert at.session_state[recent.RECENT][0][0] == older  # noted as used, first in this browser's list now


def test_an_unreadable_last_workspace_is_said_and_the_one_before_opens(monkeypatch, workspace_folder):
    monkeypatch.chdir(ROOT)
    good = _saved(2)
    corrupt = workspace.new_workspace_id()
    (workspace_folder / f"{corrupt}.safetensors").write_bytes(b"\0" * 64)
    at = _returning([(corrupt, NOW + 10), (good, NOW)], model="digits-vae")
    assert not at.exception
    said = at.sidebar.error[0].value.replace("\\", "")
    assert f"This browser's workspace used {recent.last_used(NOW + 10)} cannot be opened" in said
    assert "is not a usable" in said and said.endswith("Reopened this browser's last workspace (used " +
                                                       recent.last_used(NOW) + ").")
    assert at.session_state["workspace_id"] == good
    assert at.sidebar.selectbox[0].value == "digits-vae"  # ?model= chooses the model of the reopened workspace
    assert (workspace_folder / f"{corrupt}.safetensors").read_bytes() == b"\0" * 64


def test_a_fresh_browser_starts_a_new_workspace(monkeypatch):
    monkeypatch.chdir(ROOT)
    at = _session()
    _no_errors(at)
    assert at.sidebar.metric[0].value == "0" and not at.sidebar.info
    assert not [b for b in at.sidebar.button if "ago" in b.label or "just now" in b.label]


def test_a_rerun_that_changed_nothing_builds_no_workspace_file(monkeypatch, workspace_folder):
    monkeypatch.chdir(ROOT)
    at = _session()
    at.button[0].click().run()  # the demo: 8 seeds, Interpolate
    path = workspace_folder / f"{at.session_state['workspace_id']}.safetensors"
    written = path.read_bytes()
    built = []
    real = workspace.workspace_to_bytes
    monkeypatch.setattr(workspace, "workspace_to_bytes", lambda ws: built.append(1) or real(ws))
    at.run()
    at.run()
    assert built == [] and path.read_bytes() == written  # two reruns, nothing serialised, nothing written
    at.slider[0].set_value(12).run()
    assert built and path.read_bytes() != written
    assert workspace.load_workspace(at.session_state["workspace_id"]).settings["interpolate.frames"] == 12
    written, built[:] = path.read_bytes(), []
    at.session_state["seed_sets"][DEFAULT_MODEL].rename("demo 0", "first")  # a seed set changed, no widget did
    at.run()
    assert built and workspace.load_workspace(at.session_state["workspace_id"]).seed_sets[
        DEFAULT_MODEL].names[0] == "first"


@pytest.mark.slow
def test_two_servers_on_one_folder_and_a_returning_browser(browser, tmp_path):  # noqa: F811 - the fixture
    """Two `streamlit run` processes on one workspace folder, as behind a load balancer: a browser's work on one is
    found on the other, by its link and by the plain address (the cookie is the browser's, whatever the port)."""
    with contextlib.ExitStack() as stack:
        first, second = (stack.enter_context(streamlit_server(tmp_path)) for _ in range(2))
        mine, stranger = new_tab(browser), new_tab(browser)  # two browsers, each with its own cookies
        mine.goto(first)
        stranger.goto(second)  # both servers start their first session at once
        mine.get_by_role("button", name="Start with a demo").click()
        mine.get_by_role("heading", name="Interpolate", level=1).wait_for()
        mine.wait_for_url("**ws=*")
        assert seeds_in_set(mine) == "8"
        ws_id = mine.url.split("ws=")[1].split("&")[0]
        mine.wait_for_function("id => document.cookie.includes(id + ':')", arg=ws_id)  # noted in this browser

        stranger.goto(second)  # the plain address: the other browser's cookie is not this one's
        stranger.get_by_role("heading", name="Latent Explorer").wait_for()
        assert seeds_in_set(stranger) == "0" and ws_id not in stranger.url
        listed = stranger.locator("[data-testid=stSidebar]").get_by_role("button", name=f"{ws_id[:8]}… used ")
        assert listed.count() == 0
        stranger.goto(f"{second}/?ws={ws_id}")  # the link, opened on the other server: a copy of the stranger's own
        stranger.get_by_text("The workspace of this link was opened as a copy of your own").wait_for()
        assert seeds_in_set(stranger) == "8" and ws_id not in stranger.url and "ws=" in stranger.url

        again = mine.context.new_page()  # the first browser comes back, to the other server's plain address
        again.goto(second)
        again.get_by_text("Reopened this browser's last workspace").wait_for()
        assert seeds_in_set(again) == "8" and f"ws={ws_id}" in again.url
        sidebar = again.locator("[data-testid=stSidebar]")
        sidebar.get_by_role("button", name="New empty workspace").click()
        sidebar.get_by_text("Started a new workspace").wait_for()
        assert seeds_in_set(again) == "0"
        sidebar.get_by_role("button", name=f"{ws_id[:8]}… used ").click()  # the recent list, from the cookie
        sidebar.get_by_text(f"Opened workspace {ws_id}").wait_for()
        assert seeds_in_set(again) == "8" and f"ws={ws_id}" in again.url
        stranger.context.close()
        mine.context.close()


def test_a_store_that_cannot_be_opened_is_said_where_the_work_would_be_saved(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv(workspace.WORKSPACES_ENV, "nosuchprotocol://workspaces")
    at = _session()
    _no_errors(at)
    at.button[0].click().run()  # the demo: seeds to save
    assert not at.exception
    said = [w.value.replace("\\", "") for w in at.warning]
    assert any("Could not save the workspace (the workspace store 'nosuchprotocol://workspaces' cannot be opened" in w
               for w in said), said
    assert at.sidebar.metric[0].value == "8"  # the work stays in the session
