"""Debian's headless Chromium, as the browser tests drive it through Playwright (whose own browser
download is out of reach here). `.ci/run` installs the `chromium` package."""

from __future__ import annotations

import shutil

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SKIP_REASON = "no chromium on PATH (apt-get install chromium; .ci/run does)"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
