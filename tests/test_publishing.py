"""A build that does not succeed publishes nothing (issue 18) and a full or read-only disk is one
line (issue 16): each case asserts the exit code, the message, and that the previous warehouse
and reports are untouched.

The disk cases mount a small tmpfs (root with CAP_SYS_ADMIN, as in CI); elsewhere they skip.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pipelines.cli import BuildFailed, run_build
from pipelines.warehouse import connect
from tests.conftest import TINY, TINY_AS_OF

TINY_DEFECTS = 11  # rows tests/fixtures/tiny/defects.csv loads (tests/test_hostile_inputs.py)
OLD_INDEX = "<p>the last good build's index</p>"

pytestmark = pytest.mark.slow


def _cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "defectflow"), *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def _defects(warehouse: Path) -> int:
    with connect(warehouse, read_only=True) as con:
        return con.execute("select count(*) from raw.defects").fetchone()[0]


def _published(tmp: Path, tiny_build, folder: Path | None = None) -> tuple[Path, Path]:
    """A warehouse of the tiny build and a reports folder holding its index, as a last good build left them."""
    folder = folder or tmp
    warehouse = folder / "w.duckdb"
    shutil.copyfile(tiny_build.warehouse, warehouse)
    reports = tmp / "reports"
    (reports / "2026-03-31").mkdir(parents=True)
    (reports / "2026-03-31" / "index.html").write_text(OLD_INDEX, encoding="utf-8")
    return warehouse, reports


def _reports_untouched(reports: Path) -> None:
    assert [p.relative_to(reports).as_posix() for p in sorted(reports.rglob("*"))] == ["2026-03-31",
                                                                                       "2026-03-31/index.html"]
    assert (reports / "2026-03-31" / "index.html").read_text(encoding="utf-8") == OLD_INDEX


def _no_leftovers(folder: Path) -> None:
    assert not list(folder.glob(".w.duckdb.building*"))  # the copy and its folder (dbt, staged reports)


# --- zero rows from a folder that held data ---------------------------------------------------------


@pytest.fixture(scope="module")
def emptied(tmp_path_factory, tiny_build):
    """The last good build's warehouse, then exports whose only file is rejected: refused; then the
    same with --allow-empty: published."""
    tmp = tmp_path_factory.mktemp("emptied")
    warehouse, reports = _published(tmp, tiny_build)
    exports = tmp / "exports"
    exports.mkdir()
    (exports / "defects.csv").write_text("colour,shape\nred,round\n", encoding="utf-8")
    build = ["build", "--exports", str(exports), "--warehouse", str(warehouse), "--reports", str(reports),
             "--as-of", TINY_AS_OF]
    refused = _cli(*build)
    after_refusal = _defects(warehouse)
    reports_after_refusal = sorted(p.relative_to(reports).as_posix() for p in reports.rglob("*"))
    allowed = _cli(*build, "--allow-empty")
    return {"tmp": tmp, "warehouse": warehouse, "reports": reports, "refused": refused,
            "after_refusal": after_refusal, "reports_after_refusal": reports_after_refusal, "allowed": allowed}


def test_zero_rows_from_exports_that_held_data_keep_the_warehouse_and_reports(emptied, tiny_build):
    refused = emptied["refused"]
    with connect(tiny_build.warehouse, read_only=True) as con:
        [(gone,)] = con.execute("select count(*) from raw.ingested_files").fetchall()  # the tiny build's files
    assert refused.returncode == 2
    assert "check rows_loaded_from_exports failed on raw/load_report\n" \
           "  0 rows loaded from 1 export file(s): 1 rejected, 0 row(s) quarantined, " \
           f"{gone} file(s) of the last build gone from the folder\n" in refused.stderr
    assert "  the previous warehouse and reports are kept; fix the exports or the policy, or build with " \
           "--allow-empty to publish an empty warehouse" in refused.stderr
    assert "Traceback" not in refused.stdout + refused.stderr
    assert emptied["after_refusal"] == TINY_DEFECTS
    assert emptied["reports_after_refusal"] == ["2026-03-31", "2026-03-31/index.html"]
    _no_leftovers(emptied["tmp"])


def test_allow_empty_publishes_the_empty_build(emptied):
    allowed, reports = emptied["allowed"], emptied["reports"]
    assert allowed.returncode == 3, allowed.stderr[-3000:]  # built, with a rejected file
    assert _defects(emptied["warehouse"]) == 0
    assert (reports / "2026-03-31" / "index.html").read_text(encoding="utf-8") != OLD_INDEX  # this build's
    assert f"Report: {reports / '2026-03-31' / 'index.html'}" in allowed.stdout


# --- the swap fails ----------------------------------------------------------------------------------


def test_a_failed_swap_publishes_no_report(tmp_path, tiny_build, monkeypatch):
    warehouse, reports = _published(tmp_path, tiny_build)
    replace = os.replace

    def refuse_the_warehouse(source, target):  # as an immutable file or a vanished mount would
        if Path(target) == warehouse:
            raise OSError(errno.EPERM, "Operation not permitted", str(target))
        return replace(source, target)

    monkeypatch.setattr(os, "replace", refuse_the_warehouse)
    with pytest.raises(BuildFailed) as failed:
        run_build(exports=TINY, warehouse=warehouse, reports=reports, policy=None, as_of_text=TINY_AS_OF)

    assert str(failed.value) == (f"the build could not replace {warehouse} (Operation not permitted): "
                                 "the previous warehouse and reports are kept")
    _reports_untouched(reports)
    assert _defects(warehouse) == TINY_DEFECTS
    _no_leftovers(tmp_path)


# --- a full or read-only disk --------------------------------------------------------------------------


@contextmanager
def _tmpfs(folder: Path, size_kb: int) -> Iterator[Path]:
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(folder)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _build_into(warehouse: Path, reports: Path) -> subprocess.CompletedProcess[str]:
    return _cli("build", "--exports", str(TINY), "--warehouse", str(warehouse), "--reports", str(reports),
                "--as-of", TINY_AS_OF)


def test_no_room_for_the_build_copy_is_one_line_and_keeps_everything(tmp_path, tiny_build):
    size = tiny_build.warehouse.stat().st_size
    with _tmpfs(tmp_path / "disk", size // 1024 + 1024) as disk:  # the warehouse and 1 MB
        warehouse, reports = _published(tmp_path, tiny_build, folder=disk)

        done = _build_into(warehouse, reports)

        assert done.returncode == 2
        assert done.stderr.strip().splitlines()[-1] == (
            f"error: cannot copy {warehouse} to build into: No space left on device (the copy needs "
            f"{size / 1e6:.1f} MB in {disk}); free space there or name another --warehouse")
        assert "Traceback" not in done.stdout + done.stderr
        assert _defects(warehouse) == TINY_DEFECTS
        _reports_untouched(reports)
        _no_leftovers(disk)


def test_a_disk_filling_during_the_build_is_one_line_and_keeps_everything(tmp_path, tiny_build):
    size = tiny_build.warehouse.stat().st_size
    with _tmpfs(tmp_path / "disk", 2 * size // 1024 + 2048) as disk:  # room for the copy, not for the build
        warehouse, reports = _published(tmp_path, tiny_build, folder=disk)

        done = _build_into(warehouse, reports)

        assert done.returncode == 2
        assert (f"failed: no space left on device: free space in {disk} (the build copy and dbt's files are "
                "written there) or name another --warehouse.") in done.stderr
        assert "Traceback" not in done.stdout + done.stderr
        assert _defects(warehouse) == TINY_DEFECTS
        _reports_untouched(reports)
        _no_leftovers(disk)


def test_a_read_only_folder_is_one_line_and_gate_still_reads_the_warehouse(tmp_path, tiny_build):
    with _tmpfs(tmp_path / "disk", 60 * 1024) as disk:
        shutil.copyfile(tiny_build.warehouse, disk / "w.duckdb")
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)

        build = _build_into(disk / "w.duckdb", tmp_path / "reports")
        reports_ro = _build_into(tmp_path / "w.duckdb", disk / "reports")
        gate = _cli("gate", "--warehouse", str(disk / "w.duckdb"), "--service", "pay", "--release", "1.0",
                    "--environment", "production", timeout=120)

    for done in (build, reports_ro):
        assert (done.returncode, done.stderr.strip()) == (2, f"error: cannot write to {disk}: read-only file system")
    assert not (tmp_path / "reports").exists() and not (tmp_path / "w.duckdb").exists()
    # the tiny fixture's verdict for pay 1.0 (tests/test_gate_cli.py): HOLD on D4
    assert gate.returncode == 1, gate.stderr
    assert "BLOCKING_SEVERITY_OPEN" in gate.stdout
