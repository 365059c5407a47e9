"""Many sessions against one server: N concurrent sessions (N = 1, 5, 10, 20) on one `streamlit run app.py` on
localhost, each running the Home page's demo, opening Subspace and moving its first slider 10 times, per model.

The sessions are light clients that speak Streamlit's own websocket protocol (``/_stcore/stream``, the
``BackMsg`` and ``ForwardMsg`` protobufs Streamlit ships), as the browser's frontend does: a widget change is a
``rerun_script`` message with the widget's new state (and, for a widget inside an ``st.fragment``, the fragment's
id); the server answers with deltas (elements, images as ``/media/...`` addresses) and ``script_finished``. No
browser runs, so N browsers on the same cores do not decide the figure (in a classroom they run on the students'
machines).

Each session waits before each slider move: ``--pauses`` gives the mean wait (each one drawn between 0.5 and 1.5
times it); the default runs 1 s (a student looking at each image) and 0 (sliders moved back to back, each move
sent as soon as the last image arrived). Per model, pause and N it reports:

- slider move, end to end: from sending the new slider value to the new image fetched from ``/media`` (fetched as
  soon as its delta arrives, as a browser does; median, 95th percentile and max over all sessions' moves), and the
  server's time per rerun: from sending to ``script_finished`` (the script ran, its deltas reached the client);
- the demo: from the click on "Start with a demo" to the end of the Interpolate page's run;
- failures: a session that raised, timed out, or whose page showed an error or exception;
- cross-talk: each session has its own workspace (its own ``?ws=`` id), moves its slider to values no other
  session uses, and checks every image it gets against the image of its own seeds at its own coordinates
  (decoded here afterwards; the page's JPEG within 3 grey levels on average and nearer to its own image than to
  any other session's at the same move); at the end it adds its point to its seeds and checks that the Basis list
  shows its own point's name and no other session's, and that its seed count is 9;
- the CPU the server used (``/proc/<pid>/stat``: cores busy on average, 2 = both cores) and the client's own.

    python -m bench.server.load                       # all models, N = 1, 5, 10, 20, pauses 1 s and 0
    python -m bench.server.load --models digits-vae --sizes 1 5 --pauses 0
    python -m bench.server.load --models digits-vae --sizes 20 --pauses 0 --profile profile.txt   # py-spy at N = 20
    python -m bench.server.load --app DIR             # another checkout's app (e.g. an older one), the same sessions
    python -m bench.server.load --with-job --models digits-vae   # 5 sessions alone, then beside a ri-optimal job

``--with-job`` measures isolation: per model and pause, the N sessions (N = 5 unless ``--sizes`` says otherwise)
run twice on the same server, first alone, then while one more session keeps a ri-optimal path job running (its
workspace preset with 8 seeds chained on the Interpolate page, 16 frames per leg, a 600 s budget; when a job ends
the session asks for another by changing the frames, so one runs throughout). That session polls its job panel
every 0.5 s as the browser does, and is closed after the sliders' run; the next run waits until the server is
idle again. It reports the slider figures of both runs, their ratio (job / alone), and the job's iterations and
the share of polls that found it running during the sliders' run.

``--processes K [K ...]`` serves each model with ``python -m tools.serve`` instead: K app processes on one
workspace store behind HAProxy, the sessions connecting to the proxy (each keeps the proxy's affinity cookie, as a
browser does); per model, pause and N it adds, for each K against the smallest, the ratio of slider medians and of
moves per second of all sessions (the capacity a process adds).

    python -m bench.server.load --models digits-vae --processes 1 2 --sizes 1 10 20 40 --save proxy

``--profile FILE`` samples the server with py-spy (``pip install -e .[bench]``) during the run of the largest N
with the first pause given (the demo and the slider moves) and prints where its time goes, by part (script runs,
decoding, image serialisation, plotly figures, workspace saves, ...) and by function.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import websockets
from PIL import Image
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

import latentcore as lc
import latentcore.models as models
from ui.server import workspace
from latentcore.imaging import to_uint8
from ui.server.seed_set import SeedSet
from tools.launch import ROOT, streamlit_server
from tools.serve import ClassServer
from bench.report import add_save_option, saved_report

SIZES = (1, 5, 10, 20)
PAUSES = (1.0, 0.0)  # a student looking at each image for about a second; sliders moved back to back
MODELS = ("digits-vae", "digits-ddim", "faces-dcgan")
MOVES = 10
TIMEOUT_S = 600  # one script run, on 2 busy cores
FINISHED, FRAGMENT_FINISHED, EARLY = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
                                      ForwardMsg.FINISHED_EARLY_FOR_RERUN)
TICKS = os.sysconf("SC_CLK_TCK")
JOB_SEEDS, JOB_FRAMES = 8, 16  # the job session's chain: 7 legs of 16 frames
IDLE_CORES = 0.15  # the server counts as idle below this CPU share


@dataclass
class Move:
    value: float
    sent: float
    finished: float
    fetched: float
    image: bytes


@dataclass
class Session:
    """One light client: its websocket, what the server drew (elements by delta path), its query string and
    pages."""

    url: str
    model: str
    index: int
    elements: dict = field(default_factory=dict)
    query: str = ""
    pages: dict = field(default_factory=dict)
    page: str = ""
    problems: list = field(default_factory=list)
    moves: list = field(default_factory=list)
    demo_s: float = 0.0
    sliders: list = field(default_factory=list)   # the Subspace sliders' values before the moves
    point_check: str = ""
    auto_rerun: tuple = ()   # (fragment id, interval) of the page's self-rerunning fragment (the job panel)
    progress: list = field(default_factory=list)  # texts of the progress bars drawn in the last rerun
    cookie: str = ""         # what the page set (the proxy's affinity cookie), sent with every request

    async def open(self):
        """Load the page first, as a browser does, keeping the cookies it sets (behind ``tools.serve``'s proxy, the
        one that keeps this session on its process); then open the websocket with them."""
        def page_cookies():
            with urllib.request.urlopen(self.url + "/", timeout=TIMEOUT_S) as response:
                return "; ".join(c.split(";", 1)[0] for c in response.headers.get_all("Set-Cookie") or [])
        self.cookie = await asyncio.to_thread(page_cookies)
        stream = self.url.replace("http://", "ws://") + "/_stcore/stream"
        self.ws = await websockets.connect(stream, subprotocols=["streamlit"], max_size=None, open_timeout=TIMEOUT_S,
                                           ping_interval=None,
                                           additional_headers={"Cookie": self.cookie} if self.cookie else None)

    async def close(self):
        await self.ws.close()

    async def rerun(self, widgets=(), fragment: str = "", page: str | None = None, until=(FINISHED,),
                    watch: str | None = None, auto: bool = False):
        """Send a rerun (as the frontend does on a widget change) and read the server's messages until the run
        ends with a status in ``until``. Returns when the message was sent, and the fetch (started as its delta
        arrives, as a browser does) of the image captioned ``watch``, if given."""
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query
        state.page_script_hash = self.page if page is None else page
        for widget_id, kind, value in widgets:
            w = state.widget_states.widgets.add()
            w.id = widget_id
            if kind == "trigger":
                w.trigger_value = True
            else:
                w.double_array_value.data.extend(value)
        if fragment:
            state.fragment_id = fragment
            state.is_auto_rerun = auto
        else:
            self.elements.clear()  # a full run draws the page anew
        self.progress = []
        sent, fetch = time.perf_counter(), None
        await self.ws.send(msg.SerializeToString())
        while True:
            fwd = ForwardMsg()
            fwd.ParseFromString(await asyncio.wait_for(self.ws.recv(), TIMEOUT_S))
            kind = fwd.WhichOneof("type")
            if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                element = fwd.delta.new_element
                self.elements[tuple(fwd.metadata.delta_path)] = (element, fwd.delta.fragment_id)
                what = element.WhichOneof("type")
                if what == "imgs" and watch is not None and element.imgs.imgs[0].caption == watch:
                    fetch = asyncio.create_task(self.fetch(element.imgs.imgs[0].url))
                if what == "progress":
                    self.progress.append(element.progress.text)
                if what == "exception" or (what == "alert" and element.alert.format == element.alert.ERROR):
                    self.problems.append(f"the page showed an error: {str(getattr(element, what))[:300]}")
            elif kind == "page_info_changed":
                self.query = fwd.page_info_changed.query_string
            elif kind == "navigation":
                self.page = fwd.navigation.page_script_hash
                self.pages = {p.url_pathname or "home": p.page_script_hash for p in fwd.navigation.app_pages}
            elif kind == "auto_rerun":
                self.auto_rerun = (fwd.auto_rerun.fragment_id, fwd.auto_rerun.interval)
            elif kind == "script_finished":
                if fwd.script_finished in until:
                    return sent, fetch
                if fwd.script_finished != EARLY:
                    raise RuntimeError(f"the run ended with status {fwd.script_finished}")

    def find(self, kind: str, label: str | None = None, caption: str | None = None):
        """The element of ``kind`` drawn last with this label or image caption, and its fragment id."""
        for element, fragment in self.elements.values():
            if element.WhichOneof("type") != kind:
                continue
            inner = getattr(element, kind)
            if label is not None and inner.label == label:
                return inner, fragment
            if caption is not None and any(i.caption == caption for i in inner.imgs):
                return inner, fragment
        raise RuntimeError(f"no {kind} {label or caption!r} on the page")

    async def fetch(self, path: str) -> tuple[bytes, float, str]:
        """The file at ``path`` on the server, when it arrived, and its address."""
        def get():
            request = urllib.request.Request(self.url + path, headers={"Cookie": self.cookie} if self.cookie else {})
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                return response.read()
        data = await asyncio.to_thread(get)
        return data, time.perf_counter(), path

    async def run(self, offset: float, pause: float):
        """The demo, Subspace, ``MOVES`` slider moves to values of this session's own (each after a pause of
        ``pause`` seconds on average, 0.5 to 1.5 times it), then the point added."""
        self.query = f"model={self.model}"
        await self.rerun()  # Home
        demo, _ = self.find("button", "Start with a demo")
        started = time.perf_counter()
        await self.rerun(widgets=[(demo.id, "trigger", None)])
        self.demo_s = time.perf_counter() - started
        await self.rerun(page=self.pages["subspace"])
        sliders = [self.find("slider", f"h{k + 1}")[0] for k in range(3)]
        self.sliders = [s.value[0] for s in sliders]
        h1, fragment = self.find("slider", "h1")
        image = self.find("imgs", caption="current point")[0].imgs[0].url
        pauses = random.Random(self.index).uniform
        for k in range(MOVES):
            await asyncio.sleep(pause * pauses(0.5, 1.5))  # the student looks at the image
            # golden-ratio steps: every session's values differ from every other's at every move
            frac = 0.1 + 0.8 * ((self.index * 0.6180339887 + k * 0.1 + offset) % 1.0)
            value = h1.min + (h1.max - h1.min) * frac
            sent, fetch = await self.rerun(widgets=[(h1.id, "values", [value])], fragment=fragment,
                                           until=(FRAGMENT_FINISHED,), watch="current point")
            finished = time.perf_counter()
            if fetch is None:
                raise RuntimeError(f"move {k}: no new image came")
            data, fetched, url = await fetch
            if url == image:
                self.problems.append(f"move {k}: the image did not change")
            image = url
            self.moves.append(Move(value, sent, finished, fetched, data))
        add, fragment = self.find("button", "Add to the seeds")
        await self.rerun(widgets=[(add.id, "trigger", None)], fragment=fragment)
        names = [n for n in self.find("multiselect", "Basis seeds (2 to 6)")[0].options if "subspace point" in n]
        count = self.find("metric", "Seeds in the set")[0].body
        self.point_check = f"{names}|{count}"
        await self.close()


class JobSession(Session):
    """A session that keeps a ri-optimal path job running on the server: its workspace chains ``JOB_SEEDS`` seeds
    on the Interpolate page with the ri-optimal scheme alone; it polls the job panel as the browser does and, when
    a job has ended, changes the frames to ask for another."""

    def __init__(self, url: str, model: str, store: Path):
        super().__init__(url, model, -1)
        ws = workspace.new_workspace_id()
        seeds = models.load(model).prior.sample(JOB_SEEDS, seed=1)
        names = [f"job seed {k}" for k in range(JOB_SEEDS)]
        settings = {"model": model, "interpolate.chain": True, "interpolate.stops": names,
                    "interpolate.schemes": ["ri-optimal"], "interpolate.frames": JOB_FRAMES, "jobs.budget_s": 600}
        workspace.save_workspace(workspace.Workspace(seed_sets={model: SeedSet(seeds, names)}, settings=settings),
                                 ws, store)
        self.query = f"ws={ws}"
        self.iterations = 0       # iterations of all its jobs seen so far
        self.polls = []           # per poll: whether a job was running
        self.jobs = 0             # jobs asked for
        self._last = 0

    async def start(self):
        """Open the Interpolate page (its job starts) and return once the job panel shows the job."""
        await self.open()
        await self.rerun()  # Home, with the workspace of the query string
        await self.rerun(page=self.pages["interpolate"])
        self.jobs = 1
        while not self._note():
            await self.poll()

    def _note(self) -> bool:
        """Count the iterations shown by the last rerun's progress; whether a job was running."""
        found = [int(m.group(1)) for text in self.progress for m in [re.search(r"iteration (\d+)", text)] if m]
        if found:
            self.iterations += max(found[0] - self._last, 0)
            self._last = found[0]
        return bool(self.progress)

    async def poll(self):
        """One rerun of the job panel after its interval (a full run follows when the job has ended); if no job
        runs any more, ask for another (new frames: a new path)."""
        fragment, interval = self.auto_rerun or ("", 0.5)
        await asyncio.sleep(interval)
        await self.rerun(fragment=fragment, auto=True, until=(FRAGMENT_FINISHED, FINISHED))
        self.polls.append(self._note())
        if not self.polls[-1]:
            frames, _ = self.find("slider", "Frames per leg")
            self.auto_rerun, self._last = (), 0
            await self.rerun(widgets=[(frames.id, "values", [JOB_FRAMES + self.jobs % 2])])
            self.jobs += 1
            self._note()

    async def keep(self, until: asyncio.Event):
        while not until.is_set():
            await self.poll()


def expected_images(model_name: str, session: Session) -> np.ndarray:
    """The images this session's moves should show: its demo seeds (the Home page samples 8 with seed 0), the
    subspace of the first three, LOL, the slider values it sent."""
    model = models.load(model_name)
    seeds = model.prior.sample(8, seed=0)
    sub = lc.Subspace(seeds[:3], prior=model.prior)
    h = torch.tensor([[m.value, *session.sliders[1:]] for m in session.moves])
    steps = {"steps": model.sampler.default} if model.sampler is not None else {}
    return to_uint8(model.decode(sub.to_latents(h, lol=True), **steps))


def check_cross_talk(model_name: str, sessions: list[Session]) -> tuple[int, int, list[str]]:
    """(images right, images checked, problems): each image near its own expected image and nearer to it than to
    any other session's at the same move; the added point's name its own and alone; distinct workspaces."""
    done = [s for s in sessions if len(s.moves) == MOVES]
    expected = {s.index: expected_images(model_name, s).astype(np.float32) for s in done}
    right, checked, problems = 0, 0, []
    for s in done:
        for k, move in enumerate(s.moves):
            got = np.asarray(Image.open(io.BytesIO(move.image)), dtype=np.float32)
            own = np.abs(got - expected[s.index][k]).mean()
            others = [np.abs(got - expected[o.index][k]).mean() for o in done if o is not s]
            checked += 1
            if own <= 3.0 and all(own < d for d in others):
                right += 1
            else:
                problems.append(f"session {s.index} move {k}: off its own image by {own:.1f} grey levels"
                                f"{f', nearest other {min(others):.1f}' if others else ''}")
        names, count = s.point_check.split("|")
        own_name = f"subspace point ({s.moves[-1].value:.2f}, "
        if count != "9" or names.count("subspace point") != 1 or own_name not in names:
            problems.append(f"session {s.index}: after adding its point it saw {names} and {count} seeds")
    spaces = [s.query for s in sessions]
    if len({q.split("ws=")[-1] for q in spaces}) != len(spaces):
        problems.append(f"sessions share a workspace: {spaces}")
    return right, checked, problems


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of processes and their waited-for children (``/proc/<pid>/stat``)."""
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += sum(int(x) for x in fields[11:15]) / TICKS
    return total


def server_pid() -> int:
    """The `streamlit run` process this benchmark started (a child of this process)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if ppid == os.getpid() and b"streamlit" in cmdline:
                return int(entry.name)
    raise RuntimeError("the server process was not found")


async def one_load(url: str, model: str, n: int, offset: float, pause: float, pids: list[int],
                   profile: Path | None):
    sessions = [Session(url, model, i) for i in range(n)]
    await asyncio.gather(*(s.open() for s in sessions))  # all connected, then all start at once
    spy = None
    if profile is not None:
        spy = subprocess.Popen(["py-spy", "record", "--pid", str(pids[0]), "--rate", "50", "--nonblocking", "--format",
                                "raw", "--output", str(profile)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cpu, own, wall = cpu_seconds(pids), time.process_time(), time.perf_counter()
    results = await asyncio.gather(*(s.run(offset, pause) for s in sessions), return_exceptions=True)
    wall = time.perf_counter() - wall
    cpu, own = cpu_seconds(pids) - cpu, time.process_time() - own
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(60)
    for s, result in zip(sessions, results):
        if isinstance(result, BaseException):
            s.problems.append(f"{type(result).__name__}: {result}")
    return sessions, cpu / wall, own / wall, wall


async def beside_job(url: str, model: str, n: int, offset: float, pause: float, pids: list[int], store: Path):
    """:func:`one_load` while a :class:`JobSession` keeps a ri-optimal job running; the job session is closed
    afterwards. Also returns (job iterations during the sliders' run, share of polls that found a job running,
    jobs asked for in all)."""
    job = JobSession(url, model, store)
    await job.start()
    done = asyncio.Event()
    before, polls = job.iterations, len(job.polls)
    keeper = asyncio.create_task(job.keep(done))
    result = await one_load(url, model, n, offset, pause, pids, None)
    done.set()
    await keeper
    running = job.polls[polls:]
    await job.close()
    return result, (job.iterations - before, sum(running) / max(len(running), 1), job.jobs)


def wait_idle(pids: list[int], timeout_s: float = 60.0) -> float:
    """Wait (measuring 1 s windows) until the server uses less than ``IDLE_CORES``; its last share."""
    deadline = time.monotonic() + timeout_s
    while True:
        before, start = cpu_seconds(pids), time.monotonic()
        time.sleep(1.0)  # a measuring window
        share = (cpu_seconds(pids) - before) / (time.monotonic() - start)
        if share < IDLE_CORES or time.monotonic() > deadline:
            return share


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def report(model: str, n: int, pause: float, sessions, server_cores, client_cores, wall, job=None,
           processes: int | None = None) -> dict:
    moves = [m for s in sessions for m in s.moves]
    e2e = [m.fetched - m.sent for m in moves]
    server = [m.finished - m.sent for m in moves]
    failed = [s for s in sessions if s.problems]
    right, checked, cross = check_cross_talk(model, sessions)
    for s in failed:
        print(f"  session {s.index}: {'; '.join(s.problems)[:500]}")
    for line in cross[:10]:
        print(f"  cross-talk check: {line}")

    def ms(values, q):
        return f"{percentile(values, q) * 1e3:.0f}" if values else "-"

    demos = [s.demo_s for s in sessions if s.demo_s]
    beside = ""
    if job is not None:
        beside = f"{job[0]} iterations, running at {job[1]:.0%} of polls | " if job else "no | "
    layout = "" if processes is None else f"{processes} | "
    print(f"| {model} | {layout}{n} | {pause:g} s | {beside}{ms(e2e, 0.5)} / {ms(e2e, 0.95)} / {ms(e2e, 1.0)} | "
          f"{ms(server, 0.5)} / {ms(server, 0.95)} | {statistics.median(demos) if demos else float('nan'):.1f} s | "
          f"{len(failed)} | "
          f"{right}/{checked}; {'none' if not cross else len(cross)} | {server_cores:.2f} | {client_cores:.2f} | "
          f"{wall:.0f} s |", flush=True)
    return {"model": model, "n": n, "pause": pause, "job": bool(job), "server": server_cores, "processes": processes,
            "moves_per_s": len(moves) / wall, "failed": len(failed), "cross": len(cross),
            **{q: percentile(e2e, q) if e2e else float("nan") for q in (0.5, 0.95, 1.0)}}


def _capacity(rows: list[dict], model: str, pause: float) -> None:
    """What a second process (and more) gives at each N: the slider median and the moves per second of all
    sessions, against the fewest processes measured."""
    same = [r for r in rows if r["model"] == model and r["pause"] == pause and r["processes"] is not None]
    for n in sorted({r["n"] for r in same}):
        by_k = {r["processes"]: r for r in same if r["n"] == n}
        if len(by_k) < 2:
            continue
        base = by_k[min(by_k)]
        for k, r in sorted(by_k.items())[1:]:
            print(f"{model}, N = {n}, pause {pause:g} s: K = {k} / K = {min(by_k)}: slider median "
                  f"{r[0.5] / base[0.5]:.2f}x, p95 {r[0.95] / base[0.95]:.2f}x, moves per second "
                  f"{r['moves_per_s'] / base['moves_per_s']:.2f}x ({r['moves_per_s']:.1f} vs "
                  f"{base['moves_per_s']:.1f})")


@contextlib.contextmanager
def app_server(store: Path, processes: int | None, app: Path):
    """The server the sessions load: one `streamlit run` of ``app`` (``processes`` None), or ``processes`` of
    them behind ``tools.serve``'s proxy; yields its address and the app processes' ids."""
    if processes is None:
        with streamlit_server(store, root=app) as url:
            yield url, [server_pid()]
    else:
        with ClassServer(str(store), processes) as server:
            yield server.url, [a.proc.pid for a in server.apps.values()]


def summarise_profile(path: Path, top: int = 25):
    """Where the server's sampled time went: by part of a rerun (a sample counts for every part on its stack) and
    by the function running (self time)."""
    parts = {
        "script runs (page and fragment code, all of it)": ("exec_func_with_error_handling",),
        "decoding (the batcher's worker and model decodes)": ("latentcore/batching.py", "latentcore/models/"),
        "image serialisation (st.image: JPEG encoding, media files)": ("streamlit/elements/lib/image_utils.py",),
        "plotly figures (building and JSON)": ("plotly/", "plotly_chart"),
        "workspace saves (ui.workspace.save_workspace)": ("save_workspace",),
        "file watcher (server.fileWatcherType)": ("streamlit/watcher/",),
        "end of each run (garbage collection, orphaned media files)": ("ScriptRunner._on_script_finished",),
        "widget registration and session state": ("streamlit/runtime/state/",),
        "websocket and protobuf sending": ("starlette", "uvicorn", "websockets/", "SerializeToString"),
    }
    idle = ("Condition.wait", "Event.wait", "EpollSelector.select", "Thread.join", "sleep (")  # waiting, not working
    stacks = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit() and not any(m in stack.split(";")[-1] for m in idle):
            stacks[stack] += int(count)
    total = sum(stacks.values())
    if not total:
        print("py-spy recorded no samples")
        return
    print(f"\nServer profile: {total} samples of working threads (py-spy, 50 Hz; threads waiting left out)\n")
    print("| part | share of samples |\n|---|---|")
    for name, marks in parts.items():
        share = sum(c for s, c in stacks.items() if any(m in s for m in marks)) / total
        print(f"| {name} | {share:.0%} |")
    leaves = Counter()
    for stack, count in stacks.items():
        leaves[stack.split(";")[-1]] += count
    print("\n| function (self time) | share |\n|---|---|")
    for leaf, count in leaves.most_common(top):
        print(f"| `{leaf[:110]}` | {count / total:.1%} |")


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.server.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=models.available(), metavar="MODEL",
                        help=f"models to run, of {', '.join(models.available())}, one server each in turn "
                             f"(default: {' '.join(MODELS)})")
    parser.add_argument("--sizes", nargs="+", type=int,
                        help=f"numbers N of concurrent sessions (default: {' '.join(map(str, SIZES))}; 5 with "
                             "--with-job)")
    parser.add_argument("--pauses", nargs="+", type=float, default=list(PAUSES),
                        help="mean seconds a session waits before each slider move, 0 for back to back "
                             f"(default: {' '.join(f'{p:g}' for p in PAUSES)})")
    parser.add_argument("--app", type=Path, default=ROOT,
                        help="the checkout whose app.py the server runs (default: this checkout)")
    parser.add_argument("--profile", type=Path,
                        help="file for py-spy's samples of the server at the largest N and the first pause (needs "
                             "py-spy)")
    parser.add_argument("--with-job", action="store_true",
                        help="each run twice: alone, then while another session runs a ri-optimal path job")
    parser.add_argument("--processes", nargs="+", type=int, default=None, metavar="K",
                        help="serve each model with python -m tools.serve: K app processes on one store behind "
                             "HAProxy, the sessions connecting to the proxy; each K given in turn (default: one "
                             "`streamlit run`, addressed directly)")
    add_save_option(parser)
    args = parser.parse_args()
    if args.profile is not None and shutil.which("py-spy") is None:
        parser.error("--profile needs py-spy: pip install -e .[bench]")
    if args.processes and (args.with_job or args.profile or args.app != ROOT):
        parser.error("--processes runs this checkout's app, without --with-job or --profile")
    with saved_report("bench.server.load", args.save):
        _runs(args)


def _runs(args):
    sizes = args.sizes or ([5] if args.with_job else list(SIZES))
    served = ("K app processes behind tools.serve's HAProxy (one store), the sessions connecting to the proxy"
              if args.processes else "one `streamlit run` addressed directly")
    other = f", app {args.app}" if args.app != ROOT else ""
    print(f"{os.cpu_count()} cores, {served}{other}; each session: the demo, Subspace, {MOVES} slider moves after "
          "a pause each, its point added. Slider move end to end: median / p95 / max; server per rerun: median / p95 "
          "(ms).\n")
    beside = "ri-optimal job in another session | " if args.with_job else ""
    layouts = args.processes or [None]
    print(f"| model | {'K | ' if args.processes else ''}N | pause | {beside}slider move, end to end | "
          "server per rerun | demo (median) | "
          "failed sessions | cross-talk: images right; problems | server CPU (cores) | client CPU (cores) | wall |")
    print("|---|---|---|" + "---|" * (8 + args.with_job + bool(args.processes)))
    rows, run = [], 0
    for model, processes in ((m, k) for m in args.models for k in layouts):
        store = Path(tempfile.mkdtemp(prefix="le-load-"))
        with app_server(store, processes, args.app) as (url, pids):
            # warm-up of every process: imports, the model, the demo (sessions at once spread over the processes)
            asyncio.run(one_load(url, model, processes or 1, 0.5, 0.0, pids, None))
            for pause in args.pauses:
                for n in sizes:
                    for with_job in (False, True) if args.with_job else (False,):
                        run += 1
                        profile = (args.profile if args.profile is not None and n == max(sizes)
                                   and pause == args.pauses[0] and not with_job else None)
                        # a fresh offset per run: no slider value of an earlier run is in the server's cache
                        if with_job:
                            (sessions, server, client, wall), job = asyncio.run(beside_job(
                                url, model, n, 0.037 * run, pause, pids, store))
                        else:
                            job = () if args.with_job else None
                            sessions, server, client, wall = asyncio.run(one_load(url, model, n, 0.037 * run, pause,
                                                                                  pids, profile))
                        rows.append(report(model, n, pause, sessions, server, client, wall, job, processes))
                        if profile is not None:
                            summarise_profile(profile)
                        if with_job and wait_idle(pids) >= IDLE_CORES:
                            print(f"  the server was still busy {60} s after the job's session closed")
    print()
    for model in args.models:
        for pause in args.pauses:
            _capacity(rows, model, pause)
            same = [r for r in rows if r["model"] == model and r["pause"] == pause and r["processes"] == layouts[0]]
            medians = {r["n"]: r[0.5] for r in same if not r["job"]}
            if 1 in medians and len(medians) > 1:
                print(f"{model}, pause {pause:g} s: slider median at N = {max(medians)} is "
                      f"{medians[max(medians)] / medians[1]:.1f}x the median at N = 1")
            for alone, job in zip([r for r in same if not r["job"]], [r for r in same if r["job"]]):
                print(f"{model}, N = {alone['n']}, pause {pause:g} s, beside a ri-optimal job / alone: median "
                      f"{job[0.5] / alone[0.5]:.1f}x, p95 {job[0.95] / alone[0.95]:.1f}x, max "
                      f"{job[1.0] / alone[1.0]:.1f}x; server CPU {job['server']:.2f} / {alone['server']:.2f} cores")


if __name__ == "__main__":
    main()
