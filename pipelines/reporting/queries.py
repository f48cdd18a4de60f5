"""What the report notebooks read: the warehouse, opened read-only, and queries over its marts.

Each query returns a small DataFrame or a typed value, ordered for display
(releases in time order, environments in pipeline order), so it can be unit
tested without a kernel.

Safety rules this module keeps (docs/architecture.md):

- the warehouse is opened read-only (a report never takes the build's single
  writer lock), with ``TimeZone = 'UTC'``;
- values reach SQL as bound parameters, never interpolated.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.policy import ENVIRONMENTS

# Canonical order (docs/metrics.md, Canonical vocabularies), then `unknown`, the
# environment of records that name none; staging and production sit side by side
# so the comparison executives care about reads left to right.
ENVIRONMENT_ORDER: tuple[str, ...] = (*ENVIRONMENTS, "unknown")
RECORD_TYPES: tuple[str, ...] = ("defect", "incident")


class WarehouseError(RuntimeError):
    """The warehouse file is missing, unreadable or lacks a table a report needs."""


def open_warehouse(
    path: str | Path, required: Collection[str] = ()
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-only (UTC session) and check the marts a report needs.

    Raises ``WarehouseError`` naming the path, and the missing ``marts`` tables,
    so a user knows to run ``defectflow build`` rather than read a traceback.
    """
    wh = Path(path)
    if not wh.is_file():
        raise WarehouseError(
            f"Warehouse not found: {wh.resolve()} (build it first with `defectflow build`)"
        )
    try:
        # Read-only: a report must never take the single writer lock from a build.
        con = duckdb.connect(str(wh), read_only=True)
    except duckdb.Error as exc:
        raise WarehouseError(f"Cannot open warehouse {wh.resolve()}: {exc}") from exc
    con.execute("SET TimeZone = 'UTC'")
    present = {
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
    }
    missing = [t for t in required if t not in present]
    if missing:
        con.close()
        names = ", ".join(f"marts.{t}" for t in missing)
        raise WarehouseError(
            f"Warehouse {wh.resolve()} lacks table(s) {names}; rebuild it with `defectflow build`"
        )
    return con


@dataclass(frozen=True)
class BuildInfo:
    """When the warehouse's figures are valid (as_of)."""

    as_of: datetime


def build_info(con: duckdb.DuckDBPyConnection) -> BuildInfo:
    """Read ``marts.build_metadata`` (one row)."""
    row = con.execute("select as_of from marts.build_metadata limit 1").fetchone()
    if row is None or row[0] is None:
        raise WarehouseError("marts.build_metadata is empty: the warehouse has no as-of")
    return BuildInfo(as_of=row[0])


def natural_key(text: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key that orders version-like names numerically (1.9 < 1.10), never as text."""
    parts = re.split(r"(\d+)", text)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in parts if p)


def escape_rates(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every row of ``marts.release_escape_rate`` with its place in ``marts.release_order``
    and a ``kind``.

    ``release_date`` is the release's first served production deployment,
    ``release_order_at`` the instant it is ordered by (planned release, else that
    deployment: docs/metrics.md, Release order). ``kind`` is ``release`` (a real
    release), ``unattributed`` (release NULL), ``service`` (the ``(service, 'ALL')``
    roll-up) or ``overall``.
    """
    df = con.execute(
        """
        select e.service, e.release, e.pre_release_defects, e.escaped_defects,
               e.escaped_incidents, e.escape_rate, e.rca_required, e.rca_link,
               o.first_production_at as release_date, o.release_order_at
        from marts.release_escape_rate as e
        left join marts.release_order as o on o.service = e.service and o.release = e.release
        """
    ).df()
    kind = pd.Series("release", index=df.index, dtype=object)
    kind[df["release"].isna()] = "unattributed"
    kind[df["release"].eq("ALL") & df["service"].ne("ALL")] = "service"
    kind[df["release"].eq("ALL") & df["service"].eq("ALL")] = "overall"
    df["kind"] = kind
    return df




def service_escape_rates(con: duckdb.DuckDBPyConnection, most: int | None = None) -> pd.DataFrame:
    """The ``(service, 'ALL')`` roll-ups by service name, then the overall row; with ``most``,
    only the ``most`` services with the most records (defects and incidents, ties by name)."""
    rates = escape_rates(con)
    services = rates[rates["kind"] == "service"].sort_values("service", key=_natural_series)
    if most is not None:
        records = services["pre_release_defects"] + services["escaped_defects"] + services["escaped_incidents"]
        services = services.loc[records.sort_values(ascending=False, kind="stable").index[:most]]
        services = services.sort_values("service", key=_natural_series)
    overall = rates[rates["kind"] == "overall"]
    return pd.concat([services, overall]).reset_index(drop=True)




@dataclass(frozen=True)
class Unattributed:
    """Records no release could be attributed to (kept out of every rate)."""

    defects: int
    incidents: int

    @property
    def total(self) -> int:
        return self.defects + self.incidents


def unattributed_counts(con: duckdb.DuckDBPyConnection) -> Unattributed:
    """Sum the ``release IS NULL`` rows of the escape-rate mart over services."""
    row = con.execute(
        """
        select coalesce(sum(pre_release_defects + escaped_defects), 0),
               coalesce(sum(escaped_incidents), 0)
        from marts.release_escape_rate
        where release is null
        """
    ).fetchone()
    assert row is not None  # an aggregate always returns one row
    return Unattributed(defects=int(row[0]), incidents=int(row[1]))








def detection_resolution(con: duckdb.DuckDBPyConnection, severity: str = "ALL") -> pd.DataFrame:
    """Time to detect / resolve per (record type, environment) for one severity.

    Environments are in canonical order; the ``'ALL'`` environment roll-up is left out.
    """
    df = con.execute(
        """
        select record_type, environment, severity, n_detect, mttd_hours,
               median_ttd_hours, p90_ttd_hours, n_resolve, mttr_hours,
               median_ttr_hours, p90_ttr_hours, n_not_measurable
        from marts.detection_resolution_by_environment
        where severity = ? and environment <> 'ALL'
        """,
        [severity],
    ).df()
    # Unknown environment names (kept verbatim by the policy) go last, by name.
    df["_rt"] = df["record_type"].map(lambda v: rank_in(RECORD_TYPES, v))
    df["_env"] = df["environment"].map(lambda v: rank_in(ENVIRONMENT_ORDER, v))
    return (
        df.sort_values(["_rt", "_env", "record_type", "environment"])
        .drop(columns=["_rt", "_env"])
        .reset_index(drop=True)
    )








def rank_in(order: Sequence[str], value: str) -> int:
    """Position of a value in a canonical order; unknown values after all known ones."""
    return order.index(value) if value in order else len(order)


def _natural_series(s: pd.Series) -> pd.Series:
    """``natural_key`` over a column, for ``sort_values(key=...)``."""
    return s.map(lambda v: natural_key(str(v)))
