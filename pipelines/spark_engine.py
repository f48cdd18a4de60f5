"""`defectflow build --engine spark`: the dbt models on Spark, the results in the DuckDB build copy.

Ingest, validation and quarantine stay DuckDB's (one implementation): the build copy's `raw`
tables are exported as Parquet, a child process runs dbt on Spark (profile target `spark`)
over them, and every table and view the models made comes back into the build copy as a
DuckDB table. `gate`, the reports, the GX checks and the dbt data tests then read the same
file whichever engine built it (DECISIONS.md, "Issue 14: --engine spark").

The child process (`python -m pipelines.spark_engine SPARK_DIR`) holds Spark's JVM and the
session dbt-spark opens in-process; it runs dbt in three phases, because dbt-spark runs
Python models only on Databricks:

1. every model not downstream of a Python model;
2. each Python model's own `model(dbt, session)`, handed DuckDB relations over its refs
   (read from Spark as Parquet), its frame written back as a Spark table;
3. the models downstream of the Python models.

It prints one `progress:` line per phase, which the parent relays to the console.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb

from pipelines import progress
from pipelines.warehouse import DBT_PROJECT_DIR

log = logging.getLogger("defectflow")

ENGINES = ("duckdb", "spark")
ENGINE_ENV = "DEFECTFLOW_ENGINE"
SPARK_DIR_ENV = "DEFECTFLOW_SPARK_DIR"
#: A folder: after the build, the child also runs the dbt unit tests on Spark and leaves their
#: run_results.json there (tests/test_spark_equality.py; a user's build never sets it).
UNIT_TESTS_ENV = "DEFECTFLOW_SPARK_UNIT_TESTS"
#: Schemas the models write (dbt_project.yml); `raw` is ingest's and stays as DuckDB wrote it.
MODEL_SCHEMAS = ("staging", "intermediate", "marts", "audit", "history")
#: Appended per build (incremental), never replaced: Spark starts each build without them.
APPENDED_SCHEMAS = ("history",)
_PROGRESS = "progress: "
_DBT_DONE = re.compile(r"\b(\d+) of (\d+) (?:OK|ERROR|SKIP|PASS|FAIL|WARN)\b")


class SparkUnavailable(RuntimeError):
    """pyspark or Java is missing: said in one line, with what to install."""


def check_available() -> None:
    if importlib.util.find_spec("pyspark") is None or importlib.util.find_spec("dbt.adapters.spark") is None:
        raise SparkUnavailable(
            '--engine spark needs pyspark and dbt-spark: pip install -c constraints.txt -e ".[spark]"')
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise SparkUnavailable("--engine spark needs Java 17 (e.g. apt-get install default-jre-headless)")


@contextlib.contextmanager
def spark_folder(work_dir: Path) -> Iterator[Path]:
    """Spark's files for one build (Parquet in and out, metastore, warehouse): under
    DEFECTFLOW_SPARK_DIR when set, else in the build's own folder; removed afterwards."""
    parent = Path(os.environ.get(SPARK_DIR_ENV) or work_dir)
    parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".spark-", dir=parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def export_raw(con: duckdb.DuckDBPyConnection, folder: Path) -> int:
    """Every `raw` table as `folder/raw/<table>/data.parquet` (Spark reads a folder per table)."""
    tables = [name for (name,) in con.execute(
        "select table_name from duckdb_tables() where database_name = current_database()"
        " and schema_name = 'raw' order by table_name").fetchall()]
    for name in tables:
        target = folder / "raw" / name
        target.mkdir(parents=True)
        con.table(f"raw.{_quote(name)}").write_parquet(str(target / "data.parquet"))
    return len(tables)


def run_models(folder: Path, python_models: list[str]) -> None:
    """The child process; its `progress:` lines go to the console, the rest to dbt's log
    (this process's stdout, redirected by the CLI). Killed with its JVM if the build stops."""
    env = dict(os.environ, **{SPARK_DIR_ENV: str(folder)})
    command = [sys.executable, "-m", "pipelines.spark_engine", str(folder), *python_models]
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, start_new_session=True)
    tail: list[str] = []
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith(_PROGRESS):
                log.info("  spark: %s", line.removeprefix(_PROGRESS).rstrip())
            else:
                if done := _DBT_DONE.search(line):  # dbt's "3 of 67 OK created ..." as the build's progress bar
                    progress.advance("dbt models on Spark", int(done[1]), int(done[2]))
                sys.stdout.write(line)
                tail = [*tail[-19:], line.rstrip()]
        code = child.wait()
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    if code != 0:
        reason = next((line for line in reversed(tail) if line.startswith("error: ")), "see dbt's log")
        raise RuntimeError(f"dbt on Spark failed: {reason.removeprefix('error: ')}")


def copy_back(con: duckdb.DuckDBPyConnection, folder: Path) -> int:
    """Every relation Spark built, from `folder/out/<schema>/<name>`, as a table of the build copy.

    A view of an earlier DuckDB build is dropped first; `history` is appended to, as the
    incremental model does on DuckDB."""
    copied = 0
    for schema_dir in sorted((folder / "out").iterdir()):
        schema = schema_dir.name
        con.execute(f"create schema if not exists {_quote(schema)}")  # SQL text: identifiers only
        for table_dir in sorted(schema_dir.iterdir()):
            name = f"{_quote(schema)}.{_quote(table_dir.name)}"
            files = str(table_dir / "*.parquet")
            existing = con.execute(
                "select table_type from information_schema.tables"
                " where table_catalog = current_database() and table_schema = ? and table_name = ?",
                [schema, table_dir.name]).fetchone()
            # SQL text: identifiers only (schema and model names); the file pattern is bound
            if existing and existing[0] == "VIEW":
                con.execute(f"drop view {name}")
                existing = None
            if existing and schema in APPENDED_SCHEMAS:
                con.execute(f"insert into {name} by name select * from read_parquet(?)", [files])
            else:
                con.execute(f"create or replace table {name} as select * from read_parquet(?)", [files])
            copied += 1
    return copied


def python_model_names(manifest_path: Path) -> list[str]:
    """The project's Python models, each after the Python models it reads."""
    nodes = json.loads(manifest_path.read_text())["nodes"]
    python = {uid: node for uid, node in nodes.items()
              if node["resource_type"] == "model" and node.get("language") == "python"}
    ordered: list[str] = []

    def visit(uid: str) -> None:
        if python[uid]["name"] in ordered:
            return
        for parent in python[uid]["depends_on"]["nodes"]:
            if parent in python:
                visit(parent)
        ordered.append(python[uid]["name"])

    for uid in sorted(python):
        visit(uid)
    return ordered


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


# ---- the child process -------------------------------------------------------------------


def _progress(text: str) -> None:
    print(_PROGRESS + text, flush=True)


def _dbt(args: list[str], check: bool = True) -> None:
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke([*args, "--target", "spark", "--project-dir", str(DBT_PROJECT_DIR),
                                 "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", _TARGET,
                                 "--log-path", _TARGET])
    if check and not result.success:
        failed = [r.node.name for r in getattr(result.result, "results", None) or []
                  if str(r.status) in ("error", "fail")]
        detail = f"{len(failed)} model(s) failed: {', '.join(failed[:8])}" if failed else str(result.exception)
        raise RuntimeError(f"dbt {args[0]}: {detail}")


_TARGET = ""


class _PythonModelContext:
    """The `dbt` a Python model is handed, on Spark: `ref` gives a DuckDB relation over the
    Spark table (read as Parquet), so the model's own code runs unchanged."""

    def __init__(self, spark, con: duckdb.DuckDBPyConnection, schemas: dict[str, str], scratch: Path) -> None:
        self._spark, self._con, self._schemas, self._scratch = spark, con, schemas, scratch

    def config(self, **_: object) -> None:
        pass

    def ref(self, name: str) -> duckdb.DuckDBPyRelation:
        path = self._scratch / name
        if not path.exists():
            self._spark.table(f"{self._schemas[name]}.{name}").write.parquet(str(path))
        return self._con.read_parquet(str(path / "*.parquet"))


def _run_python_model(spark, name: str, schemas: dict[str, str], scratch: Path) -> None:
    source = DBT_PROJECT_DIR / "models"
    [path] = list(source.rglob(f"{name}.py"))
    spec = importlib.util.spec_from_file_location(f"_model_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        frame = module.model(_PythonModelContext(spark, con, schemas, scratch), con)
        if isinstance(frame, duckdb.DuckDBPyRelation):
            frame = frame.df()
        out = scratch / f"{name}.out"
        out.mkdir()
        con.from_df(frame).write_parquet(str(out / "data.parquet"))
    schema = schemas[name]
    # SQL text: identifiers only (the model's schema and name)
    spark.sql(f"create database if not exists {schema}")
    spark.sql(f"drop table if exists {schema}.{name}")
    spark.read.parquet(str(out)).write.saveAsTable(f"{schema}.{name}")


def _child(folder: Path, python_models: list[str]) -> None:
    global _TARGET
    _TARGET = str(folder / "target")
    _progress("registering the raw tables")
    _dbt(["run-operation", "register_raw_sources", "--args", json.dumps({"folder": str(folder / "raw")})])
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()  # the session dbt-spark opened in this process
    # Timestamps as instants in Parquet (DuckDB reads them as timestamptz), not the legacy INT96.
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    downstream = [f"{name}+" for name in python_models]
    _progress("dbt run (models not downstream of a Python model)")
    _dbt(["run", "--exclude", *downstream] if downstream else ["run"])
    manifest = json.loads((folder / "target" / "manifest.json").read_text())
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    schemas = {name: node["schema"] for name, node in models.items()}
    scratch = folder / "python"
    scratch.mkdir()
    for name in python_models:
        _progress(f"Python model {name}")
        _run_python_model(spark, name, schemas, scratch)
    if python_models:
        _progress("dbt run (models downstream of the Python models)")
        _dbt(["run", "--select", *downstream, "--exclude", *python_models])
    _progress("writing the models' tables for DuckDB")
    for name, node in sorted(models.items()):
        if node["config"].get("materialized") == "ephemeral" or not node["config"].get("enabled", True):
            continue
        spark.table(f"{node['schema']}.{name}").write.parquet(str(folder / "out" / node["schema"] / name))
    if results := os.environ.get(UNIT_TESTS_ENV):
        # Unit tests read their inputs' columns from the relations just built; a failing one
        # is the test's to report, not the build's.
        _progress("dbt unit tests")
        _dbt(["test", "--select", "test_type:unit"], check=False)
        for name in ("run_results.json", "manifest.json"):
            shutil.copyfile(folder / "target" / name, Path(results) / name)


def _end_with_parent() -> None:
    """SIGTERM when the build's process dies, even by kill -9 (as pipelines/dbt_child.py does for
    dbt); Spark's JVM ends with this process (it watches the pipe pyspark holds)."""
    if sys.platform.startswith("linux"):
        parent = os.getppid()
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:
            sys.exit(128 + signal.SIGTERM)


def main(argv: list[str]) -> int:
    _end_with_parent()
    logging.basicConfig(level=logging.WARNING)
    try:
        _child(Path(argv[0]), argv[1:])
    except Exception as exc:  # reported as one line to the parent; dbt's own log has the details
        print(f"error: {exc}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
