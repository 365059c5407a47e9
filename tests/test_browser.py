"""A journey through the app in a real browser: Debian's Chromium driven by Playwright against `streamlit run`
on a free localhost port. Every wait is on the page's state (data-test-script-state) or content, never a sleep.
Screenshots go to test-output/ (and to $LE_SCREENSHOTS when set, e.g. docs/screenshots)."""

import os
import shutil
from pathlib import Path

import pytest

from tools.launch import CHROMIUM, CHROMIUM_FLAGS, ROOT, streamlit_server
from ui.sidebar import DEFAULT_MODEL

OUT = ROOT / "test-output"
pytestmark = [pytest.mark.slow, pytest.mark.browser]  # a real server and browser: tens of seconds per test
# Every wait is on the app's state; this bounds one wait. A DDIM page run takes ~10 s on 2 idle cores and several
# times that when two other processes keep both cores busy, so the bound is generous.
WAIT_MS = 240_000

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: the test command installs Debian's chromium package")
    pytest.skip(f"no browser at {CHROMIUM}: install Debian's chromium (apt-get install chromium) or name another "
                "Chromium or Chrome binary in LE_CHROMIUM", allow_module_level=True)


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory):
    return tmp_path_factory.mktemp("browser-workspaces")


@pytest.fixture(scope="module")
def server(workspaces):
    with streamlit_server(workspaces) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    OUT.mkdir(exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def new_tab(browser):
    """A tab in a fresh browser context: its own app session."""
    tab = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    tab.set_default_timeout(WAIT_MS)
    return tab


@pytest.fixture
def page(browser):
    tab = new_tab(browser)
    yield tab
    tab.context.close()


def settle(page):
    """Wait until the app has finished running its script."""
    page.wait_for_selector("[data-test-script-state=notRunning]")


def jobs_done(page, timeout=180_000):
    """Wait until no long computation of the page is queued or running (ui.jobs: the page says where its progress
    is while one runs, and is drawn again when it ends), then until the script has finished."""
    page.wait_for_function("!/(its progress|the queue) is at the top of the page/.test(document.body.innerText)",
                           timeout=timeout)
    settle(page)


# What does not fit the main area: an element past its right edge, or one that scrolls sideways. Allowed: a row of
# frames the user set wider than the page (ui.frames scrolls it), text cut with an ellipsis (its whole is on hover),
# hidden elements (a slider's range input, clipped inside its thumb, reaches past a slider at its maximum) and the
# insides of charts (plotly sizes them to the chart), except their titles.
OVERFLOW_JS = """() => {
  const main = document.querySelector('[data-testid=stMainBlockContainer]');
  const right = main.getBoundingClientRect().right + 1;
  const found = [];
  for (const el of main.querySelectorAll('*')) {
    if (el.clientWidth <= 20 || el.closest('.js-plotly-plot') || el.tagName === 'FIGCAPTION'
        || el.classList.contains('le-note') || el.type === 'range') continue;
    const style = getComputedStyle(el);
    const scrolls = ['auto', 'scroll', 'hidden'].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1
      && !(el.classList.contains('le-frames') && el.dataset.sized);
    if (scrolls || el.getBoundingClientRect().right > right)
      found.push(`${el.dataset.testid || el.className || el.tagName}: ${(el.innerText || '').slice(0, 40)}`);
  }
  for (const title of main.querySelectorAll('.js-plotly-plot .gtitle')) {  // a chart's title within its chart
    const chart = title.closest('.js-plotly-plot').getBoundingClientRect(), box = title.getBoundingClientRect();
    if (box.left < chart.left - 1 || box.right > chart.right + 1) found.push(`chart title: ${title.textContent}`);
  }
  return found.slice(0, 10);
}"""


# Each row of frames in the main area: its images, whether it fits (nothing scrolls sideways, its right edge within the
# main area's content) and whether its first and last captions are seen whole (within the row, not cut).
ROWS_JS = """() => {
  const main = document.querySelector('[data-testid=stMainBlockContainer]');
  const right = main.getBoundingClientRect().right - parseFloat(getComputedStyle(main).paddingRight) + 1;
  return [...main.querySelectorAll('.le-frames')].map(row => {
    const box = row.getBoundingClientRect(), captions = row.querySelectorAll('figcaption');
    const whole = c => { const r = c.getBoundingClientRect();
      return c.checkVisibility() && r.width > 0 && r.left >= box.left - 1 && r.right <= box.right + 1
        && c.scrollWidth <= c.clientWidth; };
    return {images: row.querySelectorAll('img').length, width: row.scrollWidth, room: row.clientWidth,
            fits: row.scrollWidth <= row.clientWidth + 1 && box.right <= right,
            first: whole(captions[0]), last: whole(captions[captions.length - 1])};
  });
}"""


def rendered(page):
    """Wait until the browser has drawn the page as it is now (three animation frames)."""
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame("
                  "() => requestAnimationFrame(done))))")


def shoot(page, name):
    """Check that the page fits a window 1400 and 1024 px wide, and save a screenshot of the whole page at each
    width (``name.png``, ``name-1024.png``): the window is made as tall as the page, whose main area scrolls."""
    for width, suffix in ((1400, ""), (1024, "-1024")):
        page.set_viewport_size({"width": width, "height": 1000})
        rendered(page)
        height = page.evaluate("document.querySelector('[data-testid=stMainBlockContainer]').scrollHeight")
        page.set_viewport_size({"width": width, "height": min(height + 160, 8000)})
        rendered(page)
        overflow = page.evaluate(OVERFLOW_JS)
        assert not overflow, f"{name} does not fit a {width} px wide window: {overflow}"
        path = OUT / f"{name}{suffix}.png"
        page.screenshot(path=str(path))
        if os.environ.get("LE_SCREENSHOTS"):
            target = ROOT / os.environ["LE_SCREENSHOTS"]
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target / path.name)
    page.set_viewport_size({"width": 1400, "height": 1000})
    rendered(page)


def goto_page(page, title):
    page.get_by_role("link", name=title, exact=True).first.click()
    page.get_by_role("heading", name=title, level=1).wait_for()
    settle(page)


def test_journey(server, page):
    page.goto(f"{server}/?model=digits-vae")  # a model with an encoder, so that images invert in one pass
    page.get_by_role("heading", name="Latent Explorer").wait_for()
    settle(page)

    page.get_by_role("button", name="Start with a demo").click()
    page.get_by_role("heading", name="Interpolate", level=1).wait_for()
    page.get_by_text("LOL", exact=True).first.wait_for()
    settle(page)
    page.locator(".js-plotly-plot").first.wait_for()
    rows = page.locator("[data-testid=stMain] .le-frames")
    assert rows.count() == 3 and rows.nth(0).locator("img").count() == 8  # a row of 8 frames per scheme
    first = rows.nth(0).locator("img").nth(3)
    first.click()  # a frame seen large ...
    assert first.bounding_box()["width"] > 500
    page.mouse.click(5, 5)  # ... and put back
    page.wait_for_function("() => document.activeElement.tagName !== 'IMG'")
    rendered(page)
    assert first.bounding_box()["width"] < 200
    with page.expect_download() as download:  # exports are encoded when pressed
        page.get_by_role("button", name="GIF").first.click()
    assert Path(download.value.path()).read_bytes()[:6] == b"GIF89a"
    shoot(page, "interpolate")

    frames = page.locator("[data-testid=stMain]").get_by_role("slider", name="Frames")
    frames.focus()
    frames.press("End")  # 64 frames, the most: each row wraps onto several lines within the page
    page.wait_for_function("[...document.querySelectorAll('[data-testid=stMain] .le-frames')]"
                           ".every(row => row.querySelectorAll('img').length === 64)")
    settle(page)
    for width in (1400, 1024):
        page.set_viewport_size({"width": width, "height": 1000})
        rendered(page)
        rows = page.evaluate(ROWS_JS)
        assert len(rows) == 3 and all(r["images"] == 64 and r["fits"] and r["first"] and r["last"] for r in rows), \
            (width, rows)
    page.set_viewport_size({"width": 1400, "height": 1000})

    goto_page(page, "Subspace")
    image = page.locator("[data-testid=stMain] [data-testid=stImage] img").first
    image.wait_for()
    before = image.get_attribute("src")
    thumb = page.locator("[data-testid=stMain]").get_by_role("slider").first  # not the sidebar's
    thumb.focus()
    for _ in range(15):
        thumb.press("ArrowRight")
    page.wait_for_function(
        "src => document.querySelector('[data-testid=stMain] [data-testid=stImage] img').src !== src", arg=before)
    settle(page)
    assert image.get_attribute("src") != before
    shoot(page, "subspace")

    goto_page(page, "Diagnostics")
    page.get_by_text("constant vector with a likely norm").first.wait_for()
    shoot(page, "diagnostics")

    goto_page(page, "Centroids and reconstruction")
    page.locator("[data-testid=stMain] [data-testid=stDataFrame]").first.wait_for()
    page.get_by_text("Image mean squared error").wait_for()
    ask_for = page.get_by_role("button", name="Compute (")  # the NAO centroid, unless it started by itself
    if ask_for.count():
        ask_for.first.click()
    page.wait_for_function("document.querySelectorAll('[data-testid=stMain] .le-frames img').length >= 4 + 4")
    jobs_done(page)  # 4 centroids, the NAO one included, and 4 k-NN neighbours
    no_errors(page)
    shoot(page, "centroids")

    goto_page(page, "Seeds")
    how_many = page.get_by_label("How many", exact=True)  # past its most: said beside the button, which waits
    how_many.fill("1000")
    how_many.press("Enter")
    said = page.get_by_text("How many to sample: 1000 is more than 64, the most one Sample adds")
    said.wait_for()
    settle(page)
    sample = page.get_by_role("button", name="Sample", exact=True)
    assert sample.is_disabled() and 0 <= said.bounding_box()["y"] - sample.bounding_box()["y"] < 120
    how_many.fill("8")
    how_many.press("Enter")
    said.wait_for(state="detached")
    settle(page)
    assert sample.is_enabled() and seeds_in_set(page) == "8"
    page.locator("[data-testid=stMain] input[type=file]").first.set_input_files(
        files=[{"name": "broken.npy", "mimeType": "application/octet-stream", "buffer": b"not numpy"}])
    page.get_by_text("is not a valid .npy file").wait_for()
    page.get_by_text("Your seed set is unchanged").first.wait_for()
    settle(page)
    assert page.get_by_text("8 seeds").count() >= 1

    import io

    import numpy as np
    from PIL import Image

    good = io.BytesIO()
    np.save(good, np.random.default_rng(0).standard_normal((2, 16)).astype(np.float32))
    page.locator("[data-testid=stMain] input[type=file]").first.set_input_files(
        files=[{"name": "two.npy", "mimeType": "application/octet-stream", "buffer": good.getvalue()}])
    page.get_by_text("Added 2 latents from two.npy").wait_for()
    page.get_by_text("10 seeds").wait_for()
    settle(page)
    picture = io.BytesIO()
    Image.fromarray((np.eye(24) * 255).astype(np.uint8)).save(picture, "PNG")
    page.locator("[data-testid=stMain] input[type=file]").nth(1).set_input_files(  # a good and a bad image
        files=[{"name": "stroke.png", "mimeType": "image/png", "buffer": picture.getvalue()},
               {"name": "broken.png", "mimeType": "image/png", "buffer": b"not an image"}])
    page.get_by_text("broken.png").first.wait_for()
    settle(page)
    page.get_by_role("button", name="Invert the images").click()
    page.get_by_text("Added 1 inverted latent to the seed set").wait_for()  # the good one inverted ...
    page.get_by_text("decoded again").first.wait_for()
    refused = "Not inverted, as it cannot be read: broken.png is not a PNG or JPEG image"
    page.get_by_text(refused).first.wait_for()  # ... and the bad one listed, with why
    settle(page)
    page.get_by_role("button", name="Invert the images").click()  # pressed again: the file is added once
    page.get_by_text("Already in the seed set, not inverted again: stroke.png").wait_for()
    page.get_by_text(refused).first.wait_for()
    assert seeds_in_set(page) == "11"
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the seed set").click()
    import latentcore as lc

    saved = lc.read_latent_file(download.value.path(), name="seeds.safetensors", shape=(16,))
    assert saved.latents.shape == (11, 16) and saved.names[-1] == "stroke"
    shoot(page, "seeds")

    choose_model(page, DEFAULT_MODEL)  # seeds of another model, named otherwise: seed 0.0 ... seed 0.7
    page.get_by_text("No seeds yet").wait_for()
    settle(page)
    page.get_by_role("button", name="Sample", exact=True).click()
    page.get_by_text("8 seeds").first.wait_for()
    for title, first, other, count in [("Subspace", "seed 0", "demo", 3),
                                       ("Centroids and reconstruction", "demo", "seed 0", 4)]:
        goto_page(page, title)  # a model switch on the page keeps its seed selection filled, as a fresh page does
        choose_model(page, "digits-vae" if first == "seed 0" else DEFAULT_MODEL)
        page.wait_for_function(
            "name => /at least two/.test(document.body.innerText) || (document.querySelector("
            "'[data-testid=stMain] [data-testid=stMultiSelect]')?.innerText || '').includes(name)",
            arg=f"{other} 0" if other == "demo" else "seed 0.0")
        settle(page)
        chosen = page.locator("[data-testid=stMain] [data-testid=stMultiSelect]").first.inner_text()
        assert all(f"{other}{'.' if other == 'seed 0' else ' '}{i}" in chosen for i in range(count)), chosen
        assert page.get_by_text("at least two", exact=False).count() == 0
        no_errors(page)


def choose_model(page, model):
    """Choose ``model`` in the sidebar's model selector."""
    page.get_by_role("combobox", name="Model").click()
    page.get_by_role("option", name=model).click()


def no_errors(page):
    shown = page.locator("[data-testid=stException], [data-testid=stAlertContentError]")
    assert shown.count() == 0, shown.all_inner_texts()


def test_every_page_on_the_demo_model(server, page):
    """faces-dcgan, the demo's model, in the browser (every built-in model renders every page in test_app's AppTest
    runs; digits-ddim's pages in the browser in test_jobs)."""
    model = DEFAULT_MODEL
    page.goto(f"{server}/?model={model}")
    page.get_by_role("heading", name="Latent Explorer").wait_for()
    page.locator("[data-testid=stSidebar] [data-testid=stImage] img").first.wait_for()  # the model's thumbnail
    settle(page)
    shoot(page, "home")
    page.get_by_role("button", name="Start with a demo").click()
    page.get_by_role("heading", name="Interpolate", level=1).wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    settle(page)
    assert page.locator("[data-testid=stMain] .le-frames img").count() == 3 * 8
    no_errors(page)
    for title, content in [("Subspace", "[data-testid=stImage] img"), ("Diagnostics", "[data-testid=stDataFrame]"),
                           ("Centroids and reconstruction", ".le-frames img"), ("Seeds", ".le-frames img")]:
        goto_page(page, title)
        page.locator(f"[data-testid=stMain] {content}").first.wait_for()
        no_errors(page)
    assert page.get_by_text("8 seeds").count() >= 1
    assert page.get_by_role("combobox", name="Model").input_value().startswith(model)  # it survived every page


def seeds_in_set(page) -> str:
    settle(page)
    return page.locator("[data-testid=stSidebar] [data-testid=stMetricValue]").first.inner_text()


def test_workspaces_survive_reloads_and_restarts_and_stay_apart(server, page, browser, workspaces):
    page.goto(server)
    page.get_by_role("button", name="Start with a demo").click()
    page.get_by_role("heading", name="Interpolate", level=1).wait_for()
    settle(page)
    page.wait_for_url("**ws=*")
    link = page.url
    assert seeds_in_set(page) == "8"
    ws_id = link.split("ws=")[1].split("&")[0]
    page.wait_for_function("id => document.cookie.includes(id + ':')", arg=ws_id)  # this browser's own: adopted

    page.reload()
    page.get_by_role("heading", name="Interpolate", level=1).wait_for()
    assert seeds_in_set(page) == "8"
    assert page.url == link

    stranger = new_tab(browser)  # another person opening the app
    stranger.goto(server)
    stranger.get_by_role("heading", name="Latent Explorer").wait_for()
    assert seeds_in_set(stranger) == "0"
    stranger.get_by_role("button", name="Start with a demo").click()
    stranger.get_by_role("heading", name="Interpolate", level=1).wait_for()
    goto_page(stranger, "Seeds")
    seed = stranger.get_by_label("Random seed (the same seed gives the same latents)")
    seed.fill("1")  # seed 0 draws the demo's latents again, which are in the set already
    seed.press("Enter")
    settle(stranger)
    stranger.get_by_role("button", name="Sample", exact=True).click()
    stranger.get_by_text("16 seeds").wait_for()
    assert seeds_in_set(stranger) == "16"
    page.reload()
    assert seeds_in_set(page) == "8"  # the first session is untouched
    stranger.context.close()

    with streamlit_server(workspaces) as restarted:  # a new server process on the same folder
        page.goto(link.replace(server, restarted))
        page.get_by_role("heading", name="Interpolate", level=1).wait_for()
        assert seeds_in_set(page) == "8"
        page.get_by_text("LOL", exact=True).first.wait_for()


def test_subspace_slider_steps_are_saved_to_the_last_when_the_server_stops(browser, tmp_path):
    """A Subspace slider's steps are fragment reruns, whose saves are coalesced (at most one write a second,
    ui.server.workspace.CoalescedSaves): the last step's value is in the workspace file once the server has
    stopped, however soon after the steps."""
    from ui.server import workspace

    tab = new_tab(browser)
    with streamlit_server(tmp_path) as server:
        tab.goto(server)
        tab.get_by_role("button", name="Start with a demo").click()
        tab.get_by_role("heading", name="Interpolate", level=1).wait_for()
        settle(tab)
        goto_page(tab, "Subspace")
        image = tab.locator("[data-testid=stMain] [data-testid=stImage] img").first
        thumb = tab.locator("[data-testid=stMain]").get_by_role("slider").first
        for _ in range(6):
            before = image.get_attribute("src")
            thumb.focus()
            thumb.press("ArrowRight")
            tab.wait_for_function("src => document.querySelector('[data-testid=stMain] [data-testid=stImage] img')"
                                  ".src !== src", arg=before)
            settle(tab)
        value = float(thumb.input_value())  # a range input
        ws_id = tab.url.split("ws=")[1].split("&")[0]
    # the server was stopped (SIGTERM) right after the last step: what was pending is written at its exit
    settings = workspace.load_workspace(ws_id, tmp_path).settings
    tab.context.close()
    assert [v for k, v in settings.items() if k.startswith("subspace.h0.")] == [pytest.approx(value, abs=1e-6)]


def test_corrupt_workspace_in_the_browser(server, page, workspaces):
    bad = "A" * 22
    (workspaces / f"{bad}.safetensors").write_bytes(b"not a workspace")
    page.goto(f"{server}/?ws={bad}")
    page.get_by_text("is not a usable Latent Explorer workspace").wait_for()
    settle(page)
    assert bad not in page.url
    assert (workspaces / f"{bad}.safetensors").read_bytes() == b"not a workspace"


def test_workspace_download_and_upload(server, page):
    from ui.server import workspace
    from ui.server.seed_set import SeedSet

    page.goto(server)
    page.get_by_role("button", name="Start with a demo").click()
    page.get_by_role("heading", name="Interpolate", level=1).wait_for()
    settle(page)
    sidebar = page.locator("[data-testid=stSidebar]")
    sidebar.get_by_text("Workspace", exact=True).click()
    with page.expect_download() as download:
        sidebar.get_by_role("button", name="Download the workspace").click()
    saved = workspace.workspace_from_bytes(Path(download.value.path()).read_bytes())
    assert saved.seed_sets[DEFAULT_MODEL].names == [f"demo {i}" for i in range(8)]

    sidebar.locator("input[type=file]").set_input_files(
        files=[{"name": "broken.safetensors", "mimeType": "application/octet-stream", "buffer": b"nope"}])
    sidebar.get_by_text("This workspace is unchanged").wait_for()
    assert seeds_in_set(page) == "8"

    saved.seed_sets[DEFAULT_MODEL] = SeedSet(saved.seed_sets[DEFAULT_MODEL].latents[:3], ["one", "two", "three"])
    before = page.url
    sidebar.locator("input[type=file]").set_input_files(
        files=[{"name": "mine.safetensors", "mimeType": "application/octet-stream",
                "buffer": workspace.workspace_to_bytes(saved)}])
    sidebar.get_by_text("Opened mine.safetensors as a new workspace").wait_for()
    assert seeds_in_set(page) == "3"
    assert page.url != before


def test_a_100_mib_workspace_uploads(server, page, workspaces, tmp_path):
    """Streamlit's upload limit (server.maxUploadSize) is the app's workspace limit: a workspace between the 64 MiB
    the server once took and the 256 MiB a workspace may take uploads through the real endpoint (it was a bare
    "AxiosError ... 413")."""
    import torch

    from ui.server import workspace
    from ui.server.seed_set import SeedSet

    latents = torch.randn(1600, 4, 64, 64, generator=torch.Generator().manual_seed(0))  # 1600 SD latents
    big = tmp_path / "big.safetensors"
    big.write_bytes(workspace.workspace_to_bytes(workspace.Workspace(seed_sets={
        "/srv/pipelines/sd": SeedSet(latents, [f"sd {i}" for i in range(1600)])})))
    assert big.stat().st_size > 100 * 2**20
    page.goto(server)
    page.get_by_role("heading", name="Latent Explorer").wait_for()
    settle(page)
    sidebar = page.locator("[data-testid=stSidebar]")
    sidebar.get_by_text("Workspace", exact=True).click()
    sidebar.locator("input[type=file]").set_input_files(big)  # a path: Playwright streams a file this large
    sidebar.get_by_text("Opened big.safetensors as a new workspace").wait_for()
    assert page.get_by_text("AxiosError").count() == 0
    opened = page.url.split("ws=")[1].split("&")[0]
    assert (workspaces / f"{opened}.safetensors").stat().st_size > 100 * 2**20  # saved as this browser's own
    (workspaces / f"{opened}.safetensors").unlink()  # 100 MiB less in the module's store


def test_playground_click_places_an_endpoint(server, page):
    page.goto(server)
    goto_page(page, "Geometry playground")
    plot = page.locator("[data-testid=stMain] .js-plotly-plot").first
    plot.wait_for()
    settle(page)
    start_x = page.get_by_label("start x1")
    before = start_x.input_value()
    area = plot.locator(".nsewdrag").first.bounding_box()
    page.mouse.click(area["x"] + 0.5 * area["width"], area["y"] + 0.3 * area["height"])
    page.wait_for_function("v => document.querySelector('input[aria-label=\"start x1\"]').value !== v", arg=before)
    settle(page)
    end_before = page.get_by_label("end x1").input_value()  # the next click places the end
    page.mouse.click(area["x"] + 0.2 * area["width"], area["y"] + 0.7 * area["height"])
    page.wait_for_function("v => document.querySelector('input[aria-label=\"end x1\"]').value !== v",
                           arg=end_before)
    settle(page)
    no_errors(page)
    shoot(page, "playground")


def test_compare_runs_in_the_browser(server, page):
    page.goto(server)
    goto_page(page, "Compare schemes")
    page.get_by_role("button", name="Run the comparison").click()
    page.locator("[data-testid=stMain] [data-testid=stDataFrame]").first.wait_for(timeout=2 * WAIT_MS)
    page.locator("[data-testid=stMain] .js-plotly-plot").nth(2).wait_for()  # faces-dcgan: 3 metrics measured
    page.get_by_text("Examples: the first pair of the run").wait_for()
    settle(page)
    no_errors(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    csv = Path(download.value.path()).read_text().splitlines()
    assert csv[0].startswith("task,scheme") and len(csv) == 1 + 3 + 3
    page.locator("[data-testid=stMain] [data-testid=stDataFrame]").first.scroll_into_view_if_needed()
    shoot(page, "compare")


def test_a_judging_round_with_two_voters_and_a_reader(server, browser):
    """The host opens a round on faces-dcgan (1 pair of endpoints: 3 comparisons) and reads its code; two other
    sessions open its link and judge every comparison; the host reads the tally of their votes."""
    import re

    host = new_tab(browser)
    host.goto(server)
    settle(host)
    goto_page(host, "Judge schemes")
    host.get_by_role("tab", name="Open a round").click()
    pairs = host.locator("[data-testid=stMain]").get_by_role("slider").first
    for _ in range(10):  # down to 1 pair, each key press seen by the slider before the next
        if pairs.get_attribute("aria-valuenow") == "1":
            break
        pairs.focus()
        pairs.press("ArrowLeft")
        settle(host)
    host.get_by_text("each person judges 3 comparisons").wait_for()
    settle(host)
    host.get_by_role("button", name="Open the round").click()
    opened = host.get_by_text(re.compile(r"Round \w{8} is open"))
    opened.wait_for()
    code = re.search(r"Round (\w{8}) is open", opened.inner_text()).group(1)
    no_errors(host)

    def judge(answer):
        tab = new_tab(browser)
        tab.goto(f"{server}/judge?round={code}")
        settle(tab)
        tab.get_by_role("tab", name="Judge").click()  # the first tab: the room judges
        for number in range(1, 4):
            tab.get_by_text(f"Comparison {number} of 3").wait_for()
            settle(tab)
            tab.wait_for_function(  # the last comparison's buttons gone (Streamlit keeps them while it reruns)
                "name => [...document.querySelectorAll('[data-testid=stMain] button')]"
                ".filter(b => b.innerText.trim() === name).length === 1", arg=answer)
            # left and right, unnamed; drawn after the buttons on a busy machine, so waited for
            tab.wait_for_function("() => document.querySelectorAll('[data-testid=stMain] .le-frames').length === 2")
            if number == 1 and answer.startswith("Left"):
                shoot(tab, "judge-vote")
            tab.get_by_role("button", name=answer).click()
        tab.get_by_text("You have judged all 3 comparisons").wait_for()
        no_errors(tab)
        tab.context.close()

    judge("Left looks more natural")
    judge("No difference")
    host.get_by_role("tab", name="Results").click()  # the host reads the tally the two sessions made
    host.get_by_role("button", name="Count the votes again").click()
    host.get_by_text("6 votes on 3 comparisons").wait_for()
    host.locator("[data-testid=stMain] .js-plotly-plot").first.wait_for()
    settle(host)
    no_errors(host)
    shoot(host, "judge")
    host.context.close()


def test_a_plugin_model_and_its_class_condition(browser, tmp_path):
    """A server started with `-- --models` (the documentation's example and a broken file): the plug-in is picked in the
    model selector, and choosing another class in the sidebar changes the decoded images."""
    broken = tmp_path / "broken_gan.py"
    broken.write_text("import not_a_module_anywhere\n")
    with streamlit_server(tmp_path / "workspaces", models=["examples/plugins/conditional_gan.py", broken]) as url:
        page = new_tab(browser)
        page.goto(url)
        page.get_by_role("heading", name="Latent Explorer").wait_for()
        settle(page)
        sidebar = page.locator("[data-testid=stSidebar]")
        sidebar.get_by_text("Plug-in models refused (1)").click()
        sidebar.get_by_text("broken_gan.py: running the file failed").wait_for()
        page.get_by_role("combobox", name="Model").click()
        page.get_by_role("option", name="example-cgan").click()
        page.get_by_role("combobox", name="Label").wait_for()
        settle(page)
        page.get_by_role("button", name="Start with a demo").click()
        page.get_by_role("heading", name="Interpolate", level=1).wait_for()
        page.locator(".js-plotly-plot").first.wait_for()
        settle(page)
        image = page.locator("[data-testid=stMain] .le-frames img").nth(1)  # a frame between the seeds
        before = image.get_attribute("src")
        label = page.get_by_role("combobox", name="Label")
        label.click()  # typing and Enter: no race with a dropdown that a rerun may close
        label.press_sequentially("dog")
        label.press("Enter")
        page.wait_for_function("src => document.querySelectorAll('[data-testid=stMain] .le-frames img')[1]"
                               ".getAttribute('src') !== src", arg=before)
        settle(page)
        assert image.get_attribute("src") != before
        assert page.get_by_role("combobox", name="Label").input_value() == "dog"
        assert page.get_by_role("combobox", name="Model").input_value().startswith("example-cgan")
        no_errors(page)
        shoot(page, "plugin")
        page.context.close()


def test_crafted_uploads_are_refused_from_their_headers_at_no_cost_in_server_memory(server, browser):
    """The reported files that cost hundreds of MiB before their refusal: each now answered from its headers, in
    words, with the server's peak memory within 50 MiB of where it was; the names bomb uploaded in four sessions at
    once as well."""
    import torch

    from tools import crafted
    from tools.launch import ServerMemory

    memory = ServerMemory(server.pid)
    cases = [("wide.npz", crafted.wrong_shape_npz(), "wide.npz holds an array of shape (1, 64000000), which does "
                                                     "not fit latents of shape"),
             ("old.pt", crafted.legacy_pt(torch.zeros(2, 16)), "old.pt is not a .pt file that can be read safely"),
             ("liar.pt", crafted.lying_pt(), "liar.pt is not a valid .pt file: it declares more data than it holds"),
             ("deep.safetensors", crafted.nested_names_safetensors(), "its names cannot be read")]
    tabs = [new_tab(browser) for _ in range(4)]
    for tab in tabs:
        tab.goto(f"{server}/seeds?model=digits-vae")  # latents of 16 numbers, as the crafted files hold
        tab.get_by_role("heading", name="Seeds", level=1).wait_for()
        settle(tab)
    memory.reset_peak()
    before = memory.resident()
    files = tabs[0].locator("[data-testid=stMain] input[type=file]").first
    for name, data, said in cases:
        files.set_input_files(files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}])
        tabs[0].get_by_text(said).wait_for()
        assert tabs[0].get_by_text("allocate").count() == 0 and tabs[0].get_by_text("Error:").count() == 0
        settle(tabs[0])
    bomb = crafted.names_bomb_npz()
    for tab in tabs:  # each upload started before any is answered
        tab.locator("[data-testid=stMain] input[type=file]").first.set_input_files(
            files=[{"name": "both.npz", "mimeType": "application/octet-stream", "buffer": bomb}])
    for tab in tabs:
        tab.get_by_text("does not fit latents of shape").wait_for()
        settle(tab)
    assert memory.peak() - before < 50, f"{memory.peak() - before:.0f} MiB more at the peak"
    for tab in tabs:
        tab.context.close()
