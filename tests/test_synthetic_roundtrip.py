"""The demo's vendor-format exports and the same data as canonical CSVs give the same marts.

This is the adapters' end-to-end proof: Jira JSON (defects, changelog, links),
PagerDuty JSON (incidents from log entries) and the canonical CSVs they were
written from must reach identical metrics. Both are ingested and modelled as a
build does; the build's checks and reports have tests of their own.
"""

import duckdb
import pytest

from pipelines.synthetic import SAMPLE_AS_OF, generate_vendor
from pipelines.warehouse import connect
from tests.conftest import modelled_warehouse

pytestmark = pytest.mark.slow

TABLES = ("release_escape_rate", "detection_resolution_by_environment", "fct_defects", "fct_incidents",
          "fct_deployments")
# Where a record was read from is the one thing that differs.
PROVENANCE = ("source_file", "source_row", "source_system")


def _rows(warehouse, table):
    with connect(warehouse, read_only=True) as con:
        columns = [name for (name,) in con.execute(
            "select column_name from information_schema.columns where table_schema = 'marts' "
            "and table_name = ? order by ordinal_position", [table]).fetchall() if name not in PROVENANCE]
        hours = [duckdb.FunctionExpression("round", duckdb.ColumnExpression(c), duckdb.ConstantExpression(6))
                 if c.endswith("_hours") else duckdb.ColumnExpression(c) for c in columns]
        return con.table("marts." + table).select(*hours).order("all").fetchall()


def test_vendor_formats_reach_the_same_marts_as_canonical_csv(tmp_path, canonical_sample):
    vendor = tmp_path / "vendor"
    written = generate_vendor(vendor, scale=1, seed=42)
    assert {"jira/issues.json", "pagerduty/incidents.json"} <= set(written)
    # Canonical defects without an environment are `unknown`; Jira's shipped
    # default would make them production. Compare like with like.
    policy = tmp_path / "policy.yml"
    policy.write_text("sources:\n  jira:\n    default_environment: null\n", encoding="utf-8")
    builds = {}
    for name, exports in (("canonical", canonical_sample), ("vendor", vendor)):
        result = modelled_warehouse(exports, tmp_path / f"{name}-warehouse", policy=policy, as_of_text=SAMPLE_AS_OF)
        assert result.rejected_files == 0 and result.quarantined_rows == 0
        builds[name] = result.warehouse
    for table in TABLES:
        canonical, vendor_rows = _rows(builds["canonical"], table), _rows(builds["vendor"], table)
        assert len(canonical) > 0
        assert canonical == vendor_rows, table
    with connect(builds["vendor"], read_only=True) as con:
        assert con.execute("select count(*) from marts.fct_test_cases").fetchall()[0][0] == sum(
            n for name, n in written.items() if name.startswith("junit/"))
        assert con.execute("select count(*) from marts.fct_coverage").fetchall()[0][0] == sum(
            n for name, n in written.items() if name.startswith("coverage/"))
