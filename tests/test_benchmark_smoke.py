"""The build benchmark's harness runs end to end and writes its figures (benchmarks/run.py).

No timing is asserted: the suite checks that every stage the issue asks for is recorded, with
figures, for the full build, the floor and the weekly increment.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_benchmark_harness_writes_every_stage(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--scales", "60",
         "--workdir", str(tmp_path / "work"), "--out", str(out)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    records = json.loads((out / "results.json").read_text(encoding="utf-8"))
    stages = {r["stage"]: r for r in records}
    assert {r["scale"] for r in records} == {60}
    for name in ("floor", "full_build", "build_excluding_reports", "incremental_build", "ingest",
                 "checks gx (raw)", "dbt models", "dbt tests", "report executive", "report clusters",
                 "warehouse copy", "warehouse swap", "incremental: ingest", "incremental: dbt models"):
        assert name in stages, name
        assert set(stages[name]) == {"scale", "stage", "wall_s", "cpu_s", "peak_rss_mb"}
        assert stages[name]["wall_s"] >= 0 and stages[name]["peak_rss_mb"] > 0
    full = stages["full_build"]
    # the whole command includes each of its stages
    assert full["wall_s"] >= stages["dbt models"]["wall_s"] + stages["dbt tests"]["wall_s"]
    markdown = (out / "RESULTS.md").read_text(encoding="utf-8")
    assert "### 60 defects" in markdown and "| full_build | 1 |" in markdown
    assert "Plotly.newPlot" in (out / "results.html").read_text(encoding="utf-8")
