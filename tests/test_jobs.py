"""Long computations as jobs, in a real browser against a real server: a ri-optimal path through digits-ddim shows
its progress with an estimate of the time left, Cancel ends it with the best path so far (labelled as stopped
early), and closing the tab stops the work (the server's CPU is measured after the tab closes); a path that takes
seconds waits for its Compute button, and changing the frames redraws the closed-form rows without starting it."""

import os
import re
import time

import pytest

import latentcore.models as models
from ui.server import workspace
from ui.server.seed_set import SeedSet
from tests.test_browser import (browser, jobs_done, new_tab, no_errors, server, settle, shoot,  # noqa: F401 - fixtures
                                workspaces)

FRAMES = 8
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, all its threads, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime and stime, fields 14 and 15 of proc(5)


def cpu_share(pid: int, seconds: float) -> float:
    """Cores the process used on average over the next ``seconds``."""
    before, start = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)  # a measuring window, not a wait for the app
    return (cpu_seconds(pid) - before) / (time.monotonic() - start)


@pytest.mark.slow
def test_a_long_path_shows_progress_is_cancelled_and_stops_with_its_tab(browser, server, workspaces):  # noqa: F811
    ws = workspace.new_workspace_id()
    model = models.load("digits-ddim", device="cpu")
    seeds = SeedSet(model.prior.sample(2, seed=0, device="cpu"), ["a", "b"])
    settings = {"model": "digits-ddim", "interpolate.schemes": ["ri-optimal"], "interpolate.frames": FRAMES,
                "ddim_steps": 10,  # the sampler's fewest: the same work, sooner
                "jobs.budget_s": 600}  # the budget must not end the path before the test does
    workspace.save_workspace(workspace.Workspace(seed_sets={"digits-ddim": seeds}, settings=settings), ws,
                             workspaces)
    tab = new_tab(browser)
    tab.goto(f"{server}/interpolate?ws={ws}")
    tab.get_by_role("button", name=re.compile(r"Compute \(about \d+ s\)")).click()  # minutes: asked for
    progress = re.compile(r"ri-optimal path · \d+ s of at most 600 s · iteration \d+ of at most \d+, loss [\d.e+-]+, "
                          r"at most about \d+ s left")
    tab.get_by_text(progress).wait_for()

    tab.get_by_role("button", name="Cancel").click()
    tab.get_by_text(re.compile(r"stopped early on request after \d+ iterations .* the best result so far")).wait_for()
    jobs_done(tab)
    no_errors(tab)
    assert tab.locator("[data-testid=stMain] .le-frames img").count() == FRAMES

    tab.get_by_role("button", name="Run again").click()
    tab.get_by_text(progress).wait_for()
    busy = cpu_share(server.pid, 2.0)
    tab.context.close()
    deadline = time.monotonic() + 30
    while (idle := cpu_share(server.pid, 1.0)) > 0.15 and time.monotonic() < deadline:
        pass  # the session is dropped when its websocket closes; the job sees it at its next iteration
    assert busy > 0.5, f"the optimisation should keep a core busy, it used {busy:.2f}"
    assert idle <= 0.15, f"the server still used {idle:.2f} cores after the tab closed"
    assert cpu_share(server.pid, 3.0) < 0.15


@pytest.mark.slow
def test_changing_the_frames_with_ri_optimal_selected_starts_no_job(browser, server, workspaces):  # noqa: F811
    ws = workspace.new_workspace_id()
    model = models.load("faces-dcgan", device="cpu")
    seeds = SeedSet(model.prior.sample(2, seed=0, device="cpu"), ["a", "b"])
    settings = {"model": "faces-dcgan", "interpolate.schemes": ["lol", "ri-optimal"], "interpolate.frames": 4,
                "jobs.budget_s": 5}  # the least: the path ends early, which is enough here
    workspace.save_workspace(workspace.Workspace(seed_sets={"faces-dcgan": seeds}, settings=settings), ws,
                             workspaces)
    tab = new_tab(browser)
    tab.goto(f"{server}/interpolate?ws={ws}")
    compute = tab.get_by_role("button", name=re.compile(r"Compute \(about \d+ s\)"))
    compute.wait_for()
    settle(tab)
    rows = tab.locator("[data-testid=stMain] .le-frames")
    assert rows.count() == 1 and rows.nth(0).locator("img").count() == 4  # LOL only
    assert tab.get_by_role("button", name="Cancel").count() == 0  # nothing started unasked

    compute.click()
    tab.get_by_text(re.compile(r"ri-optimal path · \d+ s of at most 5 s")).wait_for()
    jobs_done(tab)
    assert rows.count() == 2 and rows.nth(1).locator("img").count() == 4

    slider = tab.locator("[data-testid=stMain] [data-testid=stSlider]").filter(has_text="Frames").get_by_role("slider")
    slider.focus()
    slider.press("ArrowRight")  # 5 frames: LOL at once, the ri-optimal path out of date, no job
    tab.wait_for_function("() => document.querySelector('[data-testid=stMain] .le-frames').querySelectorAll('img')"
                          ".length === 5")
    settle(tab)
    tab.get_by_text("Out of date, not in the charts below: computed for 4 frames through a → b").wait_for()
    assert tab.get_by_role("button", name="Cancel").count() == 0 and compute.count() == 1
    no_errors(tab)
    shoot(tab, "interpolate-out-of-date")
    tab.context.close()
