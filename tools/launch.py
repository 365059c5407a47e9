"""Starting the app for a real browser: ``streamlit run app.py`` on a free localhost port, and the flags with
which Chromium (Debian's, or the binary named in ``$LE_CHROMIUM``) runs headless on a machine without a network.
Used by the browser tests and the benchmarks."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("LE_CHROMIUM", "/usr/bin/chromium")  # Debian's; another Chromium or Chrome by its path
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
START_TIMEOUT_S = 120  # a cold start on 2 busy cores


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers_health(url: str, proc: subprocess.Popen, timeout_s: float = START_TIMEOUT_S) -> bool:
    """Poll ``url``'s Streamlit health endpoint (``/_stcore/health``, which a proxy in front passes on) until it
    answers 200 (True), or until ``proc``, the process that should answer, has exited or ``timeout_s`` has passed
    (False)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.2)  # polling the server's health endpoint, not waiting on the page


class ServerAddress(str):
    """A running server's address (``http://127.0.0.1:PORT``), with its process id as ``pid``."""

    pid: int


@contextlib.contextmanager
def streamlit_server(workspaces: Path, models: Sequence[str | Path] = (), root: Path = ROOT,
                     options: Sequence[str] = ()):
    """`streamlit run app.py` on a free port, saving workspaces in ``workspaces``, with the plug-in model files
    ``models`` (``-- --models ...``); yields its address (a :class:`ServerAddress`). ``root``: the checkout whose
    app runs (a benchmark may compare another one); ``options``: more of Streamlit's, e.g.
    ``["--server.disconnectedSessionTTL", "2"]``."""
    port = _free_port()
    plugins = ["--", "--models", *map(str, models)] if models else []
    log = tempfile.TemporaryFile()  # a pipe nobody reads would block a chatty server
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true", *options, *plugins],
                            cwd=root, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "LATENT_EXPLORER_WORKSPACES": str(workspaces)})
    url = ServerAddress(f"http://127.0.0.1:{port}")
    url.pid = proc.pid
    if not answers_health(url, proc):
        proc.kill()
        proc.wait(timeout=20)
        log.seek(0)
        raise RuntimeError(f"streamlit did not start: {log.read().decode(errors='replace')[-2000:]}")
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


class ServerMemory:
    """A server process's memory from ``/proc`` (Linux): its peak since the last :meth:`reset_peak` (VmHWM) and its
    resident memory now (VmRSS), in MiB."""

    def __init__(self, pid: int):
        self.pid = pid

    def _status(self, field: str) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) / 1024
        raise KeyError(field)

    def reset_peak(self) -> None:
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS

    def peak(self) -> float:
        return self._status("VmHWM")

    def resident(self) -> float:
        return self._status("VmRSS")
