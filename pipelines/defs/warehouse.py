"""The warehouse as a Dagster resource, so every run is crash-safe whatever starts it.

The CLI, the Dagster UI, the schedule and the exports sensor all run the same
job with this resource. For the length of a run it holds the single-writer lock
and a copy of the DuckDB file; every step reads and writes the copy, and the
copy replaces the warehouse only when no step failed. A failed, cancelled or
killed run leaves the previous warehouse as it was, and readers (`gate`, the
reports, notebooks) keep reading it during the run (docs/architecture.md,
"How a build runs").
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from pipelines.warehouse import WAREHOUSE_ENV, BuildCopy, build_copy, connect, environment_variable, warehouse_path

# A run that reached one of these was stopped from outside: its copy is not published.
_STOPPED = {dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.CANCELED, dg.DagsterRunStatus.FAILURE}


class Warehouse(dg.ConfigurableResource):
    """The DuckDB warehouse file: `path`, else `DEFECTFLOW_WAREHOUSE`, else data/warehouse.duckdb."""

    path: str = ""
    _copy: BuildCopy | None = PrivateAttr(default=None)

    def live_file(self) -> Path:
        """The published warehouse, the one readers open."""
        return Path(self.path).resolve() if self.path else warehouse_path()

    @property
    def file(self) -> Path:
        """The file steps read and write: this run's copy."""
        return self._build_copy().path

    def _build_copy(self) -> BuildCopy:
        if self._copy is None:
            raise RuntimeError("the warehouse is written only inside a run (it holds the build copy)")
        return self._copy

    @property
    def work_dir(self) -> Path:
        """This run's own folder (dbt's target and logs), removed with the copy."""
        return self._build_copy().work

    def staged_reports(self, final: Path) -> Path:
        """Where this run renders the reports bound for `final`; published with the warehouse."""
        return self._build_copy().staged_reports(final)

    def published_path(self, staged_file: Path) -> Path:
        return self._build_copy().published_path(staged_file)

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(self.file, read_only=read_only) as con:
            yield con

    def dbt_environment(self) -> contextlib.AbstractContextManager[None]:
        """dbt's profile reads the warehouse path from DEFECTFLOW_WAREHOUSE: point it at the copy
        while dbt runs."""
        return environment_variable(WAREHOUSE_ENV, str(self.file))

    @contextlib.contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[Warehouse]:
        if context.run is not None and context.run.is_finished:
            # `dagster job execute` initialises resources once more after the run, to load
            # outputs; there is nothing to build then, and a copy of a large warehouse costs.
            yield self
            return
        with build_copy(self.live_file()) as copy:
            self._copy = copy
            try:
                yield self
            finally:
                self._copy = None
            # Reached only when the run's steps finished without raising through the resource;
            # a step failure is caught by Dagster, so ask the run's own event log.
            if run_succeeded(context):
                copy.publish()


def run_succeeded(context: dg.InitResourceContext) -> bool:
    """No step of this run failed (a failed blocking check is a failed step) and nobody stopped it."""
    instance, current = context.instance, context.run
    if instance is None or current is None:  # built outside a run (build_resources in a test)
        return True
    run_id = current.run_id
    run = instance.get_run_by_id(run_id)
    if run is not None and run.status in _STOPPED:
        return False
    failures = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    return not failures


defs = dg.Definitions(resources={"warehouse": Warehouse()})
