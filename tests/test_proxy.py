"""A class server (tools.serve): two app processes on one workspace folder behind HAProxy, in a real browser. Each
browser stays on its process; when that process is killed, the browser, reloading through the proxy, lands on
the other one and finds its seeds, as it does coming back to the plain address."""

import os
import shutil
import signal

import pytest
from test_browser import browser, new_tab, seeds_in_set  # noqa: F401 - browser is a fixture

from tools.serve import ClassServer, haproxy_config

pytestmark = [pytest.mark.slow, pytest.mark.browser]  # two servers, a proxy and a browser

TEMPLATE = """frontend f
    bind 127.0.0.1:8500
backend b
    # servers
    server app1 127.0.0.1:8501 cookie app1
    # /servers
"""


def test_the_configuration_is_the_repositorys_with_this_runs_address_and_processes():
    config = haproxy_config(TEMPLATE, "0.0.0.0", 9000, [("app1", 9001), ("app2", 9002), ("app3", 9003)])
    assert "bind 0.0.0.0:9000\n" in config and "8501" not in config and "8500" not in config
    assert config.count("    server app") == 3 and "    server app3 127.0.0.1:9003 cookie app3\n" in config
    with pytest.raises(ValueError, match="bind"):
        haproxy_config("backend b\n", "127.0.0.1", 9000, [("app1", 9001)])


def _server_of(tab) -> str:
    """The process the proxy keeps this browser on (its affinity cookie)."""
    return next(c["value"] for c in tab.context.cookies() if c["name"] == "LE_SERVER")


@pytest.mark.skipif(shutil.which("haproxy", path=f"{os.environ.get('PATH', '')}:/usr/sbin") is None
                    and not os.environ.get("CI"),
                    reason="HAProxy is not installed (apt-get install haproxy)")
def test_a_browser_keeps_its_seeds_when_its_process_is_killed(browser, tmp_path):  # noqa: F811 - the fixture
    with ClassServer(str(tmp_path / "store"), 2) as server:
        mine, other = new_tab(browser), new_tab(browser)  # two browsers, each with its own cookies
        mine.goto(server.url)
        mine.get_by_role("button", name="Start with a demo").click()
        mine.get_by_role("heading", name="Interpolate", level=1).wait_for()
        mine.wait_for_url("**ws=*")
        assert seeds_in_set(mine) == "8"
        ws_id = mine.url.split("ws=")[1].split("&")[0]
        mine.wait_for_function("id => document.cookie.includes(id + ':')", arg=ws_id)  # noted: the work is saved
        other.goto(server.url)  # the least busy process: not the one holding the first browser's websocket
        other.get_by_role("heading", name="Latent Explorer").wait_for()
        before = _server_of(mine)
        assert _server_of(other) != before and seeds_in_set(other) == "0"

        server.apps[before].proc.send_signal(signal.SIGKILL)
        server.apps[before].proc.wait()
        mine.reload()  # the browser reconnects through the proxy: its process is down, so it goes to the other
        mine.get_by_role("heading", name="Interpolate", level=1).wait_for()
        assert seeds_in_set(mine) == "8" and f"ws={ws_id}" in mine.url
        assert _server_of(mine) != before
        again = mine.context.new_page()  # the same browser comes back to the plain address of the proxy
        again.goto(server.url)
        again.get_by_text("Reopened this browser's last workspace").wait_for()
        assert seeds_in_set(again) == "8" and f"ws={ws_id}" in again.url
        for tab in (mine, other):
            tab.context.close()
