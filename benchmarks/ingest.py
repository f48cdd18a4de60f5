"""Ingest benchmark: a canonical defects CSV of N rows, read by DuckDB alone vs loaded by defectflow.

    python benchmarks/ingest.py --defects 1000000 [--workdir DIR]

Generates the exports once (kept in the work folder for reruns), then times
(1) DuckDB reading the defects file as text (`read_csv(all_varchar)` into a
table), the floor for any loader, and (2) `load_exports` on a folder holding
that file: detection, validation, typing, quarantine and bookkeeping. Prints
both and their ratio, plus the process's peak memory.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.defs.ingest.loader import load_exports
from pipelines.policy import load_policy
from pipelines.synthetic import generate
from pipelines.warehouse import connect

DEFECTS_PER_SCALE = 300  # generate(scale=1) writes 300 defects


def _exports(workdir: Path, defects: int) -> Path:
    folder = workdir / f"exports-{defects}"
    marker = folder / "defects.csv"
    if not marker.exists():
        print(f"generating {defects:,} defects into {folder} ...", flush=True)
        started = time.perf_counter()
        generate(folder, scale=defects / DEFECTS_PER_SCALE, seed=42)
        print(f"  generated in {time.perf_counter() - started:.1f} s", flush=True)
    only_defects = workdir / f"defects-only-{defects}"
    only_defects.mkdir(exist_ok=True)
    target = only_defects / "defects.csv"
    if not target.exists():
        shutil.copyfile(marker, target)
    return only_defects


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--defects", type=int, default=1_000_000)
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "defectflow-bench"))
    args = parser.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    folder = _exports(workdir, args.defects)
    csv_file = folder / "defects.csv"
    size_mb = csv_file.stat().st_size / 2**20

    plain = workdir / "plain.duckdb"
    plain.unlink(missing_ok=True)
    with duckdb.connect(str(plain)) as con:
        started = time.perf_counter()
        rows = con.execute(
            "create table t as select * from read_csv(?, all_varchar = true, header = true)", [str(csv_file)]
        ).fetchall()
        duckdb_s = time.perf_counter() - started
        rows = con.execute("select count(*) from t").fetchall()[0][0]

    warehouse = workdir / "ingest.duckdb"
    warehouse.unlink(missing_ok=True)
    with connect(warehouse) as con:
        started = time.perf_counter()
        summary = load_exports(con, folder, load_policy(), datetime(2026, 6, 30, tzinfo=UTC))
        ingest_s = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"defects.csv: {rows:,} rows, {size_mb:.0f} MiB")
    print(f"DuckDB read_csv into a table:   {duckdb_s:6.1f} s")
    print(f"defectflow load_exports:        {ingest_s:6.1f} s  ({ingest_s / duckdb_s:.1f}x; "
          f"{summary.rows_loaded:,} loaded, {summary.rows_quarantined:,} quarantined)")
    print(f"peak memory of this process:    {peak_mb:6.0f} MiB")


if __name__ == "__main__":
    main()
