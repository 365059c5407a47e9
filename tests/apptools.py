"""Helpers for AppTest runs of the app: long computations run as jobs on threads (ui.jobs), so a test waits for
the session's jobs to end and runs the script again, as the job panel does in a browser."""

import html
import re
import time


def finish_jobs(at, timeout: float = 300.0):
    """Wait until the session of ``at`` has no queued or running job; then, unless the page already ran again
    after they ended (the job panel does that when a job ends during a run), run it again. Returns ``at``."""
    deadline = time.monotonic() + timeout
    jobs = at.session_state["jobs"] if "jobs" in at.session_state else None
    while jobs is not None and jobs.active():
        if time.monotonic() > deadline:
            raise TimeoutError(f"jobs still running after {timeout:.0f} s: {[j.label for j in jobs.active()]}")
        time.sleep(0.05)
    if "jobs.watching" in at.session_state and at.session_state["jobs.watching"]:
        at.run()
    return at


def ask_for_all(at):
    """Press every "Compute (about N s)" button (iterative rows that did not start by themselves, ui.jobs.on_request,
    which depends on how long this machine takes), then wait for the jobs (:func:`finish_jobs`). Returns ``at``."""
    while pressed := [b for b in at.button if b.label.startswith("Compute (")]:
        pressed[0].click().run()
    return finish_jobs(at)


def frame_bodies(at) -> list[str]:
    """The HTML of each row (or grid) of images a page drew with ui.frames.image_row, in order."""
    return [element.proto.body for element in at.main.get("html") if 'class="le-frames"' in element.proto.body]


def frame_rows(at) -> list[list[str]]:
    """The rows (or grids) of images a page drew with ui.frames.image_row, in order: each as its images' captions."""
    return [[html.unescape(c) for c in re.findall(r"<figcaption>(.*?)</figcaption>", body)]
            for body in frame_bodies(at)]


def frame_images(at) -> list[list[str]]:
    """The same rows, each as its images' data (PNG data URLs): equal when the images are."""
    return [re.findall(r'src="(data:image/(?:png|jpeg);base64,[^"]*)"', body) for body in frame_bodies(at)]
