"""Where benchmark figures go. A bench prints its Markdown report; with ``--save`` it also writes it to
``docs/benchmarks/NAME.md`` under one line saying how it was made: the command, the date, the machine (CPU, cores,
GPU where one was used), torch and its threads, and the load average before and after.

The documentation includes the saved reports as they are (MyST's ``{include}``; ``tests/test_docs.py`` checks that
every report is included and says how it was made), so the published tables are the benches' own output, never
typed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import os
import platform
import sys
from pathlib import Path

import torch

REPORTS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks"


def add_save_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--save", nargs="?", const="", default=None, metavar="SUFFIX",
                        help="also write the report to docs/benchmarks/ (as MODULE.md, or MODULE-SUFFIX.md), which "
                             "the documentation includes")


def report_name(module: str, suffix: str) -> str:
    """``bench.micro.nao`` with suffix ``16384`` -> ``micro.nao-16384``."""
    base = module.removeprefix("bench.")
    return f"{base}-{suffix}" if suffix else base


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            names = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
        return names[0] if names else platform.processor() or platform.machine()
    except OSError:
        return platform.processor() or platform.machine()


def _load() -> str:
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "unknown"


@contextlib.contextmanager
def saved_report(module: str, suffix: str | None, device: torch.device | None = None):
    """Run the block; where ``suffix`` is not None (``--save`` given), write what it printed to
    ``docs/benchmarks/`` with the line saying how it was made."""
    if suffix is None:
        yield
        return
    load_before = _load()
    captured = io.StringIO()
    real = sys.stdout

    class Tee(io.TextIOBase):
        def write(self, text):
            captured.write(text)
            return real.write(text)

        def flush(self):
            real.flush()

    sys.stdout = Tee()
    try:
        yield
    finally:
        sys.stdout = real
    gpu = (f", GPU {torch.cuda.get_device_name(device)}" if device is not None and device.type == "cuda" else "")
    command = " ".join(["python -m", module, *sys.argv[1:]])
    made = (f"Made by `{command}` on {datetime.date.today().isoformat()}: {_cpu()} ({os.cpu_count()} CPUs){gpu}, "
            f"torch {torch.__version__} with {torch.get_num_threads()} threads, load average {load_before} before "
            f"and {_load()} after.")
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{report_name(module, suffix)}.md").write_text(made + "\n\n" + captured.getvalue().strip() + "\n")
