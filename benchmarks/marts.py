"""Marts benchmark: every dbt model over the generated exports at N defects.

    python benchmarks/marts.py --defects 1000000 [--workdir DIR] [--select MODELS]

Uses the same generated exports as `benchmarks/ingest.py` (kept in the work
folder for reruns), ingests the whole folder (incremental: a rerun does not
re-read it), then runs `dbt run` over the project into that warehouse and
prints each model's time from dbt's `run_results.json`, the row counts of the
flow marts (`defect_aging`, `cumulative_flow`: the ones that grow with time x
defects when written naively), the CPU time of dbt, and its peak resident
memory with the models running at that moment (sampled every 100 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

from pipelines import pseudonyms
from pipelines.defs.ingest.loader import load_exports
from pipelines.policy import load_policy
from pipelines.synthetic import generate
from pipelines.warehouse import DBT_PROJECT_DIR, connect

DEFECTS_PER_SCALE = 300  # generate(scale=1) writes 300 defects
AS_OF = datetime(2026, 6, 30, tzinfo=UTC)
WATCHED = ("defect_aging", "cumulative_flow")
SAMPLE_SECONDS = 0.1


def _exports(workdir: Path, defects: int) -> Path:
    folder = workdir / f"exports-{defects}"
    if not (folder / "defects.csv").exists():
        print(f"generating {defects:,} defects into {folder} ...", flush=True)
        generate(folder, scale=defects / DEFECTS_PER_SCALE, seed=42)
    return folder


def _run_sampled(command: list[str], env: dict[str, str]) -> tuple[float, int, datetime]:
    """Run `command`; its CPU seconds, peak resident bytes and when the peak was (UTC)."""
    child = subprocess.Popen(command, env=env)
    process = psutil.Process(child.pid)
    peak, peak_at, cpu = 0, datetime.now(UTC), 0.0
    while child.poll() is None:
        try:
            rss = process.memory_info().rss
            times = process.cpu_times()
            cpu = times.user + times.system
        except psutil.Error:  # it ended between poll and read
            break
        if rss > peak:
            peak, peak_at = rss, datetime.now(UTC)
        time.sleep(SAMPLE_SECONDS)
    if child.wait() != 0:
        raise subprocess.CalledProcessError(child.returncode, command)
    return cpu, peak, peak_at


def _running_at(results: list[dict], instant: datetime) -> list[str]:
    """The models dbt was executing at `instant`."""
    running = []
    for result in results:
        for step in result["timing"]:
            started = datetime.fromisoformat(step["started_at"].replace("Z", "+00:00"))
            completed = datetime.fromisoformat(step["completed_at"].replace("Z", "+00:00"))
            if step["name"] == "execute" and started <= instant <= completed:
                running.append(result["unique_id"].split(".")[-1])
    return running


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
               "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(target), "--log-path", str(target),
               "--quiet"]
    if args.select:
        command += ["--select", args.select]
    started = time.perf_counter()
    env = {**os.environ, "DEFECTFLOW_WAREHOUSE": str(warehouse), **pseudonyms.dbt_environment()}
    cpu_s, peak, peak_at = _run_sampled(command, env)
    total_s = time.perf_counter() - started

    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    timings = sorted(((r["execution_time"], r["unique_id"].split(".")[-1]) for r in results), reverse=True)
    print(f"dbt run: {total_s:.1f} s for {len(results)} models, {cpu_s:.0f} s CPU; peak memory of dbt "
          f"{peak / 2**20:.0f} MiB while running {', '.join(_running_at(results, peak_at)) or 'no model'}")
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
