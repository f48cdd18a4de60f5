"""Which models would Spark accept? Analyse each model's Spark-compiled SQL in a local Spark.

    cd dbt_project && dbt compile --target spark --target-path /tmp/spark-target
    nice -n 19 python benchmarks/spark_audit.py WAREHOUSE.duckdb /tmp/spark-target [--json out.json]

WAREHOUSE is a DuckDB build (e.g. `defectflow demo`'s): its `raw` tables give
the sources' columns and types, and its model tables the columns of models Spark
cannot analyse. Spark gets each raw table as an empty table, then every model
in dependency order as a view over the compiled SQL: creating a view analyses
the whole query (functions, types, names) without reading data. A model that
fails is recorded with Spark's message and replaced by an empty table of
DuckDB's columns, so the models downstream are still checked on their own SQL;
an accepted model whose columns differ from DuckDB's table says which.
Python models are always replaced that way (dbt-spark's session method cannot
run them). docs/spark.md lists the result.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

SCHEMAS = ("raw", "staging", "intermediate", "marts", "audit", "history")
SIMPLE_TYPES = {
    "VARCHAR": "string", "BIGINT": "bigint", "INTEGER": "int", "SMALLINT": "smallint", "TINYINT": "tinyint",
    "HUGEINT": "decimal(38,0)", "UBIGINT": "decimal(20,0)", "UINTEGER": "bigint", "DOUBLE": "double",
    "FLOAT": "float", "BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP WITH TIME ZONE": "timestamp",
    "TIMESTAMP": "timestamp_ntz", "INTERVAL": "interval day to second", "UUID": "string", "BLOB": "binary",
    "JSON": "string",
}


@dataclass(frozen=True)
class Finding:
    model: str
    ok: bool
    error: str
    # columns Spark's view has and DuckDB's table lacks, or the other way round
    column_difference: str = ""


def _split_top_level(text: str) -> list[str]:
    """`a INT, b STRUCT(x INT, y INT)` -> its two fields (commas inside parentheses kept)."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    return [*parts, text[start:].strip()]


def spark_type(duckdb_type: str) -> str:
    """DuckDB's type name as Spark DDL, lists, structs and decimals included."""
    if duckdb_type.endswith("[]"):
        return f"array<{spark_type(duckdb_type[:-2])}>"
    if duckdb_type.startswith("STRUCT("):
        fields = []
        for field in _split_top_level(duckdb_type[len("STRUCT("):-1]):
            name, field_type = re.match(r'("[^"]+"|\S+)\s+(.*)', field).groups()
            fields.append(f"`{name.strip(chr(34))}`: {spark_type(field_type)}")
        return f"struct<{', '.join(fields)}>"
    if duckdb_type.startswith("DECIMAL"):
        return duckdb_type.lower()
    return SIMPLE_TYPES[duckdb_type]


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple[str, str]]:
    return con.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()


def _columns_ddl(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    return ", ".join(f"`{name}` {spark_type(data_type)}" for name, data_type in _columns(con, schema, table))


def _column_difference(spark_columns: list[str], duckdb_columns: list[str]) -> str:
    extra = [c for c in spark_columns if c not in duckdb_columns]
    missing = [c for c in duckdb_columns if c not in spark_columns]
    return "; ".join(part for part in (
        f"only on Spark: {', '.join(extra)}" if extra else "",
        f"only on DuckDB: {', '.join(missing)}" if missing else "",
    ) if part)


def _first_line(message: str) -> str:
    """Spark's message without its plan dump and JVM stack."""
    text = re.sub(r"\s+", " ", message.split("\n;")[0].split("JVM stacktrace")[0]).strip()
    return text[:400]


def _ordered_models(manifest: dict) -> list[dict]:
    """The project's models, each after every model it reads."""
    models = {key: node for key, node in manifest["nodes"].items() if node["resource_type"] == "model"}
    done: set[str] = set()
    order: list[dict] = []

    def visit(key: str) -> None:
        if key in done or key not in models:
            return
        done.add(key)
        for parent in models[key]["depends_on"]["nodes"]:
            visit(parent)
        order.append(models[key])

    for key in sorted(models):
        visit(key)
    return order


def audit(warehouse: Path, target: Path) -> list[Finding]:
    from pyspark.sql import SparkSession
    from pyspark.sql.utils import AnalysisException

    spark = (
        SparkSession.builder.master("local[1]")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.parser.escapedStringLiterals", "true")
        .config("spark.sql.catalogImplementation", "in-memory")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    con = duckdb.connect(str(warehouse), read_only=True)
    manifest = json.loads((target / "manifest.json").read_text())
    findings: list[Finding] = []
    try:
        for schema in SCHEMAS:
            spark.sql(f"create database if not exists {schema}")  # SQL text: identifier from the fixed SCHEMAS list
        raw_tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw' order by 1"
        ).fetchall()
        for (table,) in raw_tables:
            # SQL text: identifiers only (DuckDB's own catalog: table and column names); DDL binds no values.
            spark.sql(f"create table raw.{table} ({_columns_ddl(con, 'raw', table)}) using parquet")  # identifiers only
        for node in _ordered_models(manifest):
            schema, name = node["schema"], node["alias"]
            error = "Python model (not run by the session method)"
            if node["language"] == "sql":
                sql = node["compiled_code"].strip().rstrip(";")
                try:
                    # SQL text: identifiers and the model's compiled SQL (manifest); DDL binds no values.
                    spark.sql(f"create view {schema}.{name} as {sql}")  # identifiers + the model's own SQL
                    accepted = spark.table(f"{schema}.{name}").schema
                    difference = _column_difference(accepted.names, [c for c, _ in _columns(con, schema, name)])
                    findings.append(Finding(node["name"], True, "", difference))
                    # Its readers see an empty table of the view's columns, not the view: a view
                    # over views is analysed again, whole, by every reader, and the masking and
                    # fingerprint expressions made that chain take more than 15 minutes.
                    spark.sql(f"drop view {schema}.{name}")  # SQL text: identifiers only (dbt manifest)
                    spark.catalog.createTable(f"{schema}.{name}", source="parquet", schema=accepted)
                    continue
                except AnalysisException as exc:
                    error = _first_line(str(exc))
                except Exception as exc:  # a parse error is not an AnalysisException in every Spark
                    error = _first_line(str(exc))
            findings.append(Finding(node["name"], False, error))
            # SQL text: identifiers only (the fixed SCHEMAS, the dbt manifest, DuckDB's catalog); no values.
            spark.sql(f"create table {schema}.{name} ({_columns_ddl(con, schema, name)}) using parquet")  # identifiers
    finally:
        con.close()
        spark.stop()
    return findings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("target", type=Path, help="dbt target folder of `dbt compile --target spark`")
    parser.add_argument("--json", type=Path, help="write the findings here")
    args = parser.parse_args()
    findings = audit(args.warehouse, args.target)
    for finding in findings:
        detail = finding.error if not finding.ok else finding.column_difference
        print(f"{'ok  ' if finding.ok else 'FAIL'} {finding.model}{': ' + detail if detail else ''}")
    print(f"{sum(f.ok for f in findings)} of {len(findings)} models accepted by Spark")
    if args.json:
        args.json.write_text(json.dumps([asdict(f) for f in findings], indent=1))
    return 0 if all(f.ok for f in findings) else 1


if __name__ == "__main__":
    sys.exit(main())
