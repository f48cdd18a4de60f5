"""Turning a report notebook into a page: papermill executes it, nbconvert exports it.

``render_notebook`` writes one self-contained HTML page per report (and the
executed notebook beside it, where a failure's traceback is).

Safety rules this module keeps (docs/architecture.md):

- the page loads nothing from the network: nbconvert's ``basic`` template is
  used (no require.js / MathJax CDN), wrapped in our own page with inline CSS,
  and a page with an external script or stylesheet is refused
  (``ReportRenderError``), as is a chart displayed with plotly's default
  renderer, which would vanish from the page;
- code cells and stderr are left out: readers see outputs only.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pipelines.reporting.catalog import Report, check_declared, resolve
from pipelines.reporting.fragments import esc
from pipelines.reporting.queries import build_info, open_warehouse

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"


class ReportRenderError(RuntimeError):
    """A report notebook failed to execute or produced an unsafe page."""


_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_EXTERNAL_SCRIPT = re.compile(r"<script\b[^>]*\bsrc\s*=", re.IGNORECASE)
_EXTERNAL_LINK = re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//", re.IGNORECASE)

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{css}
</style>
</head>
<body>
<main class="report">
{body}
</main>
</body>
</html>
"""

_CSS = """
body { margin: 0; background: #f6f7f9; color: #1d2330;
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
.report { max-width: 1120px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 26px; margin: 8px 0 2px; }
h2 { font-size: 19px; margin: 28px 0 6px; padding-top: 10px; border-top: 1px solid #e3e6eb; }
p { margin: 6px 0; }
.asof { color: #555d6b; }
.warning { background: #fff4d6; border-left: 4px solid #e0a100; padding: 6px 10px; }
.note { color: #555d6b; font-size: 13px; }
.empty { color: #555d6b; font-style: italic; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 12px; margin: 16px 0; }
.card { border: 1px solid #e3e6eb; border-radius: 8px; padding: 10px 12px; }
.card .label { font-size: 12px; text-transform: uppercase; letter-spacing: .03em; color: #555d6b; }
.card .value { font-size: 26px; font-weight: 600; margin: 2px 0; }
.card .value small { font-size: 12px; font-weight: 400; color: #555d6b; }
.card .detail { font-size: 12px; color: #555d6b; overflow-wrap: anywhere; }
.report-table { border-collapse: collapse; margin: 8px 0 14px; font-size: 13px; }
.report-table caption { text-align: left; font-weight: 600; padding: 4px 0; }
.report-table th, .report-table td { padding: 4px 10px; border-bottom: 1px solid #e3e6eb; text-align: left; }
.report-table th { background: #f0f2f5; font-weight: 600; }
.report-table td.num { text-align: right; font-variant-numeric: tabular-nums; }
.report-table td:first-child { white-space: nowrap; }
.report-table a { word-break: break-all; }
.generated { color: #8a919e; font-size: 12px; margin: 0 0 8px; }
.tiles { display: grid; grid-template-columns: repeat(5, 1fr); gap: 10px; margin: 12px 0; }
.tile { border: 1px solid #e3e6eb; border-top: 4px solid #b8bec8; border-radius: 6px; padding: 8px 10px; }
.tile.better { border-top-color: #2e8540; } .tile.worse { border-top-color: #c62828; }
.tile .label { font-size: 12px; text-transform: uppercase; letter-spacing: .03em; color: #555d6b; }
.tile .value { font-size: 26px; font-weight: 600; margin: 2px 0; }
.tile .detail, .tile .measures { font-size: 11.5px; color: #555d6b; }
.tile .trend { font-size: 12px; font-weight: 600; margin: 4px 0; }
.tile.better .trend { color: #2e8540; } .tile.worse .trend { color: #c62828; }
.tile .measures { border-top: 1px dashed #e3e6eb; margin-top: 4px; padding-top: 4px; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 6px 18px; }
.panel { min-width: 0; }
.panel.wide { grid-column: 1 / -1; }
.panel h3 { font-size: 15px; margin: 8px 0 0; }
.panel .measures { font-size: 12px; color: #555d6b; margin: 0 0 2px; }
.panel .report-table { font-size: 12px; margin: 2px 0; width: 100%; }
.panel .report-table td:last-child { overflow-wrap: anywhere; }
.panel .report-table th, .panel .report-table td { padding: 2px 6px; }
h2.appendix { break-before: page; }
@page { size: A4; margin: 10mm; }
@media print {
  body { background: #fff; }
  /* The screen layout scaled to the printable width, so the briefing's page prints as one. */
  .report { padding: 0; zoom: 0.62; }
  .panel, .tile, .report-table tr { break-inside: avoid; }
}
"""


@contextlib.contextmanager
def kernel_session() -> Iterator[Any]:
    """One report kernel for several renders (pass it as ``kernel``): pandas, plotly and the
    reporting package are imported once, not once per report. Each render starts from an
    empty namespace and a new page (``NEW_PAGE``), so a report cannot lean on what the
    previous one defined or displayed."""
    from jupyter_core.utils import run_sync

    manager = _local_kernel_manager()(kernel_name="python3")
    run_sync(manager.start_kernel)(cwd=str(REPO_ROOT))
    try:
        yield manager
    finally:
        run_sync(manager.shutdown_kernel)(now=False)


# An empty namespace, and the page state the reporting modules keep (chart numbering, plotly.js
# once per page), without leaving a name behind.
NEW_PAGE = "%reset -f\n__import__('pipelines.reporting.fragments', fromlist=['new_page']).new_page()"


def _reset_namespace(manager: Any) -> None:
    from jupyter_core.utils import run_sync

    client = manager.client()
    client.start_channels()
    try:
        # until the kernel answers on every channel: output published before the client has
        # subscribed would be lost, and the reset would wait for it in vain
        run_sync(client.wait_for_ready)(timeout=120)
        reply = run_sync(client.execute_interactive)(NEW_PAGE, timeout=120, store_history=False)
        if reply["content"]["status"] != "ok":
            raise ReportRenderError(f"the report kernel could not be reset: {reply['content']}")
    finally:
        client.stop_channels()


def render_report(report: Report, given: Mapping[str, str], warehouse: Path, reports_dir: Path,
                  kernel: Any = None) -> Path:
    """Check ``given`` against the warehouse (``ReportParameterError`` before any kernel starts),
    then render the report into the folder of the warehouse's as-of date."""
    from pipelines.settings import report_folder_name

    con = open_warehouse(warehouse, required=report.tables)
    try:
        params = resolve(report, con, given)
        as_of = build_info(con).as_of
    finally:
        con.close()
    params["warehouse"] = str(warehouse)
    return render_notebook(
        report.notebook,
        params,
        reports_dir,
        report_folder_name(as_of),
        stem=report.file_stem(params),
        title=report.title,
        kernel=kernel,
    )


def render_notebook(
    name: str,
    parameters: dict[str, Any],
    reports_dir: Path,
    as_of_date: str,
    *,
    stem: str | None = None,
    title: str | None = None,
    kernel: Any = None,
) -> Path:
    """Execute ``notebooks/<name>.ipynb`` and write ``<reports_dir>/<as_of_date>/<stem>.html``.

    ``stem`` (default: the notebook's name) tells apart several renders of one
    notebook, e.g. a post-release report per release; it is made file-name safe
    here because it may be built from exported names. The executed notebook is
    kept beside the page as ``<stem>.ipynb`` (it is where a failure's
    traceback is). Returns the HTML path.

    Parameters are first checked against the notebook's parameters cell (names and declared
    types, ``ReportParameterError``), then passed to papermill verbatim, except ``Path`` values,
    which are made absolute: the kernel runs in the repository root, so a relative
    *string* path is read from there (``data/warehouse.duckdb``), not from
    the caller's directory.

    How the kernel finds ``pipelines``: papermill starts it with cwd = the
    repository root (resolved from this file, not the process cwd) and IPython
    puts the cwd on ``sys.path`` ahead of site-packages, so the notebook imports
    *this* checkout's package whether or not it is installed (the editable
    install finds the same one). This avoids mutating ``PYTHONPATH``; the
    price is that papermill ``chdir``s the calling process while it runs, so
    render from one thread at a time (Dagster's in-process executor does).
    """
    import papermill as pm

    if not _NAME.match(name):
        raise ValueError(f"Report name must be lower_snake_case, got {name!r}")
    try:
        date.fromisoformat(as_of_date)
    except ValueError as exc:
        raise ValueError(f"as_of_date must be YYYY-MM-DD, got {as_of_date!r}") from exc
    source = NOTEBOOKS_DIR / f"{name}.ipynb"
    if not source.is_file():
        available = ", ".join(sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb"))) or "none"
        raise FileNotFoundError(f"No report notebook {source} (available: {available})")
    params = {k: str(v.resolve()) if isinstance(v, Path) else v for k, v in parameters.items()}
    declared = {key: info["inferred_type_name"] for key, info in pm.inspect_notebook(str(source)).items()}
    check_declared(name, declared, params)

    out_dir = Path(reports_dir).resolve() / as_of_date
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = safe_stem(stem or name)
    executed = out_dir / f"{stem}.ipynb"
    page = out_dir / f"{stem}.html"

    if kernel is not None:
        _reset_namespace(kernel)
    # A kernel of its own unless the caller shares one (``kernel_session``).
    own = {"kernel_manager_class": _local_kernel_manager()} if kernel is None else {"km": kernel}
    try:
        nb = pm.execute_notebook(
            str(source),
            str(executed),
            parameters=params,
            kernel_name="python3",
            **own,
            cwd=str(REPO_ROOT),
            progress_bar=False,
            # written once at the end (and on a failure, with its traceback): saving after
            # every cell rewrote megabytes of chart output each time, a third of a report's time
            request_save_on_cell_execute=False,
            execution_timeout=600,
        )
    except pm.PapermillExecutionError as exc:
        raise ReportRenderError(
            f"Report {name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue} "
            f"(executed notebook with the traceback: {executed})"
        ) from exc
    finally:
        if kernel is not None:
            kernel.close_clients()

    title = f"{title or name.replace('_', ' ').capitalize()} — {as_of_date}"
    page.write_text(notebook_to_html(nb, title), encoding="utf-8")
    log.info("rendered %s", page)
    return page


_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def safe_stem(text: str) -> str:
    """A file name from text that may come from an export: no path separators, no leading dot,
    at most 120 characters; when anything had to change, a short hash of the original keeps
    two different names from landing in one file."""
    cleaned = _UNSAFE_FILE_CHARS.sub("_", text).strip("._")[:120] or "report"
    if cleaned == text:
        return cleaned
    return f"{cleaned}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:8]}"


@dataclass(frozen=True)
class IndexEntry:
    """A rendered report as the index lists it."""

    title: str
    subject: str
    path: Path


def write_index(entries: Sequence[IndexEntry], intro: str, notes: Sequence[str] = ()) -> Path:
    """``index.html`` beside the reports of one build (they share one as-of folder), linking each
    by its relative file name, with its size; ``intro`` says what a build renders, ``notes`` why a
    kind of report is absent."""
    if not entries:
        raise ValueError("an index needs at least one report")
    folder = entries[0].path.parent
    rows = "".join(
        f'<tr><td>{esc(e.title)}</td><td><a href="{esc(quote(e.path.name))}">{esc(e.subject)}</a></td>'
        f'<td class="num">{esc(_size(e.path))}</td></tr>'
        for e in entries
    )
    body = (
        f"<h1>Reports of the build as of {esc(folder.name)}</h1><p>{esc(intro)}</p>"
        '<table class="report-table"><thead><tr><th>Report</th><th>For</th><th>Size</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>" + "".join(f'<p class="note">{esc(n)}</p>' for n in notes)
    )
    index = folder / "index.html"
    index.write_text(_PAGE.format(title=esc(f"Reports — {folder.name}"), css=_CSS.strip(), body=body), "utf-8")
    return index


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def _local_kernel_manager() -> type:
    """A kernel manager whose kernel talks to papermill over Unix sockets (IPC), not TCP, and is
    shut down without a SIGINT: a render prints nothing of the kernel's on the console.

    The report kernel never leaves this machine; over TCP without CurveZMQ keys
    ipykernel warns, at every render, that the traffic is unencrypted.
    """
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class LocalKernelManager(AsyncKernelManager):
        @default("transport")
        def _transport_default(self) -> str:
            return "ipc"

        @default("ip")
        def _ip_default(self) -> str:
            # The sockets' path prefix. jupyter_client's default is relative, so kernel and client
            # would meet only if both ran in one directory (the kernel runs in the repository root).
            return os.path.join(tempfile.gettempdir(), f"defectflow-kernel-{uuid.uuid4().hex[:12]}-ipc")

        async def _async_interrupt_kernel(self) -> None:
            # jupyter_client interrupts the kernel before every shutdown; our kernel is idle
            # by then (the notebook ran to its end or failed), and an idle ipykernel answers
            # SIGINT with "KeyboardInterrupt caught in kernel" on the console. A kernel still
            # busy ignores the shutdown request and is killed a second later all the same.
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

        def client(self, **kwargs: Any) -> Any:
            # A render on a shared kernel (kernel_session) leaves its client's channels open
            # (nbclient closes them only with a kernel it started): close_clients() does.
            made = super().client(**kwargs)
            self.__dict__.setdefault("_clients", []).append(made)
            return made

        def close_clients(self) -> None:
            for made in self.__dict__.pop("_clients", []):
                if made.channels_running:
                    made.stop_channels()

    return LocalKernelManager


def notebook_to_html(nb: Any, title: str) -> str:
    """One self-contained page from an executed notebook: outputs only, no network.

    nbconvert's ``lab``/``classic`` templates load require.js and MathJax from a
    CDN; the ``basic`` template emits just the cells, which we wrap in our own
    minimal page. stderr streams (warnings) are logged, not shown to readers.
    """
    from nbconvert import HTMLExporter

    for position, cell in enumerate(nb.cells):
        # papermill gives its injected-parameters cell a random id, and nbconvert writes ids
        # into the page: numbered ids keep two renders of one warehouse byte-identical.
        cell["id"] = f"cell-{position}"
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                log.warning("report notebook stderr: %s", output.get("text", "").strip())
                continue
            data = output.get("data", {})
            if "application/vnd.plotly.v1+json" in data and "text/html" not in data:
                raise ReportRenderError(
                    "A chart was displayed with plotly's default renderer and would vanish from "
                    "the HTML; display figures with pipelines.reporting.show(fig)"
                )
            kept.append(output)
        cell["outputs"] = kept

    exporter = HTMLExporter(
        template_name="basic",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        exclude_anchor_links=True,
    )
    body, _ = exporter.from_notebook_node(nb)
    page = _PAGE.format(title=esc(title), css=_CSS.strip(), body=body)
    if _EXTERNAL_SCRIPT.search(page) or _EXTERNAL_LINK.search(page):
        raise ReportRenderError(f"Report {title!r} references an external script or stylesheet")
    return page
