"""What `defectflow build` prints: progress while it runs, then summaries that stay short at any scale.

On a terminal each long task (reading exports, dbt models, dbt tests, reports)
gets a progress bar; in a CI log, where bars would be noise, one line when the
task ends. Log lines go through the same console, so they print above the bars
instead of through them. Every line naming something from the data is
escaped (`printable`), so a name cannot forge a line or drive the terminal.
The summaries group by format and entity and list only files that need
attention; the complete per-file table is `raw.load_report` (and `--verbose`), the build log keeps every detail.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipelines.policy import HEADLINE_ENVIRONMENTS
from pipelines.printable import printable
from pipelines.warehouse import connect

#: Files listed by name in the load summary (the rest are counted); services in the escape-rate table.
LISTED_FILES = 20
LISTED_UNMAPPED = 10
LISTED_SERVICES = 15


class ProgressDisplay:
    """A `pipelines.progress` listener and the console log lines go through."""

    def __init__(self, console: Console | None = None) -> None:
        # stderr=True: the stream is looked up at each write, so a replaced sys.stderr is honoured
        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True)
        self._bars: Progress | None = None
        self._tasks: dict[str, int] = {}
        self._started: dict[str, float] = {}

    def __enter__(self) -> ProgressDisplay:
        if self.console.is_terminal:
            self._bars = Progress(
                TextColumn("  {task.description:<16}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=self.console, redirect_stdout=False, redirect_stderr=False,
            )
            self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bars is not None:
            self._bars.stop()

    def __call__(self, task: str, done: int, total: int) -> None:
        started = self._started.setdefault(task, time.perf_counter())
        if self._bars is not None:
            if task not in self._tasks:
                self._tasks[task] = self._bars.add_task(task, total=total)
            self._bars.update(self._tasks[task], completed=done, total=total)
        elif total and done >= total and task not in self._tasks:  # a log: one line when the task ends
            self._tasks[task] = -1
            self.print(f"  {task}: {total:,} in {time.perf_counter() - started:.1f} s")

    def print(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)


class DisplayHandler(logging.Handler):
    """Log records printed through the display's console (above any progress bar)."""

    def __init__(self, display: ProgressDisplay) -> None:
        super().__init__()
        self.display = display

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.display.print(self.format(record))
        except Exception:
            self.handleError(record)


def _table(header: tuple[str, ...], widths: tuple[int, ...], rows: list[tuple[object, ...]],
           text_columns: int) -> list[str]:
    """The first `text_columns` columns left-aligned, the numbers after them right-aligned."""

    def line(cells: tuple[object, ...], number: str) -> str:
        return "  " + " ".join(
            f"{cell!s:<{width}}" if i < text_columns else f"{cell:>{width}{number}}"
            for i, (cell, width) in enumerate(zip(cells, widths))
        ).rstrip()

    return [line(header, ""), *(line(row, ",") for row in rows)]


def load_summary(warehouse: Path, verbose: bool = False) -> tuple[list[str], dict[str, int]]:
    """The load summary's lines, and the counts the exit code depends on (rejected files,
    quarantined rows, skipped files)."""
    with connect(warehouse, read_only=True) as con:
        groups = con.execute(
            """
            select format, coalesce(entity, '-'), count(distinct source_file), sum(rows_read)::bigint,
                sum(rows_loaded)::bigint, sum(rows_quarantined)::bigint, sum(naive_timestamps)::bigint,
                count(*) filter (where status = 'rejected'), count(*) filter (where status = 'skipped')
            from raw.load_report group by all order by 1, 2
            """
        ).fetchall()
        files = con.execute(
            """
            select source_file, coalesce(entity, '-'), format, status, rows_read, rows_loaded, rows_quarantined,
                naive_timestamps, coalesce(message, '')
            from raw.load_report
            where ? or status = 'rejected' or rows_quarantined > 0 or coalesce(message, '') <> ''
            order by status <> 'rejected', rows_quarantined desc, source_file, 2
            """,
            [verbose],
        ).fetchall()
        reasons = con.execute(
            "select source_file, reason, count(*) from raw.quarantine group by 1, 2 order by 1, 3 desc, 2"
        ).fetchall()
        unmapped = con.execute(
            "select entity, field, raw_value, rows, mapped_to from audit.unmapped_values "
            "order by rows desc, 1, 2, 3"
        ).fetchall()
        (total_files,) = con.execute("select count(distinct source_file) from raw.load_report").fetchone()
    top: dict[str, list[str]] = {}
    for source, reason, count in reasons:
        if len(top.setdefault(source, [])) < 3:
            top[source].append(f"{count:,} x {reason}")

    rejected = sum(g[7] for g in groups)
    skipped = sum(g[8] for g in groups)
    quarantined = sum(g[5] for g in groups)
    lines = [
        "",
        f"Load summary: {total_files:,} files, {sum(g[4] for g in groups):,} rows loaded, "
        f"{quarantined:,} quarantined, {rejected:,} file(s) rejected, {skipped:,} skipped",
        *_table(("format", "entity", "files", "read", "loaded", "quar.", "naive ts"), (24, 22, 7, 11, 11, 8, 8),
                [(*g[:7],) for g in groups], text_columns=2),
    ]
    if files:
        shown = files if verbose else files[:LISTED_FILES]
        heading = "Every file" if verbose else "Files with rejected or quarantined rows or a note"
        lines.append(f"  {heading} ({len(files):,} of {total_files:,}):")
        for source, entity, fmt, status, read, loaded, quarantined_rows, naive, message in shown:
            lines.append(f"    {Path(source).name} ({fmt}, {entity}): {status}, {read:,} read, {loaded:,} loaded, "
                         f"{quarantined_rows:,} quarantined" + (f", {naive:,} naive timestamps" if naive else ""))
            lines.extend(f"        quarantined: {reason}" for reason in top.get(source, []))
            if message:
                lines.append(f"        {'rejected: ' if status == 'rejected' else ''}{message}")
        if len(files) > len(shown):
            lines.append(f"    ... and {len(files) - len(shown):,} more: raw.load_report has them all "
                         "(or run with --verbose)")
    if unmapped:
        lines.append("  Values the policy does not map (kept, mapped to the default):")
        lines.extend(f"    {entity}.{field} = {value!r}: {rows:,} rows -> {mapped_to}"
                     for entity, field, value, rows, mapped_to in unmapped[:LISTED_UNMAPPED])
        if len(unmapped) > LISTED_UNMAPPED:
            lines.append(f"    ... and {len(unmapped) - LISTED_UNMAPPED:,} more: audit.unmapped_values")
    return [printable(line) for line in lines], {"rejected": rejected, "quarantined": quarantined, "skipped": skipped}


def headline(warehouse: Path) -> list[str]:
    """The numbers a quality lead looks at first (marts.headline_metrics): escape rate for the
    services with the most records, and overall; detection and resolution times."""
    with connect(warehouse, read_only=True) as con:
        rates = con.execute(
            """
            with per_service as (
                select service,
                    max(n) filter (where metric = 'escape_rate') as records,
                    max(value) filter (where metric = 'escaped_defects') as escaped,
                    max(value) filter (where metric = 'escaped_incidents') as incidents,
                    max(value) filter (where metric = 'escape_rate') as rate
                from marts.headline_metrics
                where metric in ('escape_rate', 'escaped_defects', 'escaped_incidents')
                group by service
            )
            select *, count(*) over () - 1 as services from per_service
            order by service = 'ALL' desc, records desc, service
            """
        ).fetchall()
        times = con.execute(
            """
            select record_type, environment,
                max(n) filter (where metric = 'mttd_hours'), max(value) filter (where metric = 'mttd_hours'),
                max(n) filter (where metric = 'mttr_hours'), max(value) filter (where metric = 'mttr_hours'),
            from marts.headline_metrics
            where metric in ('mttd_hours', 'mttr_hours') and list_contains(?, environment)
            group by record_type, environment
            order by record_type, environment
            """,
            [list(HEADLINE_ENVIRONMENTS)],
        ).fetchall()

    def fmt(value: float | None, pattern: str) -> str:
        return "n/a" if value is None else pattern.format(value)

    overall = [r for r in rates if r[0] == "ALL"]
    shown = [r for r in rates if r[0] != "ALL"][:LISTED_SERVICES]
    services = rates[0][5] if rates else 0
    title = "Escape rate by service" + (f" (the {len(shown)} with the most records of {services:,})"
                                        if services > len(shown) else "")
    lines = ["", title, f"  {'service':<24} {'pre-release':>11} {'escaped':>8} {'incidents':>9} {'rate':>7}"]
    for service, records, escaped, incidents, rate, _ in [*shown, *overall]:
        pre = records - escaped - incidents
        lines.append(f"  {service:<24} {pre:>11.0f} {escaped:>8.0f} {incidents:>9.0f} {fmt(rate, '{:.1%}'):>7}")
    if services > len(shown):
        lines.append(f"  ... and {services - len(shown):,} more services: marts.headline_metrics")
    lines += ["", "Time to detect / resolve (hours)",
              f"  {'record':<9} {'environment':<12} {'n':>5} {'MTTD':>8} {'n':>5} {'MTTR':>8}"]
    for record, env, n_detect, mttd, n_resolve, mttr in times:
        lines.append(f"  {record:<9} {env:<12} {n_detect:>5} {fmt(mttd, '{:.1f}'):>8} {n_resolve:>5} "
                     f"{fmt(mttr, '{:.1f}'):>8}")
    return [printable(line) for line in lines]
