"""The DuckDB side of `--engine spark` (pipelines/spark_engine.py), without Spark: the raw
tables out as Parquet, the models' relations back in, the Python models' order."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from pipelines import spark_engine


def _parquet(con: duckdb.DuckDBPyConnection, sql: str, folder: Path) -> None:
    folder.mkdir(parents=True)
    con.sql(sql).write_parquet(str(folder / "part-00000.parquet"))


def test_raw_tables_go_out_one_folder_each(tmp_path):
    con = duckdb.connect()
    con.execute("create schema raw; create schema staging")
    con.execute("create table raw.defects as select * from (values ('A-1', 2), ('A-2', 3)) t(defect_id, n)")
    con.execute("create table raw.incidents (incident_id varchar)")
    con.execute("create table staging.not_raw as select 1 as x")
    assert spark_engine.export_raw(con, tmp_path) == 2
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == ["defects", "incidents"]
    assert con.execute("select * from read_parquet(?) order by 1",
                       [str(tmp_path / "raw" / "defects" / "*.parquet")]).fetchall() == [("A-1", 2), ("A-2", 3)]
    # an empty table still carries its columns, which Spark reads as the source's schema
    assert con.execute("select column_name from (describe select * from read_parquet(?))",
                       [str(tmp_path / "raw" / "incidents" / "*.parquet")]).fetchall() == [("incident_id",)]


def test_models_come_back_as_tables_and_history_is_appended(tmp_path):
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    # the build copy as an earlier DuckDB build left it
    con.execute("create schema staging; create schema history")
    con.execute("create view staging.stg_x as select 1 as x")
    con.execute("create table history.gate_verdicts as select timestamptz '2026-01-05 06:00:00+00' as built_at,"
                " 'PASS' as verdict")
    # what Spark wrote: a staging view's rows, this build's history rows, a new mart
    writer = duckdb.connect()
    out = tmp_path / "out"
    _parquet(writer, "select * from (values (1), (2)) t(x)", out / "staging" / "stg_x")
    _parquet(writer, "select timestamptz '2026-01-12 06:00:00+00' as built_at, 'HOLD' as verdict",
             out / "history" / "gate_verdicts")
    _parquet(writer, "select 0.25::double as escape_rate", out / "marts" / "release_escape_rate")

    assert spark_engine.copy_back(con, tmp_path) == 3
    assert con.execute("select table_schema, table_name, table_type from information_schema.tables"
                       " order by 1, 2").fetchall() == [
        ("history", "gate_verdicts", "BASE TABLE"),
        ("marts", "release_escape_rate", "BASE TABLE"),
        ("staging", "stg_x", "BASE TABLE"),
    ]
    assert con.execute("select x from staging.stg_x order by x").fetchall() == [(1,), (2,)]
    assert con.execute("select strftime(built_at, '%Y-%m-%d'), verdict from history.gate_verdicts"
                       " order by built_at").fetchall() == [("2026-01-05", "PASS"), ("2026-01-12", "HOLD")]
    assert con.execute("select escape_rate from marts.release_escape_rate").fetchall() == [(0.25,)]


def test_python_models_run_parents_first(tmp_path):
    nodes = {
        # the cluster model reads the pair scores; its id sorts first
        "model.p.a_clusters": {"resource_type": "model", "language": "python", "name": "a_clusters",
                               "depends_on": {"nodes": ["model.p.z_pairs", "model.p.int_defects"]}},
        "model.p.z_pairs": {"resource_type": "model", "language": "python", "name": "z_pairs",
                            "depends_on": {"nodes": ["model.p.features"]}},
        "model.p.int_defects": {"resource_type": "model", "language": "sql", "name": "int_defects",
                                "depends_on": {"nodes": []}},
    }
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"nodes": nodes}))
    assert spark_engine.python_model_names(manifest) == ["z_pairs", "a_clusters"]
