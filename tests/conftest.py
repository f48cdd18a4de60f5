from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pipelines.cli import BuildResult

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "fixtures" / "tiny"
TINY_AS_OF = "2026-03-31T00:00:00Z"
# The real third-party exports beside the repository (never edited, never copied in).
SAMPLES = ROOT.parent / "shared" / "samples"
# Real files of the formats added by issue 15, from other projects' test data: kept beside the
# samples, out of this repository's commits (tests skip without them).
FORMAT_SAMPLES = Path(os.environ.get("DEFECTFLOW_FORMAT_SAMPLES") or ROOT.parent / "shared" / "format_samples")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In a pytest-xdist worker (pyproject: `-n 2 --dist loadscope`): modules with slow tests first.

    A worker runs a module's tests together, so a module's build is made once; the modules with
    slow tests are handed out first, so that no long build starts while the other worker idles.
    """
    if not hasattr(config, "workerinput"):
        return
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


@contextlib.contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """Hold an exclusive lock on `lock` (shared by the xdist workers) for the block."""
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="session")
def tiny_build(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> BuildResult:
    """The tiny hand-computed fixture built for real: ingest, dbt, Dagster, report.

    Built once per session: under pytest-xdist the first worker that needs it builds it in the
    folder the workers share, and the other waits for it and reads what it recorded. Tests only
    read it (copy the warehouse to change it)."""
    from pipelines.cli import BuildResult, run_build

    shared = tmp_path_factory.getbasetemp()
    if hasattr(request.config, "workerinput"):
        shared = shared.parent  # each worker's base folder is inside the run's
    recorded = shared / "tiny-build.json"
    with _exclusive(shared / "tiny-build.lock"):
        if recorded.exists():
            fields = json.loads(recorded.read_text(encoding="utf-8"))
            return BuildResult(**{**fields, "warehouse": Path(fields["warehouse"]),
                                  "reports": [Path(p) for p in fields["reports"]]})
        out = shared / "tiny"
        out.mkdir()
        result = run_build(
            exports=TINY, warehouse=out / "w.duckdb", reports=out / "reports", policy=None, as_of_text=TINY_AS_OF
        )
        recorded.write_text(json.dumps(dataclasses.asdict(result), default=str), encoding="utf-8")
        return result


@dataclasses.dataclass(frozen=True)
class Modelled:
    """A warehouse ingested and modelled by dbt, and what its ingest reported."""

    warehouse: Path
    rejected_files: int
    quarantined_rows: int


def modelled_warehouse(exports: Path, out: Path, policy: Path | None, as_of_text: str,
                       git_repo: Path | None = None) -> Modelled:
    """What a build's ingest and `dbt run` leave in `out`/w.duckdb: every dbt model, none of the
    build's checks, reports or history. For tests of what the marts hold; a full build
    (`tiny_build`, tests/test_e2e_demo.py) costs several times as much and tests the build itself."""
    from pipelines.defs.ingest.loader import load_exports
    from pipelines.duplicates.evaluation import run_dbt
    from pipelines.policy import load_policy
    from pipelines.settings import parse_as_of
    from pipelines.warehouse import connect

    out.mkdir(parents=True, exist_ok=True)
    warehouse = out / "w.duckdb"
    with connect(warehouse) as con:
        summary = load_exports(con, exports, load_policy(policy), parse_as_of(as_of_text), git_repo=git_repo)
    try:
        run_dbt(warehouse, out / "dbt-target", [])
    except subprocess.CalledProcessError as failed:
        pytest.fail(f"dbt run failed on {exports}:\n{failed.stdout[-3000:]}")
    return Modelled(warehouse, len(summary.rejected_files), summary.rows_quarantined)


@pytest.fixture(scope="session")
def canonical_sample(tmp_path_factory) -> Path:
    """The demo sample's data as the six canonical CSVs (data/sample/ holds the vendor formats)."""
    from pipelines.synthetic import generate

    out = tmp_path_factory.mktemp("canonical-sample")
    generate(out, scale=1, seed=42)
    return out


@pytest.fixture(scope="module")
def chromium():
    """Headless Chromium for one test module (tests/browser.py): skipped without one, failed in CI."""
    from tests.browser import launch

    with launch() as browser:
        yield browser
