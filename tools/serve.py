"""A class server on one machine: ``K`` `streamlit run app.py` processes on one workspace store behind HAProxy
(``deploy/haproxy.cfg``), which keeps each browser on its process and sends it to another one when its process is
down; a process that dies is started again.

    python -m tools.serve --processes 2 --port 8500 --store /srv/latent-explorer/workspaces
    python -m tools.serve --processes 4 --address 0.0.0.0 --port 8080 --store s3://bucket/ws -- --models my_model.py

Needs HAProxy (Debian and Ubuntu: ``apt-get install haproxy``; macOS: ``brew install haproxy``). The processes
share one store (``--store``: a folder or an fsspec URL, default ``$LATENT_EXPLORER_WORKSPACES``) and one cookie
secret (a fresh one per start), so a browser moved to another process finds its workspace and its uploads are
accepted there. Ctrl-C or SIGTERM stops the proxy and the processes; each first writes its sessions' pending
workspace saves.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from tools.launch import _free_port, answers_health

ROOT = Path(__file__).resolve().parents[1]
HAPROXY_CONFIG = ROOT / "deploy" / "haproxy.cfg"
STOP_TIMEOUT_S = 30  # a process writing its sessions' workspaces before it exits


def haproxy_config(template: str, address: str, port: int, backends: Sequence[tuple[str, int]]) -> str:
    """``template`` (``deploy/haproxy.cfg``) with the frontend bound to ``address:port`` and one server line per
    ``(name, port)`` of ``backends`` on this machine, each with its own affinity cookie value."""
    config, binds = re.subn(r"(?m)^(\s*)bind \S+$", rf"\g<1>bind {address}:{port}", template, count=1)
    servers = "".join(f"    server {name} 127.0.0.1:{p} cookie {name}\n" for name, p in backends)
    config, blocks = re.subn(r"(?ms)^(\s*# servers\n).*?^(\s*# /servers)$", rf"\g<1>{servers}\g<2>", config)
    if binds != 1 or blocks != 1:
        raise ValueError("the HAProxy configuration needs one 'bind ADDRESS:PORT' line and one '# servers' ... "
                         "'# /servers' block")
    return config


@dataclass
class AppProcess:
    """One `streamlit run app.py` behind the proxy: its HAProxy server ``name``, ``port`` and process."""

    name: str
    port: int
    proc: subprocess.Popen
    log: Path
    restarts: int = 0


class ClassServer:
    """The processes and the proxy (see the module docstring); a context manager that yields itself once every
    process and the proxy answer. ``url``: the proxy's address; ``apps``: the processes, by server name."""

    def __init__(self, store: str, processes: int = 2, *, port: int | None = None, address: str = "127.0.0.1",
                 first_port: int | None = None, app_args: Sequence[str] = (), haproxy: str = "haproxy",
                 log_dir: Path | None = None):
        if processes < 1:
            raise ValueError(f"processes must be at least 1, got {processes}")
        # Debian installs it in /usr/sbin, which is not on a user's PATH
        self.haproxy = shutil.which(haproxy) or shutil.which(haproxy, path="/usr/sbin:/usr/local/sbin")
        if self.haproxy is None:
            raise RuntimeError(f"HAProxy ({haproxy}) is not installed: apt-get install haproxy (Debian, Ubuntu) or "
                               "brew install haproxy (macOS)")
        self.store, self.address, self.app_args = store, address, list(app_args)
        self.port = port or _free_port()
        self.ports = ([first_port + i for i in range(processes)] if first_port is not None else
                      [_free_port() for _ in range(processes)])
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="latent-explorer-serve-"))
        self.secret = secrets.token_hex(32)
        self.apps: dict[str, AppProcess] = {}
        self.proxy: subprocess.Popen | None = None
        host = "127.0.0.1" if address in ("0.0.0.0", "::") else address
        self.url = f"http://{host}:{self.port}"

    def __enter__(self) -> ClassServer:
        try:
            for i, port in enumerate(self.ports, start=1):
                self.apps[f"app{i}"] = self._start_app(f"app{i}", port)
            config = self.log_dir / "haproxy.cfg"
            config.write_text(haproxy_config(HAPROXY_CONFIG.read_text(), self.address, self.port,
                                              [(a.name, a.port) for a in self.apps.values()]))
            check = subprocess.run([self.haproxy, "-c", "-q", "-f", str(config)], capture_output=True, text=True)
            if check.returncode != 0:
                raise RuntimeError(f"HAProxy refused {config}: {check.stderr.strip()}")
            for app in self.apps.values():
                self._wait_healthy(f"http://127.0.0.1:{app.port}", app)
            with open(self.log_dir / "haproxy.log", "wb") as log:  # the child keeps its own descriptor
                self.proxy = subprocess.Popen([self.haproxy, "-db", "-f", str(config)], stdout=subprocess.DEVNULL,
                                              stderr=log)
            self._wait_healthy(self.url, None)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.proxy is not None:
            self.proxy.terminate()
            self.proxy.wait(STOP_TIMEOUT_S)
        for app in self.apps.values():
            if app.proc.poll() is None:
                app.proc.terminate()  # SIGTERM: the app writes pending workspace saves, then exits
        for app in self.apps.values():
            try:
                app.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                app.proc.kill()
                app.proc.wait(STOP_TIMEOUT_S)

    def _start_app(self, name: str, port: int) -> AppProcess:
        log = self.log_dir / f"{name}.log"
        options = ["--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true"]
        args = ["--", *self.app_args] if self.app_args else []
        with open(log, "ab") as out:  # the child keeps its own descriptor
            proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", *options, *args],
                                    cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                    env={**os.environ, "LATENT_EXPLORER_WORKSPACES": self.store,
                                         "STREAMLIT_SERVER_COOKIE_SECRET": self.secret})
        return AppProcess(name, port, proc, log)

    def _wait_healthy(self, url: str, app: AppProcess | None) -> None:
        if not answers_health(url, app.proc if app is not None else self.proxy):
            what = f"{app.name} on port {app.port} (log {app.log})" if app else f"HAProxy on {self.url}"
            raise RuntimeError(f"{what} did not start: {self._tail(app)}")

    def _tail(self, app: AppProcess | None) -> str:
        log = app.log if app is not None else self.log_dir / "haproxy.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""

    def supervise(self) -> list[str]:
        """Start again every process that has exited; returns what it did, one line per process."""
        said = []
        for name, app in self.apps.items():
            if app.proc.poll() is not None:
                code = app.proc.returncode
                self.apps[name] = restarted = self._start_app(name, app.port)
                restarted.restarts = app.restarts + 1
                said.append(f"{name} (port {app.port}) exited with code {code}; started again "
                            f"({restarted.restarts} restarts, log {app.log})")
        if self.proxy is not None and self.proxy.poll() is not None:
            raise RuntimeError(f"HAProxy exited with code {self.proxy.returncode}: {self._tail(None)}")
        return said


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="app processes behind the proxy (default: this machine's CPUs, %(default)s)")
    parser.add_argument("--port", type=int, default=8500, help="the proxy's port (default %(default)s)")
    parser.add_argument("--address", default="127.0.0.1",
                        help="the proxy's address: 0.0.0.0 serves other machines (default %(default)s)")
    parser.add_argument("--first-port", type=int, default=None,
                        help="the first process's port, the others following (default: the proxy's port + 1)")
    parser.add_argument("--store", default=os.environ.get("LATENT_EXPLORER_WORKSPACES"),
                        help="the workspace store shared by the processes: a folder or an fsspec URL (default "
                             "$LATENT_EXPLORER_WORKSPACES)")
    parser.add_argument("--logs", type=Path, default=None,
                        help="folder for the processes' logs and the generated HAProxy configuration (default: a "
                             "new temporary folder)")
    parser.add_argument("app_args", nargs=argparse.REMAINDER,
                        help="after --, the app's own arguments, e.g. -- --models my_model.py")
    args = parser.parse_args(argv)
    if not args.store:
        parser.error("--store is needed (or $LATENT_EXPLORER_WORKSPACES): the processes must share one store")
    app_args = args.app_args[1:] if args.app_args[:1] == ["--"] else args.app_args
    stop = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.append(True))
    try:
        server = ClassServer(args.store, args.processes, port=args.port, address=args.address,
                             first_port=args.first_port or args.port + 1, app_args=app_args, log_dir=args.logs)
        with server:
            print(f"Latent Explorer on http://{args.address}:{args.port}: {args.processes} processes (ports "
                  f"{', '.join(map(str, server.ports))}), store {args.store}, logs {server.log_dir}", flush=True)
            while not stop:
                for line in server.supervise():
                    print(line, file=sys.stderr, flush=True)
                time.sleep(1.0)
            print("stopping: the processes write their sessions' workspaces", file=sys.stderr, flush=True)
    except (RuntimeError, ValueError) as err:
        parser.exit(1, f"python -m tools.serve: {err}\n")


if __name__ == "__main__":
    main()
