"""DuckDB hands Great Expectations only the rows that may break a rule (quality/rules.py).

The narrowing must never hide a row GX would count: rows exactly on a bound pass, one step
beyond fails, NULLs are the not-null rule's alone.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from pipelines.defs.quality.rules import between, in_range, non_negative, not_before, not_null, run_suite, suite

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 2, 1, tzinfo=UTC)
MID = datetime(2026, 1, 10, tzinfo=UTC)


def test_only_rows_that_may_break_a_rule_reach_gx_and_all_are_counted() -> None:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute("create schema t")
    con.execute("create table t.x (id varchar, n double, r double, opened timestamptz, closed timestamptz)")
    con.executemany("insert into t.x values (?, ?, ?, ?, ?)", [
        ["ok", 0, 1, T0, T0],          # every value on a bound: passes
        ["neg", -1, 0.5, T0, None],    # n < 0
        ["rate", 1, 1.5, T0, T1],      # r > 1
        ["late", 1, 0, MID, T0],       # closed before opened
        ["edge", 2, 0, T1, T1],        # opened at the exclusive upper bound of its range
        ["null", None, None, None, None],  # only the not-null rule sees it
    ])
    checked = suite(
        "t.x", ("id",), not_null("n"), non_negative("n"), between("r", 0, 1),
        not_before("closed", "opened"), in_range("opened", T0, T1), unique_key=False,
    )
    sql, values = checked.rows_sql()
    narrowed = sorted(row[0] for row in con.execute(sql, values).fetchall())
    assert narrowed == ["edge", "late", "neg", "null", "rate"]
    outcome = run_suite(con, checked)
    assert outcome.rows_checked == 6
    failed = {f.rule.name: (f.unexpected, [r["id"] for r in f.rows]) for f in outcome.failures}
    assert failed == {
        "n not null": (1, ["null"]),
        "n >= 0": (1, ["neg"]),
        "r in [0, 1]": (1, ["rate"]),
        "closed >= opened": (1, ["late"]),
        f"opened in [{T0}, {T1})": (1, ["edge"]),
    }
