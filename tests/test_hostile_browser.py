"""A shared workspace whose every text is an image link, an HTML tag and a link, in a real browser: every page shows
it as plain text, so the browser asks nothing of the address in it. A small HTTP server on an ordinary free port
(Chromium refuses some ports, such as 9, which would hide a fetch) counts what reaches it; a request the test makes
itself at the end shows that the browser could have reached it. Waits are on the app's state, never sleeps."""

import contextlib
import http.server
import threading

import pytest
import torch
from test_browser import browser, goto_page, new_tab, no_errors, rendered, settle  # noqa: F401 - a fixture
from test_hostile import comparison

from tools.launch import streamlit_server
from ui.navigation import HOME, PAGES
from ui.server import workspace
from ui.server.seed_set import SeedSet
from ui.sidebar import DEFAULT_MODEL

pytestmark = [pytest.mark.slow, pytest.mark.browser]

# What each page shows once drawn (in its main area), beyond its title
DRAWN = {"pages/seeds.py": ".le-frames img", "pages/interpolate.py": ".js-plotly-plot",
         "pages/subspace.py": "img[src^='data:image/svg+xml']", "pages/diagnostics.py": "[data-testid=stImage] img",
         "pages/compare.py": ".js-plotly-plot", "pages/centroids.py": ".le-frames img",
         "pages/playground.py": ".js-plotly-plot"}


class _Counter(http.server.BaseHTTPRequestHandler):
    """Notes the path of every request and answers it with nothing."""

    def _note(self):
        self.server.paths.append(self.path)
        self.send_response(204)
        self.end_headers()

    do_GET = do_HEAD = do_POST = do_OPTIONS = _note

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def counting_server():
    """An HTTP server on a free port of 127.0.0.1 (the system's choice: an ordinary port) in a thread; yields it,
    with ``paths``, the paths asked for, and ``url``."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    server.paths = []
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def hostile_text(url: str) -> str:
    """An image link in Markdown, an image tag and a link, each to ``url``."""
    return f'![x]({url}/md.png) <img src="{url}/tag.png"> <a href="{url}/link">link</a>'


def hostile_workspace(url: str) -> workspace.Workspace:
    """Seed names, a seed set's model name, settings and a comparison's texts, each :func:`hostile_text` (and one
    name of megabytes, shortened on opening) or another tag that would ask ``url`` for something."""
    evil = hostile_text(url)
    names = [evil, f"{evil} 2", f"<img src='{url}/single.png'>", (evil + " ") * 20_000]  # the last: 3 MB
    latents = torch.randn(len(names), 100, 1, 1, generator=torch.Generator().manual_seed(0))  # faces-dcgan's shape
    settings = {"model": DEFAULT_MODEL, "compare.result": comparison(evil), "interpolate.from": evil,
                "interpolate.to": f"{evil} 2", "subspace.basis": [evil, f"{evil} 2", names[2]],
                "diagnostics.latents": [f"seed: {evil}", f"seed: {evil} 2"], "diagnostics.focus": f"seed: {evil}",
                "centroids.seeds": names[:3], "reconstruct.seed": evil, "seeds.format": evil, "seeds.count": evil,
                "notes": evil}
    return workspace.Workspace(seed_sets={DEFAULT_MODEL: SeedSet(latents, names),
                                          evil: SeedSet(torch.zeros(1, 3), [evil])}, settings=settings)


def test_a_workspace_of_links_and_tags_fetches_nothing_on_any_page(browser, tmp_path):  # noqa: F811 - the fixture
    with counting_server() as listener, streamlit_server(tmp_path) as server:
        ws = workspace.new_workspace_id()
        workspace.save_workspace(hostile_workspace(listener.url), ws, store=tmp_path)
        page = new_tab(browser)
        page.goto(f"{server}/?ws={ws}")  # may open as a copy under another id: only its content matters here
        page.get_by_role("heading", name="Latent Explorer").wait_for()
        settle(page)
        page.locator("[data-testid=stSidebar]").get_by_text("the ends of 1 seed name of").wait_for()
        for listed in PAGES:
            if listed is not HOME:
                goto_page(page, listed.title)
            if listed.script in DRAWN:
                page.locator(f"[data-testid=stMain] {DRAWN[listed.script]}").first.wait_for()
            settle(page)
            rendered(page)
            no_errors(page)
            if listed.script == "pages/seeds.py":  # the names shown, as written
                assert page.locator("[data-testid=stMain] figcaption", has_text="<img src=").count() >= 2
            if listed.script == "pages/compare.py":
                page.get_by_text(f"{hostile_text(listener.url)}: 2 pairs, 2 centroid sets").wait_for()
        assert listener.paths == [], listener.paths
        page.evaluate("url => new Promise(done => { const image = new Image(); "  # the control: reachable
                      "image.onload = image.onerror = () => done(); image.src = url; })", f"{listener.url}/control")
        assert listener.paths == ["/control"]
        page.context.close()
