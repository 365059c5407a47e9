"""The thread cliff: one decode or copy at a time, as a slider asks for them, under torch's thread settings, with
and without a busy neighbour process, each setting in a fresh process (OpenMP reads its settings when torch loads).

    python -m bench.micro.threads [--calls 60] [--pause-ms 20]

Each call follows a pause (``--pause-ms``), as a person's slider steps do; "back to back" repeats the call with
no pause (a job's loop). The neighbour is a Python process that keeps one core busy. Settings: torch's default
(one intra-op thread per core, OpenMP's active wait), OpenMP's passive wait (``OMP_WAIT_POLICY=PASSIVE``), and
one intra-op thread (what the server gives each kind of work on 2 cores: ``ui.server.threads``). Prints a
Markdown table of median and 90th-percentile milliseconds per call, and each setting's median as a multiple of the
same work idle under torch's default.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from contextlib import contextmanager

from bench.report import add_save_option, saved_report

SETTINGS = {"torch default (active wait)": {"OMP_WAIT_POLICY": "ACTIVE"},
            "passive wait": {"OMP_WAIT_POLICY": "PASSIVE"},
            "1 thread": {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "ACTIVE"}}
WORK = ("copy 4 MiB", "faces-dcgan decode, 1 latent", "digits-ddim decode, 1 latent, 10 steps")

CHILD = r"""
import json, statistics, sys, time
import torch
import latentcore.models as models
calls, pause = int(sys.argv[1]), float(sys.argv[2])
x = torch.randn(64, 16384)
gan, ddim = models.load("faces-dcgan", device="cpu"), models.load("digits-ddim", device="cpu")
zg, zd = gan.prior.sample(1, seed=0, device="cpu"), ddim.prior.sample(1, seed=0, device="cpu")
work = {"copy 4 MiB": x.clone, "faces-dcgan decode, 1 latent": lambda: gan.decode(zg),
        "digits-ddim decode, 1 latent, 10 steps": lambda: ddim.decode(zd, steps=10)}
out = {"threads": torch.get_num_threads()}
with torch.no_grad():
    for name, fn in work.items():
        for _ in range(3):
            fn()
        for label, wait in (("paused", pause), ("back to back", 0.0)):
            times = []
            for _ in range(calls):
                if wait:
                    time.sleep(wait)
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            times.sort()
            out[f"{name}|{label}"] = [statistics.median(times), times[int(0.9 * (len(times) - 1))]]
print(json.dumps(out))
"""


@contextmanager
def neighbour(busy: bool):
    """A process that keeps one core busy while the block runs (nothing when not ``busy``)."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        yield
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


def measure(env: dict, calls: int, pause_s: float) -> dict:
    environ = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    result = subprocess.run([sys.executable, "-c", CHILD, str(calls), str(pause_s)], env={**environ, **env},
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.micro.threads", description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=60, help="calls per measurement (default %(default)s)")
    parser.add_argument("--pause-ms", type=float, default=20.0,
                        help="pause before each paused call, in ms (default %(default)s)")
    add_save_option(parser)
    args = parser.parse_args()
    with saved_report("bench.micro.threads", args.save, None):
        print(f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, load average "
              f"{os.getloadavg()[0]:.1f}, pause {args.pause_ms:g} ms, {args.calls} calls")
        print()
        print("| work | calls | neighbour | setting | threads | median ms | p90 ms | median / idle default |")
        print("|---|---|---|---|---|---|---|---|")
        results = {}
        for busy in (False, True):
            with neighbour(busy):
                for setting, env in SETTINGS.items():
                    results[busy, setting] = measure(env, args.calls, args.pause_ms / 1000)
        for work in WORK:
            for label in ("paused", "back to back"):
                base = results[False, "torch default (active wait)"][f"{work}|{label}"][0]
                for busy in (False, True):
                    for setting in SETTINGS:
                        r = results[busy, setting]
                        median, p90 = r[f"{work}|{label}"]
                        print(f"| {work} | {label} | {'busy core' if busy else 'none'} | {setting} | {r['threads']} | "
                              f"{median * 1e3:.2f} | {p90 * 1e3:.2f} | {median / base:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
