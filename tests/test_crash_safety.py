"""A failed or killed build leaves the previous warehouse usable; two builds never write one file."""

import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from pipelines.warehouse import WarehouseBusy, connect, exclusive_build
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
    with exclusive_build(warehouse) as building:
        assert building != warehouse and _marker(building) == "old"  # starts from the previous warehouse
        _write_marker(building, "new")
        assert _marker(warehouse) == "old"  # readers see the old one until the swap
    assert _marker(warehouse) == "new"
    assert not list(tmp_path.glob(".w.duckdb.building-*"))


def test_a_failed_build_leaves_the_previous_warehouse(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    _write_marker(warehouse, "old")
    with pytest.raises(RuntimeError, match="boom"):
        with exclusive_build(warehouse) as building:
            _write_marker(building, "half-built")
            raise RuntimeError("boom")
    assert _marker(warehouse) == "old"
    assert not list(tmp_path.glob(".w.duckdb.building-*"))


def test_a_second_build_is_refused_with_a_clear_message(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    with exclusive_build(warehouse):
        with pytest.raises(WarehouseBusy, match=r"another build is writing .*w\.duckdb \(pid \d+, started"):
            with exclusive_build(warehouse):
                pass
    with exclusive_build(warehouse):  # released when the first build ends
        pass


@pytest.mark.slow
def test_second_cli_build_exits_2_while_one_runs(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    with exclusive_build(warehouse):
        proc = subprocess.run(
            [sys.executable, "-m", "pipelines", "build", "--exports", str(TINY), "--warehouse", str(warehouse),
             "--reports", str(tmp_path / "r"), "--as-of", TINY_AS_OF],
            capture_output=True, text=True, timeout=600,
        )
    assert proc.returncode == 2
    assert "another build is writing" in proc.stderr


@pytest.mark.slow
def test_a_killed_build_leaves_the_warehouse_usable_and_the_next_build_completes(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    command = [sys.executable, "-m", "pipelines", "build", "--exports", str(TINY), "--warehouse", str(warehouse),
               "--reports", str(tmp_path / "r"), "--as-of", TINY_AS_OF]
    assert subprocess.run(command, capture_output=True, timeout=600).returncode == 0
    with connect(warehouse, read_only=True) as con:
        before = con.execute("select * from marts.release_escape_rate order by all").fetchall()

    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob(".w.duckdb.building-*")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # well inside the build: ingest or dbt is writing the copy
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    with connect(warehouse, read_only=True) as con:  # the previous warehouse, whole
        assert con.execute("select * from marts.release_escape_rate order by all").fetchall() == before
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert not list(tmp_path.glob(".w.duckdb.building-*"))  # the killed build's copy is cleaned up
    with connect(warehouse, read_only=True) as con:
        assert con.execute("select * from marts.release_escape_rate order by all").fetchall() == before
        # history survives rebuilds: the first build and the rerun, not the killed one
        assert con.execute("select count(distinct built_at) from history.metric_snapshots").fetchall() == [(2,)]
