"""DVC's own HTML plots render with the network off, in a real headless Chromium.

`.dvc/config` points `plots.html_template` at `.dvc/offline-plots.html`, which carries Vega, Vega-Lite
and vega-embed inline. The browser is Debian's `chromium` (installed by `.ci/run`), driven by
Playwright; every request that is not a local file is refused and recorded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.browser import ARGS, CHROMIUM, SKIP_REASON
from tests.support.repo import FEW_DETECTOR, FEW_NEGATIVES, commit, make_repo, sh

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)]


def render(page_path: Path) -> dict:
    """Open page_path offline; return the charts drawn, embeds expected, script errors and blocked requests."""
    html = page_path.read_text()
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            blocked, errors = [], []
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                       else (blocked.append(route.request.url), route.abort()))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(page_path.as_uri())
            expected = html.count("vegaEmbed(")
            page.wait_for_function(f"document.querySelectorAll('.vega-embed svg, .vega-embed canvas').length >= {expected}",
                                   timeout=30_000)
            drawn = page.evaluate("document.querySelectorAll('.vega-embed svg, .vega-embed canvas').length")
            marks = page.evaluate("document.querySelectorAll('.vega-embed .mark-line, .vega-embed .mark-rect, "
                                  ".vega-embed .mark-symbol, .vega-embed canvas').length")
        finally:
            browser.close()
    return {"drawn": drawn, "expected": expected, "marks": marks, "errors": errors, "blocked": blocked}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = make_repo(tmp_path_factory.mktemp("plots"), fetch={"dataset": "digits"}, train={"epochs": 3},
                     negatives=FEW_NEGATIVES, detector=FEW_DETECTOR)
    sh(repo, "dvc", "repro")
    commit(repo, "baseline")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"]["lr"] = 0.02
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(repo, "dvc", "repro")
    return repo


@pytest.mark.parametrize("command", [["dvc", "plots", "show"], ["dvc", "plots", "diff", "HEAD"]])
def test_dvc_plots_render_with_the_network_off(repo, tmp_path, command):
    out = tmp_path / "html"
    sh(repo, *command, "-o", str(out))
    page = out / "index.html"
    assert "cdn.jsdelivr" not in page.read_text()
    r = render(page)
    assert r["expected"] == 5, r  # loss, accuracy, learning rate (DVCLive), confusion, per-class recall
    assert r["drawn"] >= r["expected"] and r["marks"] > 0, r
    assert r["errors"] == [] and r["blocked"] == [], r


def test_the_check_sees_a_page_that_needs_the_network(repo, tmp_path):
    """DVC's default page loads Vega from a CDN: offline, its charts do not render and the requests are caught."""
    from dvc_render.html import PAGE_HTML

    (tmp_path / "default.html").write_text(PAGE_HTML)
    out = tmp_path / "html"
    sh(repo, "dvc", "plots", "show", "-o", str(out), "--html-template", str(tmp_path / "default.html"))
    page = out / "index.html"
    assert "cdn.jsdelivr" in page.read_text()
    with pytest.raises(playwright.TimeoutError):
        render(page)
