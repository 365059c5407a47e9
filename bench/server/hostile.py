"""Hostile and oversized input against a live server: each hostile case (crafted uploads, floods, foreign links)
through the real browser (Debian's chromium, Playwright) against ``streamlit run app.py``, with the server process's
peak memory (its VmHWM, reset before each case through /proc/PID/clear_refs), its resident memory after the case,
and the time from the upload or link to the app's answer on screen. Every input is generated in memory.

    python -m bench.server.hostile                  # this checkout
    python -m bench.server.hostile --app DIR        # another checkout's app (e.g. an older one), the same cases
    python -m bench.server.hostile --cases image    # only the cases whose name contains one of these words
    python -m bench.server.hostile --save           # also docs/benchmarks/server.hostile.md

Linux only (/proc). The server uses a scratch workspace folder, and lets a closed tab's session go after
SESSION_TTL_S seconds (server.disconnectedSessionTTL; Streamlit's default is 120), so that the last case, a 250 MiB
workspace opened by link in one session after another, shows what the server keeps after each and after the
sessions' expiry.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from latentcore import latents_to_bytes
from ui.server import workspace
from ui.server.seed_set import SeedSet
from tools import crafted
from tools.launch import CHROMIUM, CHROMIUM_FLAGS, ROOT, ServerMemory, streamlit_server
from bench.report import add_save_option, saved_report

WAIT_MS = 600_000
MODEL = "digits-vae"  # 16-dimensional latents and an encoder: every upload path is open
SESSION_TTL_S = 30  # the server's session expiry
LINK_OPENS = 4      # sessions that open the large workspace by link, one after another


# Inputs, generated


def npz(latents: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, latents=latents)
    return buffer.getvalue()


def npy(latents: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, latents)
    return buffer.getvalue()


def large_png(side: int = 4096) -> bytes:
    y, x = np.mgrid[0:side, 0:side].astype(np.float32) / side
    noise = np.random.default_rng(0).integers(0, 24, (side, side, 1), dtype=np.uint8)
    rgb = np.stack([np.sin(7 * x) * np.cos(5 * y), x * y, np.sin(11 * (x + y))], axis=-1)
    pixels = ((rgb + 1) * 100).astype(np.uint8) + noise
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def chatty_workspace(megabytes: int = 51) -> bytes:
    """A workspace whose JSON header holds ``megabytes`` MB of settings."""
    state = {"version": workspace.WORKSPACE_VERSION, "seed_sets": [], "settings": {"notes": "x" * megabytes * 10**6}}
    import safetensors.torch

    return safetensors.torch.save({}, metadata={workspace.WORKSPACE_KEY: json.dumps(state)})


def sd_workspace(count: int = 300) -> bytes:
    """A workspace with ``count`` Stable Diffusion latents (4x64x64) under a folder's name."""
    seeds = SeedSet(torch.randn(count, 4, 64, 64, generator=torch.Generator().manual_seed(0)),
                    [f"sd {i}" for i in range(count)])
    return workspace.workspace_to_bytes(workspace.Workspace(seed_sets={"/models/sd-1.5": seeds}))


def foreign_workspace(folder: Path) -> str:
    """A workspace saved in the server's folder with seeds of another shape and settings of the wrong type."""
    ws = workspace.new_workspace_id()
    workspace.save_workspace(workspace.Workspace(
        seed_sets={MODEL: SeedSet(torch.zeros(3, 7), ["a", "b", "c"])},
        settings={"model": MODEL, "seeds.count": "eight", "interpolate.frames": float("nan")}), ws, folder)
    return ws


def large_workspace(folder: Path, megabytes: int = 250) -> str:
    """A workspace of ``megabytes`` MiB saved in the server's folder (Stable Diffusion latents under a folder's name,
    which the server keeps as they are); its id."""
    count = megabytes * 2**20 // (4 * 64 * 64 * 4)
    ws = workspace.new_workspace_id()
    workspace.save_workspace(workspace.Workspace(seed_sets={"/models/sd-1.5": SeedSet(
        torch.randn(count, 4, 64, 64, generator=torch.Generator().manual_seed(0)),
        [f"sd {i}" for i in range(count)])}), ws, folder)
    return ws


# The browser


def settle(page):
    page.wait_for_selector("[data-test-script-state=notRunning]")


def open_seeds(page, url: str, query: str = f"model={MODEL}"):
    page.goto(f"{url}/seeds?{query}")
    page.get_by_role("heading", name="Seeds", level=1).wait_for()
    settle(page)


def open_workspace_panel(page):
    page.locator("[data-testid=stSidebar]").get_by_text("Workspace", exact=True).click()


PLAYWRIGHT_BUFFER_LIMIT = 50 * 2**20  # larger uploads go through a file (Playwright refuses larger buffers)
SPOOL = tempfile.TemporaryDirectory(prefix="le-upload-")  # those files; removed when the bench exits


def upload(page, label: str, name: str, data: bytes, mime: str = "application/octet-stream"):
    uploader = page.locator("[data-testid=stFileUploader]").filter(has_text=label)
    if len(data) <= PLAYWRIGHT_BUFFER_LIMIT:
        uploader.locator("input[type=file]").set_input_files(files=[{"name": name, "mimeType": mime, "buffer": data}])
        return
    path = Path(SPOOL.name) / name  # Playwright reads the file after this call returns: kept until the bench exits
    path.write_bytes(data)
    uploader.locator("input[type=file]").set_input_files(files=[str(path)])


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.server.hostile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--app", type=Path, default=ROOT,
                        help="the checkout whose app.py the server runs (default: this checkout)")
    parser.add_argument("--cases", nargs="*", default=[],
                        help="run only the cases whose name contains one of these words (default: all cases)")
    add_save_option(parser)
    args = parser.parse_args()
    with saved_report("bench.server.hostile", args.save):
        _cases(args)


def _cases(args):
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="le-hostile-"))
    png = large_png()
    rows = []
    expiry = ["--server.disconnectedSessionTTL", str(SESSION_TTL_S)]
    with streamlit_server(folder, root=args.app, options=expiry) as url, sync_playwright() as p:
        memory = ServerMemory(url.pid)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)

        def case(name: str, size: int, act, expect: str, sessions: int = 1, at_once: bool = False):
            """Run ``act`` in ``sessions`` new browser sessions, one after another or (``at_once``) each started
            before any answers, and wait for ``expect`` in each."""
            if args.cases and not any(word in name for word in args.cases):
                return
            memory.reset_peak()
            start = time.perf_counter()
            for _ in range(1 if at_once else sessions):
                contexts = [browser.new_context(viewport={"width": 1400, "height": 1000})
                            for _ in range(sessions if at_once else 1)]
                pages = [context.new_page() for context in contexts]
                for page in pages:
                    page.set_default_timeout(WAIT_MS)
                    act(page)
                for page in pages:
                    page.get_by_text(expect).first.wait_for()
                    settle(page)
                for context in contexts:
                    context.close()
            seconds = time.perf_counter() - start
            rows.append((name, size, seconds, memory.peak(), memory.resident()))
            print(f"| {name} | {size / 1e6:.3g} MB | {seconds:.1f} s | {rows[-1][3]:.0f} MiB | {rows[-1][4]:.0f} MiB |",
                  flush=True)

        warm = browser.new_page()
        warm.set_default_timeout(WAIT_MS)
        open_seeds(warm, url)  # loads the model once
        warm.close()
        print(f"server after start and one Seeds page: {memory.resident():.0f} MiB resident\n")
        print("| case | file | time to the answer | peak server memory | resident after |")
        print("|---|---|---|---|---|")
        flood = np.zeros((20_000, 16), dtype=np.float32)
        many = np.random.default_rng(1).standard_normal((1024, 16)).astype(np.float32)
        inputs = {
            "zip bomb": crafted.npz_bomb((2**25, 16)), "flood": npz(flood),
            "npy": npy(np.zeros((5000, 16), dtype=np.float32)), "wrong shape": crafted.wrong_shape_npz(),
            "names bomb": crafted.names_bomb_npz(), "legacy": crafted.legacy_pt(torch.zeros(2, 16)),
            "lying": crafted.lying_pt(), "nested": crafted.nested_names_safetensors(),
            "many": latents_to_bytes(torch.from_numpy(many), fmt=".npz"), "chatty": chatty_workspace(),
            "sd": sd_workspace(), "sd 100 MiB": sd_workspace(1600),
        }
        case("sample 8 seeds (a normal run)", 0, lambda page: (
            open_seeds(page, url), page.get_by_role("button", name="Sample").click()), "8 seeds")
        def latent_file(title: str, file_name: str, data: bytes, expect: str, **options):
            """A case that uploads ``data`` as the latent file ``file_name`` on the Seeds page."""
            case(title, len(data), lambda page: (open_seeds(page, url), upload(page, "A latent file", file_name,
                                                                               data)), expect, **options)

        latent_file(".npz zip bomb, 2 GiB inflated", "bomb.npz", inputs["zip bomb"], "would expand to 2048 MiB")
        latent_file(".npz of 20 000 latents", "flood.npz", inputs["flood"], "holds 20000 latents")
        latent_file(".npz of one (1, 64 000 000) latent, the wrong shape", "wide.npz", inputs["wrong shape"],
                    "does not fit latents of shape")
        latent_file("the same with 320 000 names of 200 characters, 4 sessions at once", "both.npz",
                    inputs["names bomb"], "does not fit latents of shape", sessions=4, at_once=True)
        latent_file("legacy .pt (PyTorch before 1.6)", "old.pt", inputs["legacy"], "legacy format")
        latent_file(".pt whose pickle declares a 100 GB storage", "liar.pt", inputs["lying"],
                    "declares more data than it holds")
        latent_file(".safetensors with names nested 100 000 deep", "deep.safetensors", inputs["nested"],
                    "nested too deeply")
        latent_file(".npy of 5 000 latents", "five.npy", inputs["npy"], "holds 5000 latents")
        latent_file(".npz of 1 024 latents (accepted, gallery paged)", "many.npz", inputs["many"], "Added 1024 latents")
        case("4096x4096 PNG inverted, three sessions", len(png), lambda page: (
            open_seeds(page, url), upload(page, "PNG or JPEG images", "big.png", png, "image/png"),
            page.get_by_text("big.png").first.wait_for(), settle(page),
            page.get_by_role("button", name="Invert the images").click()), "Added 1 inverted latent", sessions=3)
        case("workspace with a 51 MB header", len(inputs["chatty"]), lambda page: (
            open_seeds(page, url), open_workspace_panel(page),
            upload(page, "Open a workspace file", "chatty.safetensors", inputs["chatty"])),
            "This workspace is unchanged")
        case("workspace of 300 SD latents (4x64x64)", len(inputs["sd"]), lambda page: (
            open_seeds(page, url), open_workspace_panel(page),
            upload(page, "Open a workspace file", "sd.safetensors", inputs["sd"])), "as a new workspace")
        case("workspace of 1 600 SD latents (100 MiB) uploaded", len(inputs["sd 100 MiB"]), lambda page: (
            open_seeds(page, url), open_workspace_panel(page),
            upload(page, "Open a workspace file", "sd.safetensors", inputs["sd 100 MiB"])), "as a new workspace")
        ws = foreign_workspace(folder)
        case("link to a foreign, ill-typed workspace (opens as a copy)", 0,
             lambda page: open_seeds(page, url, f"ws={ws}"), "Left out of the workspace")
        name = "link to a 250 MiB workspace"
        if not args.cases or any(word in name for word in args.cases):
            big, before = large_workspace(folder), memory.resident()
            for i in range(LINK_OPENS):  # a row each: the resident memory after each session closed
                case(f"{name}, session {i + 1} of {LINK_OPENS}", 250 * 2**20, lambda page: open_seeds(
                    page, url, f"ws={big}"), "Seeds")
            closed, start = memory.resident(), time.perf_counter()
            while memory.resident() > before + 125 and time.perf_counter() - start < SESSION_TTL_S + 60:
                time.sleep(1)  # the measurement: until the closed sessions' memory is given back, or long after
            print(f"\n{name}: {before:.0f} MiB resident before, {closed:.0f} MiB after the last session closed, "
                  f"{memory.resident():.0f} MiB {time.perf_counter() - start:.0f} s later (the expiry: "
                  f"{SESSION_TTL_S} s)")
        time.sleep(30)  # the measurement: the server idles with every session closed
        print(f"\nserver 30 s after the last session closed: {memory.resident():.0f} MiB resident")
        browser.close()


if __name__ == "__main__":
    main()
