"""Build settings shared by the CLI, the Dagster assets and the notebooks.

The CLI passes them explicitly; under `dagster dev` they come from the
environment (DEFECTFLOW_EXPORTS, DEFECTFLOW_POLICY, DEFECTFLOW_AS_OF,
DEFECTFLOW_REPORTS, DEFECTFLOW_GIT_REPO) with the documented defaults. The
warehouse file is the `warehouse` resource's (pipelines/defs/warehouse.py).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, time
from pathlib import Path

import dagster as dg

from pipelines.warehouse import PROJECT_ROOT

DEFAULT_EXPORTS = PROJECT_ROOT / "data" / "exports"
DEFAULT_REPORTS = PROJECT_ROOT / "reports"


class AsOfError(ValueError):
    pass


def parse_as_of(text: str | None, now: datetime | None = None) -> datetime:
    """The build's as-of instant (docs/metrics.md settled detail 13).

    A date alone means the end of that day in UTC, inclusive; a timestamp
    without an offset is UTC; empty means now.
    """
    if not text:
        return (now or datetime.now(UTC)).astimezone(UTC)
    value = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        day = datetime.fromisoformat(value).date()
        return datetime.combine(day, time.max, tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise AsOfError(
            f"--as-of {text!r} is neither a date (2026-06-30) nor an ISO-8601 timestamp "
            "(2026-06-30T12:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def report_folder_name(as_of: datetime) -> str:
    """Reports go to one folder per as-of date (docs/contract.md section 3)."""
    return as_of.astimezone(UTC).date().isoformat()


class BuildSettings(dg.ConfigurableResource):
    """Where the build reads its inputs and writes its reports; empty fields fall back to the
    environment, then defaults."""

    exports_dir: str = ""
    policy_path: str = ""
    as_of: str = ""
    reports_dir: str = ""
    git_repo: str = ""
    # Publish a build that loaded no row from exports that held some (pipelines/defs/ingest/assets.py).
    allow_empty: bool = False
    #: "duckdb" (default) or "spark" (pipelines/spark_engine.py); empty: DEFECTFLOW_ENGINE, else duckdb.
    engine: str = ""

    def exports(self) -> Path:
        return Path(self.exports_dir or os.environ.get("DEFECTFLOW_EXPORTS") or DEFAULT_EXPORTS).resolve()

    def policy(self) -> Path | None:
        value = self.policy_path or os.environ.get("DEFECTFLOW_POLICY")
        return Path(value).resolve() if value else None

    def as_of_instant(self) -> datetime:
        return parse_as_of(self.as_of or os.environ.get("DEFECTFLOW_AS_OF"))

    def reports(self) -> Path:
        return Path(self.reports_dir or os.environ.get("DEFECTFLOW_REPORTS") or DEFAULT_REPORTS).resolve()

    def engine_name(self) -> str:
        value = (self.engine or os.environ.get("DEFECTFLOW_ENGINE") or "duckdb").strip().lower()
        if value not in ("duckdb", "spark"):
            raise ValueError(f"engine {value!r} is neither duckdb nor spark (build config or DEFECTFLOW_ENGINE)")
        return value

    def git(self) -> Path | None:
        value = self.git_repo or os.environ.get("DEFECTFLOW_GIT_REPO")
        return Path(value).resolve() if value else None


