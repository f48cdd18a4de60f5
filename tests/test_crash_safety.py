"""A failed or killed build leaves the previous warehouse usable; two builds never write one file."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.warehouse import WarehouseBusy, build_copy, connect
from tests.conftest import TINY, TINY_AS_OF


def _write_marker(path, value):
    with duckdb.connect(str(path)) as con:
        con.execute("create or replace table marker as select ? as v", [value])


def _marker(path):
    with connect(path, read_only=True) as con:
        return con.execute("select v from marker").fetchall()[0][0]


def test_a_successful_build_swaps_the_copy_in(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    _write_marker(warehouse, "old")
    with build_copy(warehouse) as copy:
        assert copy.path != warehouse and _marker(copy.path) == "old"  # starts from the previous warehouse
        _write_marker(copy.path, "new")
        assert _marker(warehouse) == "old"  # readers see the old one until the swap
        copy.publish()
    assert _marker(warehouse) == "new"
    assert not list(tmp_path.glob(".w.duckdb.building*"))


def test_a_failed_build_leaves_the_previous_warehouse(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    _write_marker(warehouse, "old")
    with pytest.raises(RuntimeError, match="boom"), build_copy(warehouse) as copy:
        _write_marker(copy.path, "half-built")
        raise RuntimeError("boom")
    assert _marker(warehouse) == "old"
    assert not list(tmp_path.glob(".w.duckdb.building*"))



def test_a_killed_builds_spill_folder_is_removed_with_its_copy(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    _write_marker(warehouse, "old")
    spill = tmp_path / ".w.duckdb.building.tmp"  # DuckDB's temp folder beside a copy that spilled
    (spill / "duckdb_temp_storage-0.tmp").parent.mkdir()
    (spill / "duckdb_temp_storage-0.tmp").write_bytes(b"\0" * 16)
    (tmp_path / ".w.duckdb.building").write_bytes(b"half a copy")
    with build_copy(warehouse) as copy:
        assert not spill.exists() and _marker(copy.path) == "old"
        copy.publish()
    assert _marker(warehouse) == "old"

def test_a_second_build_is_refused_with_a_clear_message(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    with (
        build_copy(warehouse),
        pytest.raises(WarehouseBusy, match=r"another build is writing .*w\.duckdb \(pid \d+, started"),
        build_copy(warehouse),
    ):
        pass
    with build_copy(warehouse):  # released when the first build ends
        pass


@pytest.mark.slow
def test_second_cli_build_exits_2_while_one_runs(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    running_log = tmp_path / "w.duckdb.build.log"
    running_log.write_text("the running build's dbt log\n")
    with build_copy(warehouse):
        proc = subprocess.run(
            [sys.executable, "-m", "pipelines", "build", "--exports", str(TINY), "--warehouse", str(warehouse),
             "--reports", str(tmp_path / "r"), "--as-of", TINY_AS_OF],
            capture_output=True, text=True, timeout=600,
        )
    assert proc.returncode == 2
    assert "another build is writing" in proc.stderr
    # the refused build leaves the running build's log alone, and no log of its own
    assert running_log.read_text() == "the running build's dbt log\n"
    assert sorted(p.name for p in tmp_path.iterdir() if "log" in p.name) == ["w.duckdb.build.log"]


@pytest.mark.slow
def test_a_killed_build_leaves_the_warehouse_usable_and_the_next_build_completes(tmp_path, tiny_build):
    warehouse = tmp_path / "w.duckdb"
    shutil.copyfile(tiny_build.warehouse, warehouse)  # the first build of these exports
    command = [sys.executable, "-m", "pipelines", "build", "--exports", str(TINY), "--warehouse", str(warehouse),
               "--reports", str(tmp_path / "r"), "--as-of", TINY_AS_OF]
    with connect(warehouse, read_only=True) as con:
        before = con.execute("select * from marts.release_escape_rate order by all").fetchall()

    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob(".w.duckdb.building*")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # well inside the build: ingest or dbt is writing the copy
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    with connect(warehouse, read_only=True) as con:  # the previous warehouse, whole
        assert con.execute("select * from marts.release_escape_rate order by all").fetchall() == before
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert not list(tmp_path.glob(".w.duckdb.building*"))  # the killed build's copy is cleaned up
    # and its own log, which only the killed process could have renamed
    assert sorted(p.name for p in tmp_path.iterdir() if "log" in p.name) == ["w.duckdb.build.log"]
    with connect(warehouse, read_only=True) as con:
        assert con.execute("select * from marts.release_escape_rate order by all").fetchall() == before
        # history survives rebuilds: the first build and the rerun, not the killed one
        assert con.execute("select count(distinct built_at) from history.metric_snapshots").fetchall() == [(2,)]


def _ui_env(warehouse, tmp_path, **extra):
    """What a run started from the Dagster UI, the schedule or the sensor sees: no run config,
    every setting from the environment."""
    env = dict(os.environ, DEFECTFLOW_WAREHOUSE=str(warehouse), DEFECTFLOW_EXPORTS=str(TINY),
               DEFECTFLOW_AS_OF=TINY_AS_OF, DEFECTFLOW_REPORTS=str(tmp_path / "r"),
               DAGSTER_HOME=str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir(exist_ok=True)
    env.update(extra)
    return env


def _dagster_run(env, log):
    """The weekly_build job as Dagster's own launcher runs it, in a process of its own
    (its event log goes to `log`: a pipe nobody reads would fill up and stall the run)."""
    command = [sys.executable, "-m", "dagster", "job", "execute", "-m", "pipelines.definitions", "-j", "weekly_build"]
    with log.open("w") as sink:
        return subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)


def _gate(warehouse) -> tuple[int, dict]:
    """The gate's exit code and verdict (without the warehouse's age, which grows by the second)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines", "gate", "--service", "pay", "--release", "1.1",
         "--environment", "production", "--warehouse", str(warehouse), "--json"],
        capture_output=True, text=True, timeout=120,
    )
    verdict = json.loads(proc.stdout)
    del verdict["age_hours"], verdict["warnings"]
    return proc.returncode, verdict


def _escape_rates(warehouse):
    with connect(warehouse, read_only=True) as con:
        return con.execute("select * from marts.release_escape_rate order by all").fetchall()


@pytest.mark.slow
def test_a_ui_run_killed_half_way_leaves_the_warehouse_and_gate_answers_during_it(tmp_path, tiny_build):
    warehouse = tmp_path / "w.duckdb"
    shutil.copyfile(tiny_build.warehouse, warehouse)
    before, gate_before = _escape_rates(warehouse), _gate(warehouse)
    assert gate_before[0] == 1  # HOLD: pay 1.0 needs an RCA (tests/test_gate_cli.py)

    proc = _dagster_run(_ui_env(warehouse, tmp_path), tmp_path / "run.log")
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob(".w.duckdb.building*")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert list(tmp_path.glob(".w.duckdb.building*")), "the run never made its build copy"
    time.sleep(5)  # inside the run: the ingest or dbt is writing the copy
    during = _gate(warehouse)  # a reader during the run: the previous warehouse, unlocked
    assert proc.poll() is None, "the run ended before the test could look inside it"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    assert during == gate_before
    assert _escape_rates(warehouse) == before  # the previous warehouse, whole
    assert _gate(warehouse) == gate_before


@pytest.mark.slow
def test_a_ui_run_publishes_on_success_and_a_failed_one_publishes_nothing(tmp_path, tiny_build):
    warehouse = tmp_path / "w.duckdb"
    shutil.copyfile(tiny_build.warehouse, warehouse)
    before = _escape_rates(warehouse)
    with connect(warehouse, read_only=True) as con:
        builds = con.execute("select count(distinct built_at) from history.metric_snapshots").fetchall()[0][0]

    bad_policy = tmp_path / "policy.yml"
    bad_policy.write_text("attribution_window_hours: soon\n")
    failed = _dagster_run(_ui_env(warehouse, tmp_path, DEFECTFLOW_POLICY=str(bad_policy)), tmp_path / "failed.log")
    assert failed.wait(timeout=600) != 0
    assert "attribution_window_hours" in (tmp_path / "failed.log").read_text()
    with connect(warehouse, read_only=True) as con:
        assert con.execute("select count(distinct built_at) from history.metric_snapshots").fetchall() == [(builds,)]
    assert not list(tmp_path.glob(".w.duckdb.building*"))

    ok = _dagster_run(_ui_env(warehouse, tmp_path), tmp_path / "ok.log")
    assert ok.wait(timeout=600) == 0, (tmp_path / "ok.log").read_text()[-3000:]
    assert _escape_rates(warehouse) == before  # same exports, same as-of: same numbers
    with connect(warehouse, read_only=True) as con:  # the run's history rows arrived with the swap
        assert con.execute("select count(distinct built_at) from history.metric_snapshots").fetchall() == [(builds + 1,)]
    assert not list(tmp_path.glob(".w.duckdb.building*"))


def _dbt_children_of(building: Path) -> list[int]:
    """`dbt run` processes writing this build copy (their profile reads its path from the environment)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if b"run" in command and any(part.endswith(b"/dbt") for part in command) \
                and f"DEFECTFLOW_WAREHOUSE={building}".encode() in environ:
            found.append(int(proc.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_dbt_writes_under_the_warehouse_folder_and_ends_with_a_killed_build(tmp_path, tiny_build):
    warehouse = tmp_path / "w.duckdb"
    shutil.copyfile(tiny_build.warehouse, warehouse)
    building = tmp_path / ".w.duckdb.building"
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "defectflow"), "build", "--exports", str(TINY), "--warehouse",
         str(warehouse), "--reports", str(tmp_path / "r"), "--as-of", TINY_AS_OF],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not (children := _dbt_children_of(building)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert children, "the build never started dbt"
        # dbt's target and log are the build copy's, not the installed project's
        assert (tmp_path / ".w.duckdb.building.files" / "dbt" / "run").is_dir()

        proc.kill()  # the CLI alone, as the out-of-memory killer would
        proc.wait()
        deadline = time.monotonic() + 5
        while _dbt_children_of(building) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _dbt_children_of(building) == []
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
