"""The dbt unit tests (hand-computed inputs and outputs per model, in dbt_project/models/**/_*.yml).

A user's build runs only the data tests (pipelines/defs/dbt.py): the unit tests check the
models' logic, which no export can change, so they run here, once per CI run, against the
tiny fixture's warehouse (dbt reads the columns of a model's inputs from it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.warehouse import DBT_PROJECT_DIR, WAREHOUSE_ENV


@pytest.mark.slow
def test_every_dbt_unit_test_passes(tiny_build, tmp_path: Path) -> None:
    warehouse = tmp_path / "unit.duckdb"
    shutil.copyfile(tiny_build.warehouse, warehouse)
    target = tmp_path / "target"
    dbt = str(Path(sys.executable).parent / "dbt")
    proc = subprocess.run(
        [dbt, "test", "--select", "test_type:unit", "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(target), "--log-path", str(target)],
        capture_output=True, text=True, env={**os.environ, WAREHOUSE_ENV: str(warehouse)},
    )
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    declared = set(manifest["unit_tests"])
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    failed = [f"{r['unique_id']}: {r['message']}" for r in results if r["status"] != "pass"]
    assert not failed, "\n".join(failed) + "\n" + proc.stdout[-3000:]
    assert {r["unique_id"] for r in results} == declared  # every declared unit test ran
    assert len(declared) >= 40 and proc.returncode == 0
