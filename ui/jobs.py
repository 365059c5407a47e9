"""Long computations as jobs: run on a thread of their own while the page stays responsive, shown at the top of
the page with their progress, an estimate of the time left and a Cancel button, bounded by the session's time
budget, and stopped when their session ends.

A page asks for a result with :func:`run`: the first request starts a job (or queues it behind the one running:
one job per session at a time), later requests with the same key get the same job, and once it has ended, its
result (or that it was cancelled before it started). Rows of a page that change with every input (paths, centroids)
use :func:`on_request` instead: their work starts only when asked for, unless its measured cost says it takes at most
:data:`AUTO_S` seconds, and meanwhile their last result is shown as out of date. The work is a latentcore call that
takes ``progress``, ``budget_s`` and ``should_stop``; stopping (the budget spent, Cancel, the tab closed) ends it
with the best result reached so far, which latentcore labels as stopped early. Work stopped before it has a result
(a decode through a sampler, a reference, a start being measured) raises :class:`latentcore.Stopped` between two
steps, and its job ends quietly as cancelled.

A job belongs to its session: ``should_stop`` turns True once the session has ended (Streamlit's runtime drops a
session when its tab closes or reloads), and latentcore polls it between iterations and between the steps of every
decode through a sampler, so a closed tab leaves no work behind whatever the job was doing. Work a page's script runs
itself (a cost probe) polls :func:`script_stop` likewise. When a page asks for something new while its earlier
request still runs, the earlier one is replaced (cancelled) or waits its turn, as the user chooses in the job panel.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from latentcore.optimise import Stopped

from .server.threads import JOB_THREADS, start_thread
from .state import remember

BUDGET_S = (5, 600)
DEFAULT_BUDGET_S = 60
WHEN_BUSY = {"replace": "Replace it", "wait": "Wait for it"}
POLL_S = 0.5      # how often the job panel looks at a running job
FINISHED_KEPT = 32  # ended jobs whose results a page may ask for again
AUTO_S = 2.0      # work asked for on request (on_request) starts by itself when estimated to take at most this

Work = Callable[..., Any]   # work(progress=, budget_s=, should_stop=) -> result


@dataclass(eq=False)
class Job:
    """One long computation of a session: what ``owner`` (a page) asked for under ``key``; its state (queued,
    running, done, failed), progress and result. Written by its thread, read by the session's script runs."""

    key: tuple
    owner: str
    label: str
    work: Work
    budget_s: float
    state: str = "queued"
    fraction: float = 0.0
    text: str = ""
    started: float | None = None
    result: Any = None
    error: BaseException | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    def report(self, fraction: float, text: str) -> None:
        self.fraction, self.text = min(max(float(fraction), 0.0), 1.0), text


class SessionJobs:
    """The jobs of one session: a queue run one at a time by a worker thread that lives while there is work, the
    requests of the current script run (to replace what a page no longer asks for) and the last finished jobs."""

    def __init__(self, session_id: str | None):
        self.session_id = session_id
        self.queue: list[Job] = []
        self.finished: dict[tuple, Job] = {}
        self.requested: dict[str, set] = {}     # owner -> keys asked for in this script run
        self.lock = threading.Lock()
        self.worker: threading.Thread | None = None
        _ALL.add(self)

    def alive(self) -> bool:
        """False once Streamlit has dropped the session (tab closed or reloaded); always True without a server
        runtime (AppTest)."""
        if self.session_id is None or not Runtime.exists():
            return True
        return Runtime.instance().is_active_session(self.session_id)

    def request(self, key: tuple, owner: str, label: str, work: Work, budget_s: float) -> Job:
        self.requested.setdefault(owner, set()).add(key)
        with self.lock:
            for job in self.queue:
                if job.key == key:
                    return job
            if key in self.finished:
                return self.finished[key]
            job = Job(key, owner, label, work, budget_s)
            self.queue.append(job)
            if self.worker is None or not self.worker.is_alive():
                self.worker = start_thread(self._work, f"jobs-{self.session_id}", JOB_THREADS)
        return job

    def find(self, key: tuple, owner: str) -> Job | None:
        """The job for ``key`` if one was asked for and is still known (queued, running or ended), now asked for by
        ``owner`` in this script run; None otherwise (nothing is started)."""
        with self.lock:
            job = next((j for j in self.queue if j.key == key), None) or self.finished.get(key)
        if job is not None:
            self.requested.setdefault(owner, set()).add(key)
        return job

    def forget(self, key: tuple) -> None:
        """Drop an ended job, so that the next request computes it again."""
        with self.lock:
            self.finished.pop(key, None)

    def settle(self, owner: str, replace: bool) -> None:
        """At the end of a run of ``owner``'s page: with ``replace``, cancel its jobs it no longer asked for (a
        running one ends with its best result so far)."""
        asked = self.requested.pop(owner, set())
        if replace:
            with self.lock:
                for job in self.queue:
                    if job.owner == owner and job.key not in asked:
                        job.cancel.set()

    def active(self) -> list[Job]:
        with self.lock:
            return [job for job in self.queue if job.active]

    def _work(self) -> None:
        while True:
            with self.lock:
                job = next((j for j in self.queue if j.state == "queued"), None)
                if job is None:
                    self.worker = None
                    return
                job.state = "running"
            stop = lambda job=job: job.cancel.is_set() or not self.alive()  # noqa: E731
            try:
                if stop():  # cancelled while queued, or the session is gone
                    raise _Cancelled()
                job.started = time.monotonic()
                job.result = job.work(progress=job.report, budget_s=job.budget_s, should_stop=stop)
                job.state = "done"
            except Stopped:  # before it started, or before it had a result
                job.state = "cancelled"
            except Exception as err:  # noqa: BLE001 - shown on the page that asked, like any error there
                job.error, job.state = err, "failed"
            with self.lock:
                self.queue.remove(job)
                self.finished[job.key] = job
                while len(self.finished) > FINISHED_KEPT:
                    self.finished.pop(next(iter(self.finished)))
            if not self.alive():
                with self.lock:
                    for rest in self.queue:
                        rest.cancel.set()


class _Cancelled(Stopped):
    """A job stopped before it started."""


_ALL: "weakref.WeakSet[SessionJobs]" = weakref.WeakSet()


@atexit.register
def _stop_all(wait_s: float = 5.0) -> None:
    """At interpreter exit, stop every job and give the workers a moment to return (a thread killed inside torch
    aborts the process)."""
    workers = []
    for jobs in list(_ALL):
        with jobs.lock:
            for job in jobs.queue:
                job.cancel.set()
            if jobs.worker is not None:
                workers.append(jobs.worker)
    deadline = time.monotonic() + wait_s
    for worker in workers:
        worker.join(max(deadline - time.monotonic(), 0.0))


def session_jobs() -> SessionJobs:
    """This session's jobs (created on first use)."""
    if "jobs" not in st.session_state:
        ctx = get_script_run_ctx()
        st.session_state["jobs"] = SessionJobs(ctx.session_id if ctx is not None else None)
    return st.session_state["jobs"]


def script_stop() -> Callable[[], bool]:
    """A stop request for work a page's script runs itself (a cost probe, which no Cancel reaches): True once the
    session has ended, so that a closed tab leaves no work behind there either."""
    jobs = session_jobs()
    return lambda: not jobs.alive()


def session_budget() -> float:
    """The session's time budget for one long computation, in seconds (the sidebar's :func:`budget_widget`)."""
    return float(st.session_state.get("jobs.budget_s", DEFAULT_BUDGET_S))


def budget_widget() -> None:
    """The sidebar's time budget for one long computation (kept in the workspace)."""
    st.slider("Time budget for long computations (s)", *BUDGET_S, key=remember(
        "jobs.budget_s", DEFAULT_BUDGET_S, bounds=BUDGET_S), help="Optimised paths, centroids, inversions and "
        "comparisons stop when it is spent and keep the best result reached; a computation already running keeps "
        "the budget it started with")


def run(key: tuple, label: str, work: Work) -> Job:
    """The job that computes ``work(progress=, budget_s=, should_stop=)`` for ``key``: started (or queued) on the
    first request, the same job afterwards; ``job.state`` says whether it ended (``done``, ``failed``,
    ``cancelled`` before it started) and ``job.result`` is there. The page asking (set by :func:`ui.page`) owns
    it: its later runs may replace it. ``label``: what the job panel calls it."""
    budget = session_budget()
    job = session_jobs().request(key, st.session_state.get("jobs.owner", ""), label, work, budget)
    if job.active:
        st.session_state["jobs.watching"] = True  # the panel reruns the page when it ends
    return job


def result(job: Job, where=st, offer_again: bool = True):
    """The job's result once it is done (its error raised again if it failed); meanwhile None, with a line in
    ``where`` saying it is computing or waiting, or that it was cancelled before it started (``offer_again``: with
    a button to run it after all)."""
    if job.state == "done":
        return job.result
    if job.state == "failed":
        raise job.error
    if job.state == "cancelled":
        ended = "cancelled before it started" if job.started is None else "stopped before it had a result"
        where.caption(f"{job.label}: {ended}.")
        if offer_again:
            run_again(job, where, "Run it")
    elif job.state == "running":
        where.caption(f"{job.label}: computing; its progress is at the top of the page.")
    else:
        running = next((j for j in session_jobs().active() if j.state == "running"), None)
        before = ("its turn" if running is None else "for a cancelled computation to stop" if running.cancel.is_set()
                  else f"for the {'earlier ' * (running.label == job.label)}{running.label} to end")
        where.caption(f"{job.label}: waiting {before}; the queue is at the top of the page.")
    return None


def optimised(job: Job, label: str, where=st):
    """For a job whose work returns ``(value, stopping)`` (latentcore's ``return_stopping=True``): its value once
    it is done, else None (see :func:`result`); a value cut short by the budget or Cancel is labelled so in
    ``where``, with a button to run it again."""
    value, stopping = result(job, where) or (None, None)
    if stopping is not None and stopping.early:
        where.caption(f"{label}: {stopping.describe(loss=False)}.",
                      help=f"The loss, the figure the optimiser lowers, had reached {stopping.loss:.4g} (lower is "
                           "better; it compares runs of the same scheme on the same seeds only).")
        run_again(job, where)
    return value


@dataclass(frozen=True)
class Shown:
    """What a page shows for a computation asked for on request (:func:`on_request`): ``value`` (None when there is
    nothing to show) and whether it is ``current`` (computed for the inputs asked for) or an earlier result, out
    of date, with what it was computed for (``computed_for``)."""

    value: Any = None
    current: bool = True
    computed_for: str = ""


def on_request(slot: str, key: tuple, label: str, work: Work, estimate_s: float, computed_for: str,
               where=st) -> Shown:
    """An iterative computation that runs only when asked for, so that changing an input never starts a long job:
    for work already asked for under ``key`` (running, queued or done), see :func:`optimised`; otherwise it starts at
    once when ``estimate_s`` (seconds, from the model's measured cost) is at most :data:`AUTO_S`, else ``where``
    offers "Compute (about N s)". Meanwhile the slot's latest result (``slot``: one per row of a page, e.g. a
    scheme's) is shown as out of date, saying what it was ``computed_for``."""
    jobs = session_jobs()
    job = jobs.find(key, st.session_state.get("jobs.owner", ""))
    budget = session_budget()
    if job is None:
        seconds = min(estimate_s, budget)
        about = f"about {seconds:.0f} s" if seconds >= 1 else "under a second"
        if estimate_s <= AUTO_S or where.button(
                f"Compute ({about})", key=f"compute-{slot}", help=(
                    f"From this model's measured cost per iteration and the iteration limit; it stops sooner when "
                    f"it converges, and at the time budget ({budget:.0f} s, in the sidebar) at the latest")):
            job = run(key, label, work)
    if job is not None:
        if job.active:
            st.session_state["jobs.watching"] = True  # the panel reruns the page when it ends
        value = optimised(job, label, where)
        if value is not None:
            st.session_state[f"jobs.latest.{slot}"] = (key, computed_for)
            return Shown(value)
    latest = st.session_state.get(f"jobs.latest.{slot}")
    if latest is None or latest[0] == key:
        return Shown(None)
    with jobs.lock:
        earlier = jobs.finished.get(latest[0])  # looked at, not asked for again
    if earlier is None or earlier.state != "done":
        return Shown(None)
    return Shown(earlier.result[0], current=False, computed_for=latest[1])


def start(slot: str, key: tuple, label: str, work: Work) -> None:
    """Ask for a one-off computation (what a button asks for) under the name ``slot``; it runs as a job, and
    :func:`ended` hands its result over once."""
    st.session_state[f"jobs.pending.{slot}"] = (key, label, work)


def ended(slot: str, where=st):
    """The result of the computation started in ``slot``, the first time it is asked for after the job ended (its
    error raised again if it failed); None before, after, or when it was cancelled before it started."""
    pending = st.session_state.get(f"jobs.pending.{slot}")
    if pending is None:
        return None
    job = run(*pending)  # asked for again on every run of the page, so that it is not replaced
    if not job.active:
        del st.session_state[f"jobs.pending.{slot}"]
        session_jobs().forget(job.key)
    return result(job, where, offer_again=False)


def run_again(job: Job, where=st, label: str = "Run again") -> None:
    """A button that forgets the job's result and starts it again (e.g. with a larger time budget)."""
    if where.button(label, key=f"again-{hash(job.key)}", help="With the time budget set in the sidebar"):
        session_jobs().forget(job.key)
        run(job.key, job.label, job.work)
        st.rerun()


def own_jobs(owner: str) -> None:
    """At the start of a page run: jobs asked for in this run belong to the page ``owner``, and the page has not
    yet waited for any."""
    st.session_state["jobs.owner"] = owner
    st.session_state["jobs.watching"] = False


def job_panel(owner: str) -> None:
    """The session's running and queued jobs with progress, time left and Cancel, and what to do when busy.
    Settles ``owner``'s requests of this run first (replacing what it no longer asks for)."""
    jobs = session_jobs()
    jobs.settle(owner, st.session_state[remember("jobs.when_busy", "replace", options=WHEN_BUSY)] == "replace")
    st.fragment(_panel, run_every=POLL_S if jobs.active() else None)(jobs)


def _panel(jobs: SessionJobs) -> None:
    active = jobs.active()
    if not active:
        if st.session_state.pop("jobs.watching", False):  # a job this page waits for has ended: show its result
            st.rerun()
        return
    with st.container(border=True):
        for job in active:
            bar, button = st.columns([6, 1], vertical_alignment="center")
            if job.state == "queued":
                bar.progress(0.0, text=f"{job.label}: waiting for the computation before it")
            else:
                elapsed = time.monotonic() - (job.started or time.monotonic())
                detail = job.text.removeprefix(f"{job.label}: ") or "starting"  # latentcore's text may name it too
                bar.progress(job.fraction, text=f"{job.label} · {elapsed:.0f} s of at most {job.budget_s:.0f} s · "
                                                f"{detail}")
            if button.button("Cancel", key=f"cancel-{id(job)}", disabled=job.cancel.is_set(),
                             help="Stop now and keep the best result so far"):
                job.cancel.set()
        st.radio("When you ask for something new on a page while its computation runs", list(WHEN_BUSY),
                 format_func=WHEN_BUSY.get, horizontal=True, key=remember("jobs.when_busy", "replace",
                                                                          options=WHEN_BUSY))
