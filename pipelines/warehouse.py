"""One way to open the warehouse: DuckDB, UTC, and read-only for every reader."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import duckdb

from pipelines import progress

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WAREHOUSE = PROJECT_ROOT / "data" / "warehouse.duckdb"
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
WAREHOUSE_ENV = "DEFECTFLOW_WAREHOUSE"


def warehouse_path() -> Path:
    """The warehouse file: `DEFECTFLOW_WAREHOUSE` when set (as dbt's profile reads it), else the default."""
    return Path(os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE).resolve()


@contextmanager
def environment_variable(name: str, value: str) -> Iterator[None]:
    """Set an environment variable for the length of the block, then put it back."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


@contextmanager
def connect(path: Path | str, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse with TimeZone=UTC (DuckDB otherwise uses the machine's zone,
    and week truncation moves instants to the wrong week)."""
    path = Path(path)
    if read_only and not path.exists():
        raise FileNotFoundError(f"warehouse {path} does not exist: run `defectflow build` first")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        con.execute("set TimeZone = 'UTC'")
        yield con
    finally:
        con.close()


class WarehouseBusy(RuntimeError):
    """Another build holds the warehouse."""


def _sidecars(path: Path) -> list[Path]:
    return [path, path.with_name(path.name + ".wal")]


def building_path(warehouse: Path) -> Path:
    """Where a build of `warehouse` writes its copy. The same name every build (the lock makes it
    one build's at a time): dbt's profile holds the path, and dbt re-parses the whole project
    whenever the profile changes."""
    return warehouse.with_name(f".{warehouse.name}.building")


class BuildCopy:
    """The copy a build writes: `path` while it runs, `publish()` swaps it in."""

    def __init__(self, warehouse: Path, path: Path) -> None:
        self.warehouse = warehouse
        self.path = path

    def publish(self) -> None:
        with progress.stage("warehouse swap"):
            with duckdb.connect(str(self.path)) as con:
                con.execute("checkpoint")  # everything in the main file: no WAL travels with the swap
            # an old WAL replayed against the new file would corrupt it
            self.warehouse.with_name(self.warehouse.name + ".wal").unlink(missing_ok=True)
            os.replace(self.path, self.warehouse)


def _lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


def _take_lock(warehouse: Path) -> TextIO:
    """The open lock file, holding the single-writer lock until it is closed; WarehouseBusy,
    naming the holder, while another build holds it."""
    lock = _lock_path(warehouse).open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown process"
        lock.close()
        raise WarehouseBusy(
            f"another build is writing {warehouse} ({holder}); wait for it to finish and run again"
        ) from None
    return lock


def refuse_if_busy(warehouse: Path) -> None:
    """WarehouseBusy now if another build holds the warehouse, so a build that will be refused
    says so before it parses the dbt project. Only a fail-fast: `build_copy` takes the lock."""
    if _lock_path(warehouse).exists():
        _take_lock(warehouse).close()


@contextmanager
def build_copy(warehouse: Path) -> Iterator[BuildCopy]:
    """Hold the single-writer lock and a copy of the warehouse to build into.

    One build at a time: an exclusive lock on `<warehouse>.lock`, which the
    operating system releases when the process dies, so a killed build never
    leaves a stale lock. The build writes the copy; the previous warehouse is
    replaced only by `publish()`, so a build that fails or is killed leaves it
    untouched and readers keep reading it throughout. The copy is removed on
    the way out, and a killed build's leftover copy by the next build.
    """
    with writer_lock(warehouse):
        # A killed build's copy (older releases named it after the pid) is stale: start afresh.
        for leftover in warehouse.parent.glob(f".{warehouse.name}.building*"):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover)  # DuckDB's spill folder (`<copy>.tmp`), left by a killed build
            else:
                leftover.unlink(missing_ok=True)
        building = building_path(warehouse)
        with progress.stage("warehouse copy"):
            for source, target in zip(_sidecars(warehouse), _sidecars(building)):
                if source.exists():
                    shutil.copyfile(source, target)
        try:
            yield BuildCopy(warehouse, building)
        finally:
            for path in _sidecars(building):
                path.unlink(missing_ok=True)


@contextmanager
def writer_lock(warehouse: Path, holder: str = "") -> Iterator[None]:
    """Hold the single-writer lock (WarehouseBusy while another process holds it).

    Anything that writes the warehouse in place (not through a build's copy)
    must hold it too: a build that started earlier would otherwise swap in its
    copy, taken before the write, and the write would be lost.
    """
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    lock = _take_lock(warehouse)
    try:
        lock.seek(0)
        lock.truncate()
        lock.write(f"{holder}pid {os.getpid()}, started {datetime.now(UTC).isoformat(timespec='seconds')}")
        lock.flush()
        yield
    finally:
        lock.close()
