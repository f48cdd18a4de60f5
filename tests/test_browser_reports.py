"""The real-browser harness (tests/browser.py) on pages whose outcome is known.

Each page is built here: two plotly charts that draw, a script that throws, an
image on a remote host, and blocks of a known height that fill a known number
of A4 pages. Measured on this machine: starting Chromium ~0.5 s, opening a
page with plotly.js inline until its charts drew ~1.2 s, printing a short one ~0.3 s.
"""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import pytest
from plotly.offline import get_plotlyjs

from tests.browser import ReportBrowser, find_chromium, require_chromium

# A4 is 297 mm tall; with 1 cm margins, 277 mm of it is printable.
# A block of 200 mm fills most of a page and two never share one: n blocks print to n pages.
_BLOCK = '<div class="block" style="height: 200mm; break-inside: avoid;">{n}</div>'


def _page(path: Path, body: str) -> Path:
    path.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{body}</body></html>')
    return path


def _chart(div_id: str, values: list[int]) -> str:
    fig = go.Figure(go.Bar(x=["a", "b", "c"], y=values))
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id)


@pytest.fixture(scope="module")
def plotly_inline() -> str:
    return f"<script>{get_plotlyjs()}</script>"


def test_two_charts_draw_without_errors(chromium: ReportBrowser, plotly_inline: str, tmp_path: Path) -> None:
    html = _page(
        tmp_path / "charts.html",
        plotly_inline + '<h1 id="rate">12.5%</h1>' + _chart("chart-1", [1, 2, 3]) + _chart("chart-2", [3, 2, 1]),
    )
    page = chromium.open_report(html)

    assert (page.plots, page.drawn, page.undrawn) == (2, 2, [])
    assert page.problems == []
    assert page.text("#rate") == "12.5%"
    # three bars in each chart: plotly drew the data, not an empty frame
    assert page.page.locator("#chart-1 .point").count() == 3
    assert page.page.locator("#chart-2 .point").count() == 3


def test_chart_without_plotly_is_reported_undrawn(chromium: ReportBrowser, tmp_path: Path) -> None:
    # plotly.js left out: the chart's script throws (Plotly is not defined) and the div stays empty
    html = _page(tmp_path / "no-plotly.html", _chart("chart-1", [1, 2, 3]))
    page = chromium.open_report(html, draw_timeout_ms=1_000)

    assert (page.plots, page.drawn, page.undrawn) == (1, 0, ["chart-1"])
    assert page.page_errors == ["Plotly is not defined"]
    assert "chart not drawn: #chart-1" in page.problems


def test_script_errors_are_reported(chromium: ReportBrowser, tmp_path: Path) -> None:
    html = _page(
        tmp_path / "broken.html",
        "<p>text</p><script>console.error('bad figure');</script><script>undefinedFunction();</script>",
    )
    page = chromium.open_report(html)

    assert page.console_errors == ["bad figure"]
    assert page.page_errors == ["undefinedFunction is not defined"]
    assert page.blocked_requests == [] and page.plots == 0


def test_a_script_that_ran_is_reported_by_its_alert(chromium: ReportBrowser, tmp_path: Path) -> None:
    html = _page(tmp_path / "injected.html", '<p>title</p><img src="" onerror="alert(\'xss\')">')
    page = chromium.open_report(html)
    assert page.dialogs == ["xss"]
    assert "dialog: xss" in page.problems


def test_remote_requests_are_blocked_and_reported(chromium: ReportBrowser, tmp_path: Path) -> None:
    html = _page(
        tmp_path / "remote.html",
        '<img src="http://example.com/x.png"><link rel="stylesheet" href="https://cdn.example.com/a.css">'
        '<img src="missing.png"><script>new WebSocket("wss://example.com/live");</script>',
    )
    page = chromium.open_report(html)

    assert sorted(page.blocked_requests) == [
        "http://example.com/x.png",
        "https://cdn.example.com/a.css",
        "wss://example.com/live",
    ]
    assert "blocked: http://example.com/x.png" in page.problems
    # a missing file beside the page is no network request: only the console tells
    # (the refused image and stylesheet are logged too; the message's wording is Chromium's own)
    assert [
        sum(code in m for m in page.console_errors) for code in ("ERR_BLOCKED_BY_CLIENT", "ERR_FILE_NOT_FOUND")
    ] == [2, 1]


def test_pages_printed_and_pages_before_the_appendix(chromium: ReportBrowser, tmp_path: Path) -> None:
    three_pages = _page(tmp_path / "long.html", "".join(_BLOCK.format(n=n) for n in range(3)))
    # the appendix marker sits inside a wrapper, as a notebook output would put it
    with_appendix = _page(
        tmp_path / "appendix.html",
        _BLOCK.format(n=0)
        + '<div class="output"><p>last line of page one</p><h2 class="appendix">Appendix</h2>'
        + _BLOCK.format(n=1)
        + "</div>"
        + _BLOCK.format(n=2),
    )

    assert chromium.pdf_pages(three_pages) == 3
    assert chromium.pdf_pages(with_appendix) == 3
    assert chromium.pdf_pages(with_appendix, before_selector=".appendix") == 1
    with pytest.raises(AssertionError, match=r"no element matches '\.appendix'"):
        chromium.pdf_pages(three_pages, before_selector=".appendix")


def test_screenshot_is_a_full_page_png(chromium: ReportBrowser, tmp_path: Path) -> None:
    html = _page(tmp_path / "tall.html", '<div style="height: 2000px">tall</div>')
    png = chromium.screenshot(html, tmp_path / "tall.png", width=640)

    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    # body margin 8 px above and below the 2000 px block
    assert (width, height) == (640, 2016)


@pytest.mark.slow
def test_tiny_build_reports_draw_offline(chromium: ReportBrowser, tiny_build) -> None:
    """Every report a real build writes opens offline with its charts drawn and nothing logged."""
    assert tiny_build.reports
    for path in tiny_build.reports:
        page = chromium.open_report(path)
        assert page.drawn == page.plots and (page.plots > 0 or path.name == "index.html"), path.name
        assert page.problems == [], path.name
    briefing = chromium.open_report(next(p for p in tiny_build.reports if p.name == "executive_briefing.html"))
    # the tiny fixture's overall escape rate, computed by hand in tests/test_integration_tiny.py,
    # in the appendix's all-services row
    assert "75.0%" in briefing.texts(".report-table td")


def test_missing_chromium_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DEFECTFLOW_CHROMIUM", str(tmp_path / "no-such-chromium"))
    assert find_chromium() == str(tmp_path / "no-such-chromium")

    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Chromium"):
        require_chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the browser tests"):
        require_chromium()
