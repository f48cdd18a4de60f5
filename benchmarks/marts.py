"""Marts benchmark: every dbt model over the generated exports at N defects.

    python benchmarks/marts.py --defects 1000000 [--workdir DIR] [--select MODELS]

Uses the same generated exports as `benchmarks/ingest.py` (kept in the work
folder for reruns), ingests the whole folder (incremental: a rerun does not
re-read it), then runs `dbt run` over the project into that warehouse and
prints each model's time from dbt's `run_results.json`, the row counts of the
flow marts (`defect_aging`, `cumulative_flow`: the ones that grow with time x
defects when written naively), and the peak memory of the dbt process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from pipelines.defs.ingest.loader import load_exports
from pipelines.policy import load_policy
from pipelines.synthetic import generate
from pipelines.warehouse import DBT_PROJECT_DIR, connect

DEFECTS_PER_SCALE = 300  # generate(scale=1) writes 300 defects
AS_OF = datetime(2026, 6, 30, tzinfo=UTC)
WATCHED = ("defect_aging", "cumulative_flow")


def _exports(workdir: Path, defects: int) -> Path:
    folder = workdir / f"exports-{defects}"
    if not (folder / "defects.csv").exists():
        print(f"generating {defects:,} defects into {folder} ...", flush=True)
        generate(folder, scale=defects / DEFECTS_PER_SCALE, seed=42)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--defects", type=int, default=1_000_000)
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "defectflow-bench"))
    parser.add_argument("--select", default=None, help="dbt selection (default: every model)")
    args = parser.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    folder = _exports(workdir, args.defects)
    warehouse = workdir / f"marts-{args.defects}.duckdb"

    started = time.perf_counter()
    with connect(warehouse) as con:
        summary = load_exports(con, folder, load_policy(), AS_OF)
    print(f"ingest: {time.perf_counter() - started:.1f} s ({summary.rows_loaded:,} rows loaded)", flush=True)

    target = workdir / "dbt-target"
    command = [str(Path(sys.executable).parent / "dbt"), "run", "--project-dir", str(DBT_PROJECT_DIR),
               "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(target), "--quiet"]
    if args.select:
        command += ["--select", args.select]
    started = time.perf_counter()
    subprocess.run(command, check=True, env={**os.environ, "DEFECTFLOW_WAREHOUSE": str(warehouse)})
    total_s = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    timings = sorted(((r["execution_time"], r["unique_id"].split(".")[-1]) for r in results), reverse=True)
    print(f"dbt run: {total_s:.1f} s for {len(results)} models; peak memory of dbt {peak_mb:.0f} MiB")
    print("slowest models:")
    for seconds, name in timings[:12]:
        print(f"  {name:45s} {seconds:7.1f} s")
    with connect(warehouse, read_only=True) as con:
        for name in WATCHED:
            seconds = next((s for s, n in timings if n == name), None)
            if seconds is None:
                continue
            [(rows,)] = con.table("marts." + name).count("*").fetchall()
            print(f"{name}: {seconds:.1f} s, {rows:,} rows")


if __name__ == "__main__":
    main()
