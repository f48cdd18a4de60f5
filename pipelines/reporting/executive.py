"""The weekly executive briefing: its parameters (the layout is notebooks/executive_briefing.ipynb)."""

from __future__ import annotations

from typing import Any

import duckdb

from pipelines.reporting.catalog import Parameter, Report, ReportParameterError, check_as_of, suggest
from pipelines.reporting.queries import EXECUTIVE_TABLES

#: The briefing compares the last ``period_days`` with the ``period_days`` before them.
DEFAULT_PERIOD_DAYS = 28


def known_services(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Services with a release or an escape-rate row (the roll-up 'ALL' excluded)."""
    rows = con.execute(
        "select distinct service from marts.release_escape_rate where service <> 'ALL' order by service"
    ).fetchall()
    return [r[0] for r in rows]


def _validate(con: duckdb.DuckDBPyConnection, given: dict[str, str]) -> dict[str, Any]:
    services = [s.strip() for s in (given.get("services") or "").split(",") if s.strip()]
    valid = known_services(con)
    for service in services:
        if service not in valid:
            raise suggest(service, valid, "service")
    text = given.get("period_days") or str(DEFAULT_PERIOD_DAYS)
    if not text.isdigit() or not 1 <= int(text) <= 366:
        raise ReportParameterError(f"period_days must be a whole number of days from 1 to 366, got {text!r}")
    return {"as_of": check_as_of(given.get("as_of")), "services": services, "period_days": int(text)}


REPORT = Report(
    name="executive",
    notebook="executive_briefing",
    title="Weekly quality briefing",
    parameters=(
        Parameter("as_of", "the as-of the reader expects (the report warns when the warehouse's differs)"),
        Parameter("services", "comma-separated services to include (default: all)"),
        Parameter("period_days", f"length of the compared periods in days (default {DEFAULT_PERIOD_DAYS})"),
    ),
    validate=_validate,
    tables=EXECUTIVE_TABLES,
)
