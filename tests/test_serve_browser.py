"""The draw-a-digit page in a real browser: headless Chromium draws digits with mouse strokes on
the canvas of a page served on 127.0.0.1, and reads the answers the page shows.

The screenshot goes to $SCRATCHNET_SCREENSHOT_DIR (docs/ for the README's picture) or a temp folder.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.browser import ARGS, CHROMIUM, SKIP_REASON

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)]


def arc(cx, cy, rx, ry, start, end, n=24):
    return [(cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in (start + (end - start) * i / (n - 1) for i in range(n))]


# strokes in the canvas's own 280x280 pixels, each a polyline the mouse follows with the button down
DIGITS = {
    0: [arc(140, 140, 55, 88, -90, 275, 40)],
    1: [[(135, 45), (142, 235)]],
    2: [[*arc(140, 100, 55, 48, 180, 395, 24), (85, 232), (210, 232)]],
    3: [arc(135, 92, 48, 42, -160, 90, 20) + arc(135, 180, 55, 48, -90, 150, 22)],
    4: [[(160, 45), (78, 170), (210, 170)], [(168, 95), (168, 240)]],
    7: [[(78, 55), (205, 55), (115, 238)]],
}


@pytest.fixture(scope="module")
def server(mnist_model):
    import uvicorn

    from scratchnet.serving.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(mnist_model[0]), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "the server did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def draw(page, strokes):
    box = page.locator("#pad").bounding_box()
    scale = box["width"] / 280
    for stroke in strokes:
        x0, y0 = stroke[0]
        page.mouse.move(box["x"] + x0 * scale, box["y"] + y0 * scale)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * scale, box["y"] + y * scale, steps=4)
        page.mouse.up()


@contextmanager
def browser_page(server, width, height, errors=None, offsite=None):
    """A Chromium page of width x height; with errors and offsite (lists), it records script errors
    and refuses, recording them, requests anywhere but the server."""
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            if errors is not None:
                page.on("pageerror", lambda e: errors.append(str(e)))
            if offsite is not None:
                page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(server)
                           else (offsite.append(route.request.url), route.abort()))
            yield page
        finally:
            browser.close()


def test_drawn_digits_are_read_on_the_page(server, tmp_path):
    shots = Path(os.environ.get("SCRATCHNET_SCREENSHOT_DIR") or tmp_path)
    read, errors, offsite = {}, [], []
    with browser_page(server, 820, 620, errors, offsite) as page:
        page.goto(server + "/")
        for digit, strokes in DIGITS.items():
            page.click("#clear")
            draw(page, strokes)
            page.wait_for_function("document.querySelector('#seen').src.startsWith('data:image/png')", timeout=10_000)
            read[digit] = page.inner_text("#answer").strip()
            if digit == 3:
                page.screenshot(path=str(shots / "serve-page.png"))
    assert not errors and not offsite, (errors, offsite)
    assert read == {d: str(d) for d in DIGITS}, read
    assert (shots / "serve-page.png").stat().st_size > 10_000


@pytest.mark.parametrize("width", [320, 390, 1280])
def test_the_page_fits_phones_and_desktops_and_answers_an_empty_read(server, tmp_path, width):
    missing = []
    with browser_page(server, width, 800) as page:
        page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
        page.goto(server + "/")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(tmp_path / f"page-{width}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{overflow} px wider than a {width} px screen"
        assert page.evaluate("getComputedStyle(document.querySelector('#seen')).visibility") == "hidden"
        page.click("#read")  # nothing drawn yet
        assert "Draw a digit first" in page.inner_text("#verdict")
        draw(page, DIGITS[1])
        page.wait_for_function("document.querySelector('#seen').src.startsWith('data:image/png')", timeout=10_000)
        assert page.evaluate("getComputedStyle(document.querySelector('#seen')).visibility") == "visible"
    assert not missing, missing  # the favicon included


def test_the_api_docs_render_offline_and_try_it_out_answers(server, tmp_path):
    """/docs (Swagger UI from the swagger-ui-bundle package) shows POST /predict, and "Try it out"
    with a picture returns the model's answer."""
    from PIL import Image, ImageDraw

    picture = tmp_path / "seven.png"
    im = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(im).line([(50, 40), (150, 40), (85, 170)], fill=0, width=14)
    im.save(picture)
    errors, offsite = [], []
    with browser_page(server, 1100, 900, errors, offsite) as page:
        page.goto(server + "/docs")
        operation = page.locator("#operations-default-predict_predict_post")
        operation.wait_for(timeout=15_000)
        assert "POST" in operation.inner_text() and "/predict" in operation.inner_text()
        operation.locator(".opblock-summary").click()
        operation.locator("button.try-out__btn").click()
        operation.locator("input[type=file]").set_input_files(str(picture))
        operation.locator("button.execute").click()
        body = operation.locator(".responses-wrapper .live-responses-table .response-col_description pre")
        body.first.wait_for(timeout=15_000)
        answer = body.first.inner_text()
        page.screenshot(path=str(tmp_path / "docs.png"), full_page=True)
    assert not errors and not offsite, (errors, offsite)
    assert '"digit": 7' in answer, answer


def test_a_busy_server_is_said_plainly_on_the_page(server):
    """A 503 (the server saturated) reads "busy, try again" with its Retry-After, not an error dump."""
    with browser_page(server, 820, 620) as page:
        page.goto(server + "/")
        page.route("**/predict", lambda route: route.fulfill(
            status=503, headers={"Retry-After": "3", "Content-Type": "application/json"}, body='{"error": "busy"}'))
        draw(page, DIGITS[1])
        page.wait_for_function("document.querySelector('#verdict').textContent.includes('busy')", timeout=10_000)
        assert page.inner_text("#verdict") == "The server is busy, try again in 3 s."
        assert page.inner_text("#answer").strip() == "?"


NOT_DIGITS = {
    "H": [[(80, 50), (80, 230)], [(200, 50), (200, 230)], [(80, 140), (200, 140)]],
    "star": [[(140, 40), (170, 120), (250, 120), (185, 170), (210, 250), (140, 200), (70, 250), (95, 170), (30, 120),
              (110, 120), (140, 40)]],
}


def test_a_drawn_non_digit_is_said_to_be_none_in_place_of_a_digit(server):
    """Flagged `uncertain`, the page shows why where the digit would be, then the detector's score,
    its threshold and the model's best guess; a digit drawn next shows as a digit again."""
    with browser_page(server, 820, 620) as page:
        page.goto(server + "/")
        for name, strokes in NOT_DIGITS.items():
            page.click("#clear")
            draw(page, strokes)
            page.wait_for_function("document.querySelector('#seen').src.startsWith('data:image/png')", timeout=10_000)
            assert page.inner_text("#answer").strip() == "This does not look like a digit.", name
            verdict = page.inner_text("#verdict")
            assert "is above the" in verdict and "best guess" in verdict, (name, verdict)
            assert page.evaluate("document.querySelector('#answer').className") == "says"
        page.click("#clear")
        draw(page, DIGITS[7])
        page.wait_for_function("document.querySelector('#answer').textContent.trim() === '7'", timeout=10_000)
        assert page.evaluate("document.querySelector('#answer').className") == ""
