"""End to end: `defectflow demo` as a user runs it, in a fresh folder."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_demo_prints_report_path_and_summary(tmp_path):
    sample = tmp_path / "sample"
    shutil.copytree(ROOT / "data" / "sample", sample)
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines", "demo", "--sample", str(sample),
         "--warehouse", str(tmp_path / "w.duckdb"), "--reports", str(tmp_path / "reports")],
        capture_output=True, text=True, cwd=tmp_path, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    match = re.search(r"^Report: (.+executive_briefing\.html)$", proc.stdout, re.M)
    assert match, proc.stdout[-3000:]
    report = Path(match.group(1))
    # the sample's as-of is 2026-06-30: one folder per as-of date
    assert report.parent.name == "2026-06-30" and report.exists()
    html = report.read_text(encoding="utf-8")
    assert "Plotly.newPlot" in html and '<script src="http' not in html

    import duckdb

    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    (rate,) = con.execute(
        "select escape_rate from marts.release_escape_rate where service = 'ALL' and release = 'ALL'"
    ).fetchone()
    # the figure the summary printed and the report shows is the warehouse's
    assert f"{rate:.1%}" in html
    assert re.search(rf"^\s+ALL\s+\d+\s+\d+\s+\d+\s+{re.escape(f'{rate:.1%}')}$", proc.stdout, re.M)
    # the generator keeps production escapes within 5-25% per service before incidents
    assert 0.05 < rate < 0.6
    # three sample defects are created after the as-of: loaded, not counted
    loaded = con.execute("select count(*) from raw.defects").fetchone()[0]
    counted = con.execute("select count(*) from marts.fct_defects").fetchone()[0]
    assert loaded - counted == 3
