"""Ingest benchmark: `load_exports` on an exports folder beside the floor, DuckDB reading every file once.

    python benchmarks/ingest.py --exports DIR        # any folder, e.g. `defectflow generate` output
    python benchmarks/ingest.py --defects 1000000    # a canonical defects.csv of N rows (generated once)

The floor is benchmarks/run.py's: each CSV parsed as text (`read_csv(all_varchar)`),
every other file's bytes read. Then `load_exports` into a new warehouse (as of
2026-06-30): its wall time, the ratio to the floor, the time of each ingest stage
(pipelines/progress.py: a stage run several times is summed) and the peak memory of
this process and its worker processes together.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from run import read_floor

from pipelines import progress
from pipelines.defs.ingest.loader import load_exports
from pipelines.policy import load_policy
from pipelines.synthetic import generate
from pipelines.warehouse import connect

DEFECTS_PER_SCALE = 300  # generate(scale=1) writes 300 defects
AS_OF = datetime(2026, 6, 30, tzinfo=UTC)


def _defects_only(workdir: Path, defects: int) -> Path:
    """A folder holding only the canonical defects.csv of `defects` rows (kept for reruns)."""
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


def _stages(profile: Path) -> dict[str, list[float]]:
    """Stage -> [runs, wall, CPU, peak MiB], repeated stages summed (the largest peak)."""
    found: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
    for line in profile.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        seen = found[record["stage"]]
        seen[0] += 1
        seen[1] += record["wall_s"]
        seen[2] += record["cpu_s"]
        seen[3] = max(seen[3], record["peak_rss_mb"])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exports", help="the exports folder to load (default: a generated defects.csv)")
    parser.add_argument("--defects", type=int, default=1_000_000, help="rows of the generated defects.csv")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "defectflow-bench"))
    args = parser.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    folder = Path(args.exports) if args.exports else _defects_only(workdir, args.defects)
    files = [p for p in folder.rglob("*") if p.is_file()]
    size_mb = sum(p.stat().st_size for p in files) / 2**20

    profile = workdir / "ingest-profile.jsonl"
    profile.unlink(missing_ok=True)
    os.environ[progress.PROFILE_ENV] = str(profile)
    read_floor(folder)
    warehouse = workdir / "ingest.duckdb"
    warehouse.unlink(missing_ok=True)
    with connect(warehouse) as con, progress.stage("ingest"):
        summary = load_exports(con, folder, load_policy(), AS_OF)

    stages = _stages(profile)
    floor, ingest = stages["floor"][1], stages["ingest"][1]
    print(f"{folder}: {len(files):,} files, {size_mb:,.0f} MiB; {summary.rows_loaded:,} rows loaded, "
          f"{summary.rows_quarantined:,} quarantined")
    print(f"{'stage':34s} {'runs':>5s} {'wall s':>8s} {'CPU s':>8s} {'peak MiB':>9s}")
    for name, (runs, wall, cpu, peak) in stages.items():
        print(f"{name:34s} {runs:5.0f} {wall:8.1f} {cpu:8.1f} {peak:9,.0f}")
    print(f"ingest / floor: {ingest / floor:.1f}x")


if __name__ == "__main__":
    main()
