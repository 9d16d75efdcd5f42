"""Test helpers for the report and the docs page: read what an HTML page states, and drive the
system's Chromium headless through playwright (no browser download: Debian's `chromium`)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from genesys_finance.settings import PROJECT_ROOT

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def artifacts_dir() -> Path:
    """Where browser tests leave their screenshots (GENESYS_FINANCE_TEST_ARTIFACTS, else
    target/test-artifacts: ignored by git, kept after the run for a person to look at)."""
    configured = os.environ.get("GENESYS_FINANCE_TEST_ARTIFACTS")
    path = Path(configured) if configured else PROJECT_ROOT / "target" / "test-artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def chromium_path() -> str:
    found = os.environ.get("GENESYS_FINANCE_CHROMIUM") or shutil.which("chromium")
    if not found:
        raise AssertionError(
            "Chromium not found: install Debian's package (apt-get install -y chromium; "
            "make browser does it) or set GENESYS_FINANCE_CHROMIUM to its path"
        )
    return found


@contextmanager
def browser_page(width: int = 1400, height: int = 900) -> Iterator[Any]:
    """A fresh page of headless Chromium recording uncaught script errors (`page.errors`),
    console errors (`page.console_errors`) and every request it made (`page.requests`)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            errors: list[str] = []
            console_errors: list[str] = []
            requests: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on(
                "console",
                lambda msg: console_errors.append(msg.text) if msg.type == "error" else None,
            )
            page.on("request", lambda req: requests.append(req.url))
            page.errors = errors
            page.console_errors = console_errors
            page.requests = requests
            yield page
        finally:
            browser.close()


class _DataAttributes(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        data = {k: v or "" for k, v in attrs if k.startswith("data-")}
        if data:
            self.elements.append((tag, data))


def data_elements(html: str) -> list[tuple[str, dict[str, str]]]:
    """Every element carrying `data-*` attributes, in page order, as (tag, attributes)."""
    parser = _DataAttributes()
    parser.feed(html)
    return parser.elements


def figures(html: str) -> dict[str, Decimal]:
    return {
        a["data-figure"]: Decimal(a["data-value"])
        for _, a in data_elements(html)
        if "data-figure" in a
    }
