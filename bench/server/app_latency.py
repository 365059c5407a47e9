"""Latency of the app in a real browser (Debian's chromium, Playwright) on this machine: from a Subspace slider
step to the new image on screen (median and 95th percentile over 30 steps), per model, and the cold start from
launching `streamlit run` to the first decoded image on screen.

With ``--neighbours N`` it measures instead one tab's slider beside N other real tabs on the same server (one
Chromium on a thread of its own, each tab its own browser context and workspace, each moving its first Subspace
slider back and forth, step after step without pause, or ``--neighbour-pause`` seconds apart): the measured tab's
median and 95th percentile over ``--steps`` steps alone and as many beside the neighbours, in alternating rounds,
so that both see the same machine, and how many steps a second the neighbours made meanwhile. The measured tab
walks points it never returns to, so each of its steps decodes (the server's cache of decoded images never
answers); ``--fresh-neighbours`` makes the neighbours walk so too. ``--baseline DIR ...`` also measures the app of
other checkouts (e.g. the version before a change) on a server of its own each, in the same alternating rounds, and
prints the ratios.

``--beside job`` measures the slider alone and beside a long computation of another session (a tab whose
ri-optimal path runs as a job while the slider moves, cancelled between rounds); ``--beside busy`` beside a
process that keeps one core busy (a neighbour on a shared machine). Both go with ``--baseline``.

    python -m bench.server.app_latency
    python -m bench.server.app_latency --neighbours 5 --steps 60 --model faces-dcgan
    python -m bench.server.app_latency --neighbours 5 --steps 100 --rounds 4 --baseline ../before
    python -m bench.server.app_latency --beside job --steps 60 --baseline ../before
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.report import add_save_option, saved_report
from tools.launch import CHROMIUM, CHROMIUM_FLAGS, streamlit_server
from ui.sidebar import DEFAULT_MODEL

STEPS = 30
LEG = 15  # slider steps one way before turning (a slider has 100 steps; see walk)
IMAGE = "[data-testid=stMain] [data-testid=stImage] img"
IMAGE_CHANGED = f"src => document.querySelector('{IMAGE}').src !== src"


def slider_latency(page, url: str, model: str) -> list[float]:
    """Seconds per step of the first slider, ``STEPS // 2`` steps one way and as many back."""
    image, sliders = open_subspace(page, url, model)
    thumb = sliders.first
    return [step(page, image, thumb, "ArrowRight" if k < STEPS // 2 else "ArrowLeft") for k in range(STEPS)]


def p95(times: list[float]) -> float:
    times = sorted(times)
    return times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


def walk(offset: int = 0):
    """Endless slider steps ``(slider, key)`` that never return to a point: first ``offset`` steps of the third
    slider (a line of the tab's own), then ``LEG`` steps of the first slider one way, one step of the second,
    ``LEG`` steps back, and so on; the second turns every 20 legs, and there the third takes one step instead. A
    point starts at the seeds' mean, at least 39 of the 100 steps from either end (3 basis seeds), so no slider
    reaches its end (where a key press changes nothing)."""
    yield from ((2, "ArrowRight") for _ in range(offset))
    legs = 0
    while True:
        yield from ((0, "ArrowRight" if legs % 2 == 0 else "ArrowLeft") for _ in range(LEG))
        legs += 1
        yield (2, "ArrowRight") if legs % 20 == 0 else (1, "ArrowRight" if legs // 20 % 2 == 0 else "ArrowLeft")


def sweep():
    """Endless steps of the first slider, ``LEG`` one way and ``LEG`` back: after the first pass every image comes
    from the server's cache of decoded images."""
    while True:
        yield from ((0, key) for key in ("ArrowRight", "ArrowLeft") for _ in range(LEG))


def open_subspace(page, url: str, model: str):
    """The Subspace page of a new demo workspace on ``model``: its image and its sliders (not the sidebar's)."""
    page.goto(f"{url}/?model={model}")
    page.get_by_role("button", name="Start with a demo").click()
    page.get_by_role("heading", name="Interpolate", level=1).wait_for()
    page.wait_for_selector("[data-test-script-state=notRunning]")
    page.get_by_role("link", name="Subspace", exact=True).first.click()
    page.get_by_role("heading", name="Subspace", level=1).wait_for()
    page.wait_for_selector("[data-test-script-state=notRunning]")
    image = page.locator(IMAGE).first
    image.wait_for()
    return image, page.locator("[data-testid=stMain]").get_by_role("slider")


def step(page, image, thumb, key: str) -> float:
    """One slider step: seconds from the key press to the new image on screen."""
    before = image.get_attribute("src")
    start = time.perf_counter()
    thumb.focus()  # a fragment rerun may re-render the slider
    thumb.press(key)
    page.wait_for_function(IMAGE_CHANGED, arg=before, polling=10)
    seconds = time.perf_counter() - start
    page.wait_for_selector("[data-test-script-state=notRunning]")
    return seconds


class Neighbours:
    """``n`` browser tabs (one Chromium, a context each) on one thread of their own (Playwright's async API), each
    moving its Subspace sliders step after step while not paused."""

    def __init__(self, url: str, model: str, n: int, fresh: bool, pause: float = 0.0):
        self.url, self.model, self.n, self.fresh, self.pause_s = url, model, n, fresh, pause
        self.paused = threading.Event()
        self.stopping = threading.Event()
        self.ready = threading.Barrier(n + 1)
        self.idle = 0
        self.steps = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=asyncio.run, args=(self._run(),), daemon=True)

    def __enter__(self):
        self.paused.set()
        self._thread.start()
        self.ready.wait(timeout=600)
        self.pause()
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self.stopping.set()
        self.paused.clear()
        self._thread.join(timeout=120)

    def pause(self) -> None:
        """Stop the neighbours after their current step, and wait until they have."""
        self.paused.set()
        while self.idle < self.n and not self.errors:
            time.sleep(0.02)

    def resume(self) -> None:
        with self._lock:
            self.idle = 0
        self.paused.clear()

    async def _run(self):
        from playwright.async_api import async_playwright

        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            await asyncio.gather(*(self._tab(browser, k) for k in range(self.n)))
            await browser.close()

    async def _tab(self, browser, k: int):
        context = await browser.new_context(viewport={"width": 1400, "height": 1000})
        page = await context.new_page()
        page.set_default_timeout(120_000)
        try:
            await page.goto(f"{self.url}/?model={self.model}")
            await page.get_by_role("button", name="Start with a demo").click()
            await page.get_by_role("heading", name="Interpolate", level=1).wait_for()
            await page.wait_for_selector("[data-test-script-state=notRunning]")
            await page.get_by_role("link", name="Subspace", exact=True).first.click()
            await page.get_by_role("heading", name="Subspace", level=1).wait_for()
            await page.wait_for_selector("[data-test-script-state=notRunning]")
            image = page.locator(IMAGE).first
            await image.wait_for()
            sliders = page.locator("[data-testid=stMain]").get_by_role("slider")
        except Exception as err:  # noqa: BLE001 - reported by the run, which then stops
            self.errors.append(f"neighbour {k}: {err}")
            raise
        finally:
            await asyncio.to_thread(self.ready.wait, 600)
        idle = False
        for slider, key in walk(offset=3 * (k + 1)) if self.fresh else sweep():
            while self.paused.is_set() and not self.stopping.is_set():
                if not idle:
                    idle = True
                    with self._lock:
                        self.idle += 1
                await asyncio.sleep(0.02)
            if self.stopping.is_set():
                break
            idle = False
            thumb = sliders.nth(slider)
            before = await image.get_attribute("src")
            await thumb.focus()
            await thumb.press(key)
            await page.wait_for_function(IMAGE_CHANGED, arg=before, polling=10)
            await page.wait_for_selector("[data-test-script-state=notRunning]")
            with self._lock:
                self.steps += 1
            await asyncio.sleep(self.pause_s)
        await context.close()


class BusyCore:
    """A process that keeps one core busy while resumed (a neighbour on a shared machine)."""

    def __init__(self):
        self.steps, self.errors, self._proc = 0, [], None

    def resume(self) -> None:
        self._proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])

    def pause(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    close = pause


class RunningJob:
    """Another session's long computation while resumed: a tab of its own whose Interpolate page computes a
    ri-optimal path on ``model`` as a job (600 s budget), cancelled when paused."""

    def __init__(self, browser, url: str, model: str, workspaces: Path):
        self.steps, self.errors = 0, []
        from latentcore import models
        from ui.server import workspace
        from ui.server.seed_set import SeedSet

        ws = workspace.new_workspace_id()
        seeds = SeedSet(models.load(model, device="cpu").prior.sample(2, seed=0, device="cpu"), ["a", "b"])
        settings = {"model": model, "interpolate.schemes": ["ri-optimal"], "interpolate.frames": 16,
                    "jobs.budget_s": 600}
        workspace.save_workspace(workspace.Workspace(seed_sets={model: seeds}, settings=settings), ws,
                                 str(workspaces))
        self._context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self._context.new_page()
        self.page.set_default_timeout(120_000)
        self.page.goto(f"{url}/interpolate?ws={ws}")
        self.page.wait_for_selector("[data-test-script-state=notRunning]")

    def resume(self) -> None:
        compute = self.page.get_by_role("button", name=re.compile(r"Compute \(about .*\)|Run again"))
        compute.first.click()
        self.page.get_by_text(re.compile(r"ri-optimal path · \d+ s of at most 600 s")).first.wait_for()

    def pause(self) -> None:
        self.page.get_by_role("button", name="Cancel").click()
        self.page.get_by_text(re.compile(r"stopped early on request")).first.wait_for()
        self.page.wait_for_selector("[data-test-script-state=notRunning]")

    def close(self) -> None:
        self._context.close()


def beside_neighbours(browser, servers: dict[str, tuple[str, Path]], model: str, steps: int, rounds: int,
                      neighbours_of, label: str, heading: str) -> None:
    """On each server (label -> (address, workspace folder)): a measured tab's slider alone and beside the
    neighbours ``neighbours_of(address, folder)`` make (``resume()`` / ``pause()``, ``steps``, ``errors``),
    ``steps`` steps each, in ``rounds`` alternating rounds (per round and server: alone, then beside; the other
    servers' neighbours wait meanwhile); prints a table under ``heading``, the rows beside them named ``label``."""
    n = 1
    times = {(name, beside): [] for name in servers for beside in (0, n)}
    busy = {name: [0.0, 0] for name in servers}  # seconds beside the neighbours, and the neighbours' steps then
    load = []
    with contextlib.ExitStack() as stack:
        tabs = {}
        for name, (url, folder) in servers.items():
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            stack.callback(context.close)
            page = context.new_page()
            page.set_default_timeout(120_000)
            tabs[name] = (page, *open_subspace(page, url, model), walk(),
                          stack.enter_context(contextlib.closing(neighbours_of(url, folder))))
        for r in range(rounds):
            count = steps // rounds + (r < steps % rounds)
            for name, (page, image, sliders, walker, neighbours) in tabs.items():
                for beside in (0, n):
                    if beside:
                        neighbours.resume()
                        time.sleep(1.0)  # the neighbours under way
                        started, before = time.perf_counter(), neighbours.steps
                    for _ in range(count):
                        slider, key = next(walker)
                        times[name, beside].append(step(page, image, sliders.nth(slider), key))
                        if neighbours.errors:
                            raise RuntimeError("; ".join(neighbours.errors))
                    if beside:
                        busy[name][0] += time.perf_counter() - started
                        busy[name][1] += neighbours.steps - before
                        neighbours.pause()
                    load.append(os.getloadavg()[0])
    print(f"{heading}; {steps} steps each way, in {rounds} alternating rounds; load average {min(load):.1f} to "
          f"{max(load):.1f}\n")
    print("| server | measured tab | slider step to new image: median | 95th percentile | max | neighbours' steps |")
    print("|---|---|---|---|---|---|")
    for (name, beside), t in times.items():
        rate = f"{busy[name][1] / busy[name][0]:.1f} a second" if beside and busy[name][1] else ""
        print(f"| {name} | {label if beside else 'alone'} | {statistics.median(t) * 1e3:.0f} ms | "
              f"{p95(t) * 1e3:.0f} ms | {max(t) * 1e3:.0f} ms | {rate} |")
    print()
    for name in servers:
        ratio = [f(times[name, n]) / f(times[name, 0]) for f in (statistics.median, p95)]
        print(f"{name}, {label} / alone: median {ratio[0]:.2f}x, 95th percentile {ratio[1]:.2f}x")
    new, *olds = servers
    for old in olds:
        for beside in (0, n):
            ratio = [f(times[new, beside]) / f(times[old, beside]) for f in (statistics.median, p95)]
            print(f"{label if beside else 'alone'}, {new} / {old}: median {ratio[0]:.2f}x, 95th percentile "
                  f"{ratio[1]:.2f}x")


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.server.app_latency",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--neighbours", type=int, default=0, metavar="N",
                        help="measure one tab's slider alone and beside N other tabs moving theirs")
    parser.add_argument("--beside", choices=("job", "busy"), default=None,
                        help="measure one tab's slider alone and beside another session's job (job) or a process "
                             "keeping one core busy (busy)")
    parser.add_argument("--steps", type=int, default=60, help="with --neighbours: slider steps measured each way")
    parser.add_argument("--rounds", type=int, default=3, help="with --neighbours: alternating rounds")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="with --neighbours: the model of every tab")
    parser.add_argument("--baseline", type=Path, nargs="+", default=[], metavar="DIR",
                        help="with --neighbours: also measure the app of each checkout DIR (e.g. the version before a "
                             "change) on a server of its own, in the same alternating rounds")
    parser.add_argument("--neighbour-pause", type=float, default=0.0, metavar="SECONDS",
                        help="with --neighbours: each neighbour waits this long after each step (default: none)")
    parser.add_argument("--fresh-neighbours", action="store_true",
                        help="with --neighbours: each neighbour step a new point, decoded (default: back and forth "
                             "over the same points, their images soon cached)")
    add_save_option(parser)
    args = parser.parse_args()
    mode = [f"beside-{args.beside}"] if args.beside else [f"{args.neighbours}-tabs"] if args.neighbours else []
    suffix = None if args.save is None else args.save or "-".join([*mode, args.model] if mode else [])

    from playwright.sync_api import sync_playwright

    started = time.perf_counter()
    # workspaces (saved on slider steps) go to a scratch folder
    with saved_report("bench.server.app_latency", suffix), contextlib.ExitStack() as stack:
        folder = Path(tempfile.mkdtemp(prefix="le-bench-"))
        url = stack.enter_context(streamlit_server(folder))
        p = stack.enter_context(sync_playwright())
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(120_000)
        page.goto(url)
        page.get_by_role("button", name="Start with a demo").click()
        page.locator("[data-testid=stMain] img").first.wait_for()  # a frame of the demo's paths
        cold = time.perf_counter() - started
        print(f"cold start (launch to the first decoded image, demo on {DEFAULT_MODEL}): {cold:.1f} s\n")
        if args.neighbours or args.beside:
            servers = {"this checkout": (url, folder)}
            for baseline in args.baseline:
                other = Path(tempfile.mkdtemp(prefix="le-bench-"))
                servers[f"baseline ({baseline})"] = (
                    stack.enter_context(streamlit_server(other, root=baseline.resolve())), other)
            if args.beside == "job":
                make, label = (lambda url, folder: RunningJob(browser, url, args.model, folder),
                               "beside another session's job")
                heading = f"{args.model}: one tab's slider alone and beside another session's ri-optimal path job"
            elif args.beside == "busy":
                make, label = lambda url, folder: BusyCore(), "beside a busy core"
                heading = f"{args.model}: one tab's slider alone and beside a process keeping one core busy"
            else:
                n, fresh, pause = args.neighbours, args.fresh_neighbours, args.neighbour_pause
                make = lambda url, folder: Neighbours(url, args.model, n, fresh, pause).__enter__()  # noqa: E731
                label = f"beside {n} tabs"
                walked = "each step a new point" if fresh else "back and forth"
                paced = f"{pause:g} s after each step" if pause else "without pause"
                heading = (f"{args.model}: one tab's slider alone and beside {n} other tabs moving theirs {paced} "
                           f"({walked})")
            beside_neighbours(browser, servers, args.model, args.steps, args.rounds, make, label, heading)
            browser.close()
            return
        print("| model | slider step to new image: median | 95th percentile |")
        print("|---|---|---|")
        for model in ("faces-dcgan", "digits-vae", "digits-ddim"):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            tab = context.new_page()
            tab.set_default_timeout(120_000)
            times = sorted(slider_latency(tab, url, model))
            print(f"| {model} | {statistics.median(times) * 1e3:.0f} ms | {p95(times) * 1e3:.0f} ms |")
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
