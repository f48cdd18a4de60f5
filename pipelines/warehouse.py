"""One way to open the warehouse: DuckDB, UTC, and read-only for every reader."""

from __future__ import annotations

import errno
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


def work_path(warehouse: Path) -> Path:
    """The build copy's own folder: dbt's target and logs, the reports until they are published.
    Beside the copy (its name starts like it, so a killed build's folder goes with its copy)."""
    return warehouse.with_name(f".{warehouse.name}.building.files")


class BuildCopy:
    """The copy a build writes: `path` while it runs, `publish()` swaps it in with its reports."""

    def __init__(self, warehouse: Path, path: Path) -> None:
        self.warehouse = warehouse
        self.path = path
        self.work = work_path(warehouse)
        self._reports: dict[Path, Path] = {}  # staged folder -> where its files are published

    def staged_reports(self, final: Path) -> Path:
        """Where the build renders the reports bound for `final`: they reach it only with the swap,
        so a build that fails (or whose swap fails) publishes no report."""
        staged = self.work / "reports"
        self._reports[staged] = final
        return staged

    def published_path(self, staged_file: Path) -> Path:
        """Where a staged report will be once published."""
        for staged, final in self._reports.items():
            if staged_file.is_relative_to(staged):
                return final / staged_file.relative_to(staged)
        raise ValueError(f"{staged_file} is not a staged report")

    def publish(self) -> None:
        """Swap the copy in, then move its reports into place. The warehouse it replaces becomes
        `<name>.previous`, the way back should the new file be damaged later (a full disk, a
        truncating copy)."""
        with progress.stage("warehouse swap"):
            try:
                with duckdb.connect(str(self.path)) as con:
                    con.execute("checkpoint")  # everything in the main file: no WAL travels with the swap
                if self.warehouse.exists():
                    _keep_previous(self.warehouse)
                # an old WAL replayed against the new file would corrupt it
                self.warehouse.with_name(self.warehouse.name + ".wal").unlink(missing_ok=True)
                os.replace(self.path, self.warehouse)
            except (OSError, duckdb.Error) as exc:
                raise PublishFailed(f"the build could not replace {self.warehouse} ({_reason(exc)}): "
                                    "the previous warehouse and reports are kept") from None
            for staged, final in self._reports.items():
                try:
                    _move_files(staged, final)
                except OSError as exc:
                    raise PublishFailed(f"the warehouse {self.warehouse} was published, but its reports could "
                                        f"not be moved into {final} ({_reason(exc)})") from None


class WarehouseUnwritable(RuntimeError):
    """The build cannot write its copy of the warehouse (a full disk, a read-only folder)."""


def _size(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.1f} MB"


class PublishFailed(RuntimeError):
    """A build that finished could not put its warehouse or reports in place."""


def _reason(exc: BaseException) -> str:
    """An OS or DuckDB error as the user reads it: `No space left on device`, not its repr."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _move_files(source: Path, target: Path) -> None:
    """Every file under `source` to the same place under `target`, each replaced whole: a reader
    never sees half a report. By rename; across file systems by a copy renamed into place."""
    for path in sorted(source.rglob("*")):
        if path.is_dir():
            continue
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(path, destination)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            partial = destination.with_name(f".{destination.name}.partial")
            shutil.copyfile(path, partial)
            os.replace(partial, destination)


def _keep_previous(warehouse: Path) -> None:
    """A second name for the current file, taken by rename, so readers never find the warehouse
    missing and a crash half-way leaves the last `.previous` whole."""
    staged = warehouse.with_name(f".{warehouse.name}.previous")
    staged.unlink(missing_ok=True)
    try:
        os.link(warehouse, staged)  # no copy: the swap leaves the old file to this name alone
    except OSError:  # a file system without hard links
        shutil.copyfile(warehouse, staged)
    os.replace(staged, previous_path(warehouse))


class WarehouseDamaged(RuntimeError):
    """The warehouse file exists but DuckDB cannot read it."""


def unreadable_reason(path: Path) -> str | None:
    """Why DuckDB cannot read the file (the first line of its error), or None when it can.

    Another process's lock is not damage: the caller reports that as busy."""
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            con.execute("select count(*) from duckdb_tables()").fetchall()
    except duckdb.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None if "Could not set lock" in reason else reason[:200]
    return None


def damaged_message(warehouse: Path, reason: str) -> str:
    """The one line a command prints on an unreadable warehouse: what happened, what is kept, what to run."""
    previous = previous_path(warehouse)
    kept = (f"the previous good copy is kept at {previous}; run `defectflow build --recover` to restore it "
            "and build again" if previous.exists() else
            "no previous copy is kept; run `defectflow build --recover` to set it aside and rebuild from the exports")
    return f"warehouse {warehouse} cannot be read ({reason}): {kept}"


def check_readable(warehouse: Path) -> None:
    """WarehouseDamaged, saying what to do, when the warehouse exists and cannot be read."""
    reason = unreadable_reason(warehouse) if warehouse.is_file() else None
    if reason is not None:
        raise WarehouseDamaged(damaged_message(warehouse, reason))


def recover(warehouse: Path) -> str:
    """Put a readable warehouse back in place of a damaged one; what was done, in one line.

    The damaged file is kept aside as `<name>.damaged` (for a post-mortem); the
    previous good copy, when readable, takes its place (and stays kept); without
    one the build starts from an empty warehouse and reads every export again."""
    with writer_lock(warehouse, holder="recover: "):
        reason = unreadable_reason(warehouse) if warehouse.is_file() else None
        if reason is None:
            return f"warehouse {warehouse} is readable: nothing to recover"
        damaged = damaged_path(warehouse)
        os.replace(warehouse, damaged)
        warehouse.with_name(warehouse.name + ".wal").unlink(missing_ok=True)
        previous = previous_path(warehouse)
        if previous.is_file() and unreadable_reason(previous) is None:
            staged = building_path(warehouse)
            shutil.copyfile(previous, staged)
            os.replace(staged, warehouse)
            return f"restored {warehouse} from {previous} (the damaged file is kept at {damaged})"
        return f"no readable previous copy: rebuilding {warehouse} from the exports (the damaged file is at {damaged})"


def previous_path(warehouse: Path) -> Path:
    """The warehouse the last swap replaced: one generation kept, the way back from a damaged file."""
    return warehouse.with_name(warehouse.name + ".previous")


def damaged_path(warehouse: Path) -> Path:
    """Where `recover` sets an unreadable warehouse aside."""
    return warehouse.with_name(warehouse.name + ".damaged")


def own_files(warehouse: Path) -> list[Path]:
    """Every file a build writes beside the warehouse; an exports folder holding them must not read them."""
    return [*_sidecars(warehouse), *_sidecars(building_path(warehouse)), previous_path(warehouse),
            damaged_path(warehouse), _lock_path(warehouse), warehouse.with_name(warehouse.name + ".build.log")]


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
        check_readable(warehouse)  # a damaged file copied would fail a step with DuckDB's bare error
        # A killed build's copy (older releases named it after the pid) is stale: start afresh.
        for leftover in warehouse.parent.glob(f".{warehouse.name}.building*"):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover)  # DuckDB's spill folder (`<copy>.tmp`), left by a killed build
            else:
                leftover.unlink(missing_ok=True)
        building = building_path(warehouse)
        copy = BuildCopy(warehouse, building)
        try:
            with progress.stage("warehouse copy"):
                try:
                    for source, target in zip(_sidecars(warehouse), _sidecars(building)):
                        if source.exists():
                            shutil.copyfile(source, target)
                    copy.work.mkdir()
                except OSError as exc:
                    need = sum(path.stat().st_size for path in _sidecars(warehouse) if path.exists())
                    raise WarehouseUnwritable(f"cannot copy {warehouse} to build into: {_reason(exc)} (the copy "
                                              f"needs {_size(need)} in {warehouse.parent}); free space there or "
                                              "name another --warehouse") from None
            yield copy
        finally:
            for path in _sidecars(building):
                path.unlink(missing_ok=True)
            shutil.rmtree(copy.work, ignore_errors=True)


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
