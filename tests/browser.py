"""Drive the system's headless Chromium (Debian's `chromium`) with Python Playwright, offline.

No `playwright install`: the browser is the distribution's, so CI installs it with
apt (`apt-get install -y chromium`). `open_page` records every request the page
makes and every console error, so a test can assert a page needs nothing but itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@dataclass
class PageRun:
    page: Any  # playwright.sync_api.Page
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def require_chromium() -> None:
    """Skip the calling test, saying what to install, when Playwright or Chromium is missing."""
    pytest.importorskip("playwright.sync_api", reason="Playwright not installed: pip install -e '.[test]'")
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium not installed: apt-get install -y chromium")


@contextmanager
def open_page(path: Path, width: int = 1280, height: int = 900) -> Iterator[PageRun]:
    """`path` loaded from file:// in headless Chromium; every request and console/page error is recorded."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=15_000)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            run = PageRun(page)
            page.on("request", lambda request: run.requests.append(request.url))
            page.on("console", lambda msg: run.errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: run.errors.append(str(exc)))
            page.goto(path.resolve().as_uri(), wait_until="load", timeout=10_000)
            yield run
        finally:
            browser.close()
