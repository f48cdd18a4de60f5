"""Reports as a reader sees them: headless Chromium driven by Playwright, offline.

The report tests open a page the way a person would and check what static
assertions on the HTML cannot: that every plotly chart actually drew, that the
page logged no error, that it asked for nothing outside its own file, and how
many A4 pages it prints to.

Chromium is Debian's (``/usr/bin/chromium``), launched through
``executable_path``: Playwright's own browser download is never used (the
machines reach no download host; DECISIONS.md). Without a Chromium the tests
that need one are skipped on a developer's machine and fail in CI, where a
silent skip would prove nothing (``.ci/run`` installs it).

Usage, through the ``chromium`` fixture (tests/conftest.py, one browser per
test module)::

    page = chromium.open_report(html_path)
    assert page.drawn == page.plots and not page.problems
    assert page.text(".card .value") == "12.5%"
    assert chromium.pdf_pages(html_path, before_selector=".appendix") == 1
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, Route, WebSocketRoute, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from pypdf import PdfReader

CHROMIUM_ENV = "DEFECTFLOW_CHROMIUM"
_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")

# Root in a container: no user namespace for the sandbox, a small /dev/shm.
# Background networking, component updates and sync would dial out at start-up
# and be refused by the closed network, many times over. No host name resolves,
# so nothing a page asks for past the routes below even reaches a DNS server.
_ARGS = (
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)

# A desktop window: plotly lays a chart out at the width it finds when it draws.
VIEWPORT_WIDTH = 1280
_VIEWPORT_HEIGHT = 800
DRAW_TIMEOUT_MS = 15_000  # never waited in full unless a chart fails to draw
# Chromium's own default when printing to PDF (DevTools' printToPDF); Playwright's is none.
PRINT_MARGIN = "1cm"

# A chart counts as drawn once plotly has put its SVG into the div.
_UNDRAWN_JS = """() => Array.from(document.querySelectorAll('.plotly-graph-div'))
    .filter(div => !div.querySelector('svg.main-svg')).map(div => div.id)"""

# Removes the first element matching the selector and everything after it in
# document order (its following siblings and those of every ancestor), so a
# marker nested deep inside one notebook output still cuts off the outputs after it.
_CUT_FROM_JS = """selector => {
    const first = document.querySelector(selector);
    if (!first) return false;
    for (let node = first; node && node !== document.body; node = node.parentNode) {
        while (node.nextSibling) node.nextSibling.remove();
    }
    first.remove();
    return true;
}"""


def find_chromium() -> str | None:
    """The Chromium to drive: ``$DEFECTFLOW_CHROMIUM``, else the first of the usual names on PATH."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        return configured
    return next((found for name in _CANDIDATES if (found := shutil.which(name))), None)


def in_ci() -> bool:
    """Whether this run is CI's (``CI`` set to anything but empty, 0, false or no)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_chromium() -> str:
    """The Chromium executable; without one, skip the test locally and fail it in CI."""
    found = find_chromium()
    if found and Path(found).is_file():
        return found
    reason = (
        f"no Chromium: set {CHROMIUM_ENV} or install one on PATH (Debian: apt-get install chromium); "
        f"looked for {', '.join(_CANDIDATES)}" + (f" and {CHROMIUM_ENV}={found}" if found else "")
    )
    if in_ci():
        pytest.fail(f"{reason}. CI must run the browser tests (.ci/run installs Chromium).", pytrace=False)
    pytest.skip(reason)


@dataclass
class PageReport:
    """What a reader's browser made of one report page.

    The page stays open (for ``text``/``texts`` and anything else through
    ``page``) until the browser closes at the end of the test module.
    """

    path: Path
    plots: int
    drawn: int
    undrawn: list[str]
    console_errors: list[str]
    page_errors: list[str]
    blocked_requests: list[str]
    dialogs: list[str]
    page: Page = field(repr=False)

    @property
    def problems(self) -> list[str]:
        """Every error and blocked request, one line each; empty for a clean page."""
        return (
            [f"console: {m}" for m in self.console_errors]
            + [f"page error: {m}" for m in self.page_errors]
            + [f"blocked: {url}" for url in self.blocked_requests]
            + [f"dialog: {m}" for m in self.dialogs]
            + [f"chart not drawn: #{div_id}" for div_id in self.undrawn]
        )

    def texts(self, selector: str) -> list[str]:
        """The rendered text (``innerText``) of every element matching ``selector``, in page order."""
        return [text.strip() for text in self.page.locator(selector).all_inner_texts()]

    def text(self, selector: str) -> str:
        """The rendered text of the one element matching ``selector`` (an error if not exactly one)."""
        found = self.texts(selector)
        if len(found) != 1:
            raise AssertionError(f"expected one element for {selector!r}, found {len(found)}: {found}")
        return found[0]


class _Recorder:
    """Console errors, uncaught exceptions, refused requests and dialogs of one page."""

    def __init__(self) -> None:
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.blocked: list[str] = []
        self.dialogs: list[str] = []

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def on_page_error(self, error: PlaywrightError) -> None:
        self.page_errors.append(error.message)

    def on_dialog(self, dialog: Dialog) -> None:
        # An alert() means a script from the data ran: the injection the reports must prevent.
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def route(self, route: Route) -> None:
        # A report is one self-contained file: anything else it asks for would
        # fail for a reader offline, so it is refused and reported.
        url = route.request.url
        if url.startswith("file:"):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def route_web_socket(self, socket: WebSocketRoute) -> None:
        # Never connected to a server: closed at once, and reported.
        self.blocked.append(socket.url)
        socket.close()


class ReportBrowser:
    """One headless Chromium; each page opens in a fresh browser context that reaches nothing but files."""

    def __init__(self, browser: Browser) -> None:
        self._browser = browser

    def _open(
        self, path: Path, *, media: str = "screen", width: int = VIEWPORT_WIDTH, draw_timeout_ms: int = DRAW_TIMEOUT_MS
    ) -> tuple[Page, _Recorder]:
        path = Path(path).resolve()
        if not path.is_file():
            raise FileNotFoundError(path)
        context = self._browser.new_context(
            viewport={"width": width, "height": _VIEWPORT_HEIGHT}, service_workers="block"
        )
        recorder = _Recorder()
        context.route("**/*", recorder.route)
        context.route_web_socket("**/*", recorder.route_web_socket)
        page = context.new_page()
        page.on("console", recorder.on_console)
        page.on("pageerror", recorder.on_page_error)
        page.on("dialog", recorder.on_dialog)
        page.emulate_media(media=media)
        page.goto(path.as_uri(), wait_until="load")
        # A chart that never draws is not an error here: open_report lists it,
        # and a printed page is counted as the reader would get it.
        with suppress(PlaywrightTimeoutError):
            page.wait_for_function(f"() => ({_UNDRAWN_JS})().length === 0", timeout=draw_timeout_ms)
        # Text laid out in a fallback font would break pages differently.
        page.evaluate("document.fonts.ready.then(() => true)")
        return page, recorder

    def open_report(self, path: Path, *, draw_timeout_ms: int = DRAW_TIMEOUT_MS) -> PageReport:
        """Load ``path`` offline, wait until every plotly chart drew (or the timeout passed), and report."""
        page, recorder = self._open(path, draw_timeout_ms=draw_timeout_ms)
        undrawn: list[str] = page.evaluate(_UNDRAWN_JS)
        plots: int = page.locator(".plotly-graph-div").count()
        return PageReport(
            path=Path(path),
            plots=plots,
            drawn=plots - len(undrawn),
            undrawn=undrawn,
            console_errors=recorder.console_errors,
            page_errors=recorder.page_errors,
            blocked_requests=recorder.blocked,
            dialogs=recorder.dialogs,
            page=page,
        )

    def pdf(self, path: Path, *, before_selector: str | None = None, width: int = VIEWPORT_WIDTH) -> bytes:
        """The page printed to A4 with print styles and Chromium's default margins.

        ``before_selector``: print only what comes before the first element matching this
        selector (e.g. ``.appendix``); an error if nothing matches, so a renamed
        marker cannot pass for a short page.
        """
        page, _ = self._open(path, media="print", width=width)
        try:
            if before_selector is not None and not page.evaluate(_CUT_FROM_JS, before_selector):
                raise AssertionError(f"no element matches {before_selector!r} in {path}")
            margin = dict.fromkeys(("top", "right", "bottom", "left"), PRINT_MARGIN)
            return page.pdf(format="A4", margin=margin, print_background=True)
        finally:
            page.context.close()

    def pdf_pages(self, path: Path, *, before_selector: str | None = None, width: int = VIEWPORT_WIDTH) -> int:
        """How many A4 pages ``path`` prints to (all of it, or only what precedes ``before_selector``)."""
        return len(PdfReader(BytesIO(self.pdf(path, before_selector=before_selector, width=width))).pages)

    def screenshot(self, path: Path, out_png: Path, *, width: int = VIEWPORT_WIDTH) -> Path:
        """A full-page PNG of ``path`` once its charts drew, in a window ``width`` pixels wide."""
        page, _ = self._open(path, width=width)
        try:
            page.screenshot(path=str(out_png), full_page=True)
        finally:
            page.context.close()
        return Path(out_png)


@contextmanager
def launch() -> Iterator[ReportBrowser]:
    """Start headless Chromium (``require_chromium``: skipped locally, failed in CI without one)."""
    executable = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=list(_ARGS))
        try:
            yield ReportBrowser(browser)
        finally:
            browser.close()
