"""The page of `neural-style serve` in a real browser: Debian's Chromium, headless, driven by Playwright.

The real command runs as a child process (`python -m neural_style serve --port 0 --weights random`, on 127.0.0.1);
the page is loaded from it and used as a person would: a photo dropped, a painting chosen, the strength slider moved
with the keyboard, the picture downloaded as PNG and JPEG, a refine started, followed and cancelled. What the page
shows is held against independent answers: the downloaded PNG against the server's own answer to the same settings
sent by this test (so the page sent the slider's value, the photo and the painting, and shows the server's pixels
untouched), the picture's size against the photo's, the cancelled job against the server's record of its events.
Every request the browser makes is recorded: none may leave the server's host.

Skipped, with the reason, where Debian's chromium or the playwright package is missing. No browser is downloaded:
Playwright drives /usr/bin/chromium. NEURAL_STYLE_SCREENSHOTS=DIR keeps the screenshots for a person to look at.
"""

import base64
import io
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import urllib.parse

import httpx
import imageio.v3 as iio
import numpy as np
import pytest

from tests.fixtures import checkout_environment, first_line

CHROMIUM = "/usr/bin/chromium"
# Chromium without its own traffic (updates, sync, QUIC probes) and without a sandbox (CI runs as root).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "neural_style", "demo")
PHOTO, PAINTING = os.path.join(DEMO, "tubingen.jpg"), os.path.join(DEMO, "starry_night.jpg")
# Bounded waits (milliseconds for the browser, seconds for the server): generous for a loaded two-core machine.
READY_S, PICTURE_MS, REFINE_MS = 180, 120_000, 240_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason=f"no {CHROMIUM}: install Debian's browser (apt-get install -y chromium) for the page's browser test",
    ),
]
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="the playwright package is not installed: pip install playwright (it drives Debian's chromium: no "
    "`playwright install` needed)",
)


def start_server(tmp_path, *options):
    """
    `python -m neural_style serve --port 0 --weights random` in a child process, up to its ready line.

    Arguments:
    tmp_path -- a folder for its working directory and its stderr
    options -- more of serve's flags

    Returns:
    (process, url) -- the subprocess.Popen and the address its ready line gave
    """
    log = open(tmp_path / "serve.stderr", "w")
    command = [sys.executable, "-m", "neural_style", "serve", "--port", "0", "--weights", "random", *options]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=log, text=True, cwd=tmp_path, env=checkout_environment()
    )
    log.close()
    line = (first_line(process.stdout, READY_S) or "").rstrip("\n") or None
    if line is None:
        stop_server(process)
        pytest.fail(
            f"serve printed no ready line within {READY_S} s: {(tmp_path / 'serve.stderr').read_text()[-2000:]}"
        )
    match = re.fullmatch(r"Serving on (http://127\.0\.0\.1:\d+/(\?token=\S+)?)", line)
    assert match, f"not the contract's ready line: {line!r}"
    return process, match.group(1)


def stop_server(process):
    """Ends the serve command: SIGTERM, then SIGKILL if it is still running 30 s later."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
    process.stdout.close()


@pytest.fixture
def browser(tmp_path):
    """A headless Chromium with a fresh profile, at 1280x800; every request it makes is in `browser.requests`."""
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800},
            accept_downloads=True,
        )
        requests = []
        context.on("request", lambda request: requests.append(request))
        context.requests = requests
        try:
            yield context
        finally:
            context.close()


def screenshot(page, tmp_path, name):
    """A screenshot of the page, kept in $NEURAL_STYLE_SCREENSHOTS when set (for a person to look at)."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path))
    if os.environ.get("NEURAL_STYLE_SCREENSHOTS"):
        shutil.copy(path, os.environ["NEURAL_STYLE_SCREENSHOTS"])
    return path


def drop_file(page, selector, path, mime):
    """Drops a file on an element as a person dragging it from their desktop would (a DataTransfer with the file)."""
    with open(path, "rb") as file:
        payload = base64.b64encode(file.read()).decode()
    transfer = page.evaluate_handle(
        """([name, payload, mime]) => {
            const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: mime }));
            return transfer;
        }""",
        [os.path.basename(path), payload, mime],
    )
    page.dispatch_event(selector, "dragover", {"dataTransfer": transfer})
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def stylize_directly(base, strength, region=None):
    """
    The server's answer to the settings the page should have sent, asked for by the test itself.

    Arguments:
    base -- the server's address, ending in '/'
    strength -- the strength, as the text the form sends
    region -- None (one painting), or a (H, W) uint8 mask: then the photo itself is the second painting, in that region

    Returns:
    pixels -- int16 (H, W, 3)
    """
    photo, painting = pathlib.Path(PHOTO).read_bytes(), pathlib.Path(PAINTING).read_bytes()
    files = {"content": ("photo.jpg", photo), "style": ("painting.jpg", painting)}
    data = {"strength": strength, "style_size": "256", "preserve_colors": "false"}
    if region is not None:
        mask = io.BytesIO()
        iio.imwrite(mask, region, extension=".png")
        files.update(style2=("painting2.jpg", photo), region=("region.png", mask.getvalue()))
        data["mix"] = "0.5"
    response = httpx.post(base + "api/stylize", files=files, data=data, timeout=120)
    assert response.status_code == 200, response.text
    return iio.imread(io.BytesIO(response.content))[..., :3].astype(np.int16)


def post_job(base):
    """A refine job the test starts itself (the photo and painting, 5000 steps at 64 pixels); returns its id."""
    files = {
        "content": ("photo.jpg", pathlib.Path(PHOTO).read_bytes()),
        "style": ("p.jpg", pathlib.Path(PAINTING).read_bytes()),
    }
    response = httpx.post(base + "api/jobs", files=files, data={"iterations": "5000", "max_size": "64"}, timeout=60)
    assert response.status_code == 202, response.text
    assert response.json()["position"] == 0
    return response.json()["id"]


def cancel_job(base, job_id):
    """Cancels a job through the API (DELETE)."""
    response = httpx.delete(f"{base}api/jobs/{job_id}", timeout=60)
    assert response.status_code == 200 and response.json() == {"cancelled": True}


def job_events(base, job_id):
    """The server's record of a job's events (the stream replays them all and ends after the last)."""
    events = []
    with httpx.stream("GET", f"{base}api/jobs/{job_id}/events", timeout=60) as response:
        assert response.status_code == 200
        name = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((name, json.loads(line.split(":", 1)[1])))
    return events


def open_page(browser, url):
    """
    Opens the page in a new tab and waits, at most 30 s, until its script says it is ready with no error shown.

    Arguments:
    browser -- Playwright's browser
    url -- the page's address, with its token if any

    Returns:
    page -- the tab
    failures -- the list the page's uncaught script errors are appended to
    """
    page = browser.new_page()
    failures = []
    page.on("pageerror", lambda error: failures.append(str(error)))
    page.goto(url)
    sync_api.expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=30_000)
    sync_api.expect(page.locator("#error")).to_be_hidden()
    return page, failures


def test_the_page_paints_downloads_refines_and_cancels(browser, tmp_path):
    server, url = start_server(tmp_path)
    try:
        base = url.split("?")[0]
        expect = sync_api.expect
        page, failures = open_page(browser, url)
        # Every control has a label a screen reader reads: a <label>, aria-label, or (buttons) its own text.
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll("input, select, textarea, button, canvas")]
                .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label")
                    && !(el.tagName === "BUTTON" && el.textContent.trim()))
                .map((el) => el.id || el.outerHTML.slice(0, 80))"""
        )
        assert unlabelled == []
        assert page.locator("#bundled-styles input[type=radio]").count() == 26  # magenta-26's styles, from /api/models

        # The photo dropped on its box, the painting chosen with the file input.
        drop_file(page, "#photo-drop", PHOTO, "image/jpeg")
        expect(page.locator("#photo-status")).to_have_text("tubingen.jpg, 512 x 384 pixels")
        page.set_input_files("#painting-input", PAINTING)
        status = page.locator("#result-status")
        expect(status).to_have_text(re.compile(r"^512 x 384 pixels in "), timeout=PICTURE_MS)
        expect(page.locator("#command")).to_have_value(re.compile(r"^neural-style apply .*--style-image PAINTING"))

        # The strength slider moved with the keyboard, 1.00 -> 0.50 in ten steps of 0.05: the picture that stays
        # is the one for the slider's last value (its command line says so).
        page.focus("#strength")
        for _ in range(10):
            page.keyboard.press("ArrowLeft")
        expect(page.locator("#strength-value")).to_have_text("0.50")
        expect(page.locator("#command")).to_have_value(re.compile(r"--strength 0\.5\b"), timeout=PICTURE_MS)
        expect(status).to_have_attribute("data-state", "idle", timeout=PICTURE_MS)
        expect(page.locator("#error")).to_be_hidden()
        size = page.eval_on_selector("#result", "img => [img.naturalWidth, img.naturalHeight]")
        assert size == [512, 384]

        with page.expect_download() as download:
            page.click("#download-png")
        png = iio.imread(download.value.path())[..., :3].astype(np.int16)
        with page.expect_download() as download:
            page.click("#download-jpeg")
        assert download.value.suggested_filename.endswith(".jpg")
        jpeg = iio.imread(download.value.path(), extension=".jpg")[..., :3].astype(np.int16)
        photo = iio.imread(PHOTO)[..., :3].astype(np.int16)
        assert png.shape == jpeg.shape == photo.shape == (384, 512, 3)
        # The page's picture is the server's answer to strength 0.5, pixel for pixel (PNG is lossless; the same
        # server, network and inputs give the same arithmetic), and not its answer to 1.0 nor the photo.
        half, full = stylize_directly(base, "0.5"), stylize_directly(base, "1")
        assert np.array_equal(png, half)
        assert np.abs(png - full).mean() > 1 and np.abs(png - photo).mean() > 1
        # The JPEG is the same picture, re-encoded: far closer to it than the photo is.
        assert np.abs(jpeg - png).mean() < np.abs(photo - png).mean() / 4
        screenshot(page, tmp_path, "serve-picture")

        # A second painting (the photo itself) in a region drawn with the mouse: the picture must be the server's
        # answer to the mask the test makes from the canvas's own pixels (white where the strokes' alpha is).
        page.click("#second summary")
        page.set_input_files("#painting2-input", PHOTO)
        expect(page.locator("#command")).to_have_value(
            re.compile(r"--style-image PAINTING PAINTING2"), timeout=PICTURE_MS
        )
        page.check("#draw")
        box = page.locator("#region").bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.5)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.5, steps=5)
        page.mouse.up()
        expect(page.locator("#command")).to_have_value(
            re.compile(r"--style-masks MASK_INVERTED MASK"), timeout=PICTURE_MS
        )
        expect(status).to_have_attribute("data-state", "idle", timeout=PICTURE_MS)
        drawn = page.eval_on_selector("#region", "canvas => canvas.toDataURL('image/png')")
        region = iio.imread(base64.b64decode(drawn.split(",", 1)[1]))[..., 3]
        # The canvas has the photo's size (under the page's 1024-pixel cap); the stroke crossed its left half.
        assert region.shape == (384, 512) and region[192, 100] == 255 and region[:100].max() == region[300:].max() == 0
        with page.expect_download() as download:
            page.click("#download-png")
        painted = iio.imread(download.value.path())[..., :3].astype(np.int16)
        assert np.array_equal(painted, stylize_directly(base, "0.5", region))
        assert np.abs(painted - png).mean() > 1

        # Refine from the picture at 128 pixels (quick steps), behind another job the test starts itself: the page
        # shows its place in the queue, then (the other job cancelled) its progress and previews; then Cancel.
        ahead = post_job(base)
        page.fill("#iterations", "5000")
        page.fill("#refine-size", "128")
        with page.expect_response(lambda response: response.url == base + "api/jobs") as posted:
            page.click("#refine")
        assert posted.value.status == 202
        job = posted.value.json()
        assert job["position"] == 1 and job["command"].startswith("neural-style ")
        expect(page.locator("#refine-command")).to_have_value(job["command"])
        refine_status = page.locator("#refine-status")
        expect(refine_status).to_have_text("Queued: position 1 (one job runs at a time).")
        expect(page.locator("#cancel")).to_be_enabled()
        cancel_job(base, ahead)
        assert job_events(base, ahead)[-1] == ("cancelled", {})
        expect(refine_status).to_have_text(
            re.compile(r"^Iteration [1-9]\d* of 5000: cost \d\.\d{3}e[+-]\d+ \(content "), timeout=REFINE_MS
        )
        # A preview every 10 steps, at the refine's size: 128 pixels on the longer side, the photo's 4:3 kept.
        preview = page.locator("#refine-preview")
        expect(preview).to_be_visible(timeout=REFINE_MS)
        expect(preview).to_have_js_property("naturalWidth", 128, timeout=PICTURE_MS)
        assert preview.evaluate("img => img.naturalHeight") == 96
        page.locator("#refine-section").scroll_into_view_if_needed()
        screenshot(page, tmp_path, "serve-refine")
        page.click("#cancel")
        expect(refine_status).to_have_attribute("data-phase", "cancelled", timeout=REFINE_MS)
        expect(refine_status).to_have_text("Cancelled.")
        expect(page.locator("#refine")).to_be_enabled()
        # The server's record: the job ended cancelled, before its last iteration, and has no result.
        events = job_events(base, job["id"])
        assert events[-1] == ("cancelled", {})
        assert not any(name in ("done", "error") for name, _ in events)
        assert max(data.get("iteration", 0) for _, data in events) < 5000

        # At 1280x800 and in a narrow window (one column), nothing is wider than the window; narrow, the photo is
        # right below where it is chosen.
        overflow = "() => document.documentElement.scrollWidth - window.innerWidth"
        assert page.evaluate(overflow) <= 0
        page.set_viewport_size({"width": 400, "height": 800})
        assert page.evaluate(overflow) <= 0
        chosen, shown = (
            page.locator("#photo-section").bounding_box(),
            page.locator("#photo-view-section").bounding_box(),
        )
        assert chosen["y"] + chosen["height"] <= shown["y"]
        assert (shown["x"], shown["width"]) == (chosen["x"], chosen["width"])  # one column: the same box across
        screenshot(page, tmp_path, "serve-narrow")
        assert failures == []
    finally:
        stop_server(server)
    assert server.returncode == 0, (tmp_path / "serve.stderr").read_text()[-2000:]

    # Every request the browser made went to the server (blob: addresses are the page's own pictures).
    server_host = urllib.parse.urlsplit(base).netloc
    addresses = [request.url for request in browser.requests]
    elsewhere = [
        address
        for address in addresses
        if urllib.parse.urlsplit(address.removeprefix("blob:")).netloc != server_host
        and not address.startswith("data:")
    ]
    assert elsewhere == []
    paths = {urllib.parse.urlsplit(address).path for address in addresses if address.startswith("http")}
    assert {"/", "/static/app.js", "/static/style.css", "/api/models", "/api/stylize", "/api/jobs"} <= paths


def test_the_page_carries_its_token_to_every_request(browser, tmp_path):
    token = "page-test-token-8d2f"
    server, url = start_server(tmp_path, "--token", token)
    try:
        assert url.endswith(f"/?token={token}")
        base = url.split("?")[0]
        expect = sync_api.expect
        page, failures = open_page(browser, url)
        # A bundled style's thumbnails (<img src>: the token as a query parameter) and its picture.
        page.set_input_files("#photo-input", PHOTO)
        page.check("input[name=style-kind][value=bundled]")
        page.click("#bundled-styles label:nth-of-type(3)")
        expect(page.locator("#command")).to_have_value(re.compile(r"--style-index 2\b"), timeout=PICTURE_MS)
        thumbnail = page.locator("#bundled-styles label:nth-of-type(3) img")
        expect(thumbnail).to_have_js_property("complete", True, timeout=PICTURE_MS)
        assert thumbnail.evaluate("img => img.naturalWidth") > 0
        # The strength and scale sliders are for paintings: off here. "Preserve colours" goes with the style.
        expect(page.locator("#strength")).to_be_disabled()
        page.check("#preserve-colors")
        expect(page.locator("#command")).to_have_value(
            re.compile(r"^(?=.*--model magenta-26 --style-index 2\b)(?=.*--preserve-colors)"),
            timeout=PICTURE_MS,
        )
        page.uncheck("#preserve-colors")
        # A painting's picture, then a two-step refine followed to its end over the event stream (?token= again)
        # and its result fetched: the refined picture's longer side is the server's default 400, the photo's
        # aspect ratio kept (512 x 384 -> 400 x 300).
        page.check("input[name=style-kind][value=painting]")
        page.set_input_files("#painting-input", PAINTING)
        expect(page.locator("#command")).to_have_value(re.compile(r"--style-image PAINTING"), timeout=PICTURE_MS)
        expect(page.locator("#result-status")).to_have_attribute("data-state", "idle", timeout=PICTURE_MS)
        page.fill("#iterations", "2")
        page.click("#refine")
        expect(page.locator("#refine-status")).to_have_attribute("data-phase", "done", timeout=REFINE_MS)
        expect(page.locator("#refined-download")).to_be_visible(timeout=PICTURE_MS)
        with page.expect_download() as download:
            page.click("#refined-download")
        assert iio.imread(download.value.path()).shape[:2] == (300, 400)
        expect(page.locator("#error")).to_be_hidden()

        # A painting the server cannot read: the page shows the API's own line for it (the test asks the API for
        # the same upload), keeps the earlier picture marked as such, and Refine waits for the error to be mended.
        broken = {"name": "broken.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n\x1a\nnot a picture"}
        page.set_input_files("#painting-input", broken)
        expect(page.locator("#error")).to_be_visible(timeout=PICTURE_MS)
        answer = httpx.post(
            base + "api/stylize",
            files={
                "content": ("photo.jpg", pathlib.Path(PHOTO).read_bytes()),
                "style": ("broken.png", broken["buffer"]),
            },
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        assert answer.status_code == 400
        expect(page.locator("#error")).to_have_text(answer.json()["error"])
        expect(page.locator("#result-status")).to_have_text("The picture is from the earlier settings.")
        expect(page.locator("#refine")).to_be_disabled()
        assert failures == []
    finally:
        stop_server(server)
    assert server.returncode == 0, (tmp_path / "serve.stderr").read_text()[-2000:]

    api = [request for request in browser.requests if urllib.parse.urlsplit(request.url).path.startswith("/api/")]
    assert {"/api/models", "/api/stylize", "/api/jobs"} <= {urllib.parse.urlsplit(each.url).path for each in api}
    for request in api:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query)
        carried = request.headers.get("authorization") == f"Bearer {token}" or query.get("token") == [token]
        assert carried, request.url
    assert all(request.url.startswith((base, "blob:" + base, "data:")) for request in browser.requests)
