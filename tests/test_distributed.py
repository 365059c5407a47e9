"""Evaluations on a Ray cluster (latentcore.evaluate.distributed), on a local 2-CPU Ray started here: the same tables
as in process, a worker process killed mid-run, and a driver stopped and started again."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from latentcore.evaluate import TIMINGS, evaluate
from latentcore.evaluate import cli
from latentcore.evaluate.distributed import RayCluster
from latentcore.models import load

pytestmark = pytest.mark.slow  # a local Ray and its worker processes: tens of seconds
ROOT = Path(__file__).resolve().parents[1]
WAIT_S = 240  # bounds each wait on a busy 2-core machine

try:
    import ray
except ImportError:
    if os.environ.get("CI"):
        raise RuntimeError("Ray is missing: requirements-test.txt installs it") from None
    pytest.skip("Ray is not installed (pip install 'latent-explorer[ray]')", allow_module_level=True)

# Chunks of one pair or set each, NAO's last (about 0.4 s per path here): a worker is killed, and the driver
# stopped, with chunks still to do.
WORK = dict(pairs=6, frames=5, centroid_sets=3, chunk_units=1, schemes=["linear", "lol", "nao"],
            centroid_schemes=["mean", "nao"])
COMMAND = ["--model", "digits-vae", "--pairs", "6", "--frames", "5", "--centroid-sets", "3", "--chunk-units", "1",
           "--schemes", "linear", "lol", "nao", "--centroid-schemes", "mean", "nao"]
CHUNKS = 6 * 3 + 3 * 2


@pytest.fixture(scope="module")
def one_thread():
    """The calling process computes with one torch thread, as each worker does: the same arithmetic everywhere, so
    the tables are equal to the last bit."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def local_ray(one_thread):
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning", log_to_driver=False)
    yield RayCluster(workers=2)  # the Ray initialised here, whatever the address
    ray.shutdown()


@pytest.fixture(scope="module")
def in_process(one_thread):
    return evaluate(load("digits-vae"), **WORK)


def _results(evaluation) -> str:
    return evaluation.table.drop(columns=list(TIMINGS)).to_csv(index=False)


def _worker_pids() -> set[int]:
    """The Ray actors' processes (Ray titles them ``ray::Worker`` and ``ray::Worker.measure``)."""
    out = subprocess.run(["pgrep", "-f", "^ray::Worker"], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def test_a_ray_run_gives_the_in_process_tables_though_a_worker_is_killed(local_ray, in_process, tmp_path):
    seen, killed = {"first": set(), "last": set()}, []

    def progress(fraction: float, text: str):
        if "chunks done" not in text:
            return
        pids = _worker_pids()
        seen["first"] = seen["first"] or pids
        seen["last"] = pids
        if not killed and pids:  # a worker that has just been given its next chunk dies
            victim = min(pids)
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    result = evaluate(load("digits-vae"), cluster=local_ray, checkpoint=tmp_path, progress=progress, **WORK)
    assert killed and result.settings["ran_on"]["workers"] == 2
    assert seen["last"] - seen["first"], "the killed worker was not restarted"
    assert _results(result) == _results(in_process)
    assert len(list(tmp_path.glob("*/*.safetensors"))) == CHUNKS  # every chunk kept as it arrived


def test_a_stopped_driver_resumes_from_the_chunks_it_wrote(local_ray, in_process, tmp_path):
    command = COMMAND + ["--out", str(tmp_path)]
    driver = subprocess.Popen([sys.executable, "-m", "latentcore.evaluate", *command, "--ray", "local",
                               "--workers", "2"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stored = tmp_path / "digits-vae.chunks"
    deadline = time.monotonic() + WAIT_S
    while len(list(stored.glob("*/*.safetensors"))) < 2:
        assert driver.poll() is None, driver.stdout.read()
        assert time.monotonic() < deadline, "no chunk was written"
        time.sleep(0.1)
    driver.send_signal(signal.SIGINT)  # Ctrl-C
    assert driver.wait(WAIT_S) == 130
    assert "stopped; the finished chunks are kept in" in driver.stdout.read()
    written = len(list(stored.glob("*/*.safetensors")))
    assert 2 <= written < CHUNKS and not (tmp_path / "digits-vae.csv").exists()

    resumed = cli.main(command + ["--ray", "auto"])
    assert resumed.settings["chunks_reused"] == written
    assert len(list(stored.glob("*/*.safetensors"))) == CHUNKS
    assert _results(resumed) == _results(in_process)
