"""Latency of the app in a real browser (Debian's chromium, Playwright) on this machine: from a Subspace slider
step to the new image on screen (median and 95th percentile over 30 steps), per model, and the cold start from
launching `streamlit run` to the first decoded image on screen.

    python -m bench.server.app_latency
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from tools.launch import CHROMIUM, CHROMIUM_FLAGS, streamlit_server
from ui.sidebar import DEFAULT_MODEL

STEPS = 30


def slider_latency(page, url: str, model: str) -> list[float]:
    page.goto(f"{url}/?model={model}")
    page.get_by_role("button", name="Start with a demo").click()
    page.get_by_role("heading", name="Interpolate", level=1).wait_for()
    page.wait_for_selector("[data-test-script-state=notRunning]")
    page.get_by_role("link", name="Subspace", exact=True).first.click()
    page.get_by_role("heading", name="Subspace", level=1).wait_for()
    page.wait_for_selector("[data-test-script-state=notRunning]")
    image = page.locator("[data-testid=stMain] [data-testid=stImage] img").first
    image.wait_for()
    thumb = page.locator("[data-testid=stMain]").get_by_role("slider").first  # not the sidebar's
    thumb.focus()
    times = []
    for k in range(STEPS):
        before = image.get_attribute("src")
        start = time.perf_counter()
        thumb.focus()  # a fragment rerun may re-render the slider
        thumb.press("ArrowRight" if k < STEPS // 2 else "ArrowLeft")
        page.wait_for_function(
            "src => document.querySelector('[data-testid=stMain] [data-testid=stImage] img').src !== src",
            arg=before, polling=10)
        times.append(time.perf_counter() - start)
        page.wait_for_selector("[data-test-script-state=notRunning]")
    return times


def main():
    argparse.ArgumentParser(prog="python -m bench.server.app_latency",
                            description=__doc__.split("\n\n")[0]).parse_args()

    from playwright.sync_api import sync_playwright

    started = time.perf_counter()
    # workspaces (saved on every slider step) go to a scratch folder
    with streamlit_server(Path(tempfile.mkdtemp(prefix="le-bench-"))) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(120_000)
        page.goto(url)
        page.get_by_role("button", name="Start with a demo").click()
        page.locator("[data-testid=stMain] [data-testid=stImage] img").first.wait_for()
        cold = time.perf_counter() - started
        print(f"cold start (launch to the first decoded image, demo on {DEFAULT_MODEL}): {cold:.1f} s\n")
        print("| model | slider step to new image: median | 95th percentile |")
        print("|---|---|---|")
        for model in ("faces-dcgan", "digits-vae", "digits-ddim"):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            tab = context.new_page()
            tab.set_default_timeout(120_000)
            times = sorted(slider_latency(tab, url, model))
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            print(f"| {model} | {statistics.median(times) * 1e3:.0f} ms | {p95 * 1e3:.0f} ms |")
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
