import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "fixtures" / "tiny"
TINY_AS_OF = "2026-03-31T00:00:00Z"
# The real third-party exports beside the repository (never edited, never copied in).
SAMPLES = ROOT.parent / "shared" / "samples"
TINY_BUILD_GROUP = "tiny_build"


def _xdist_group(item: pytest.Item) -> str:
    return TINY_BUILD_GROUP if "tiny_build" in getattr(item, "fixturenames", ()) else item.nodeid.split("::")[0]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """How pytest-xdist shares the suite between its workers (pyproject: `-n 2 --dist loadgroup`).

    A worker runs whole groups: a module's tests stay together, so a module's build is made
    once, and every test of the tiny build, whatever its module, is in one group, so the
    session's tiny build is made once too. Groups with slow tests are handed out first, the
    tiny build's first of all, so that no long build starts while the other worker is idle.
    """
    if config.getoption("dist", "no") == "no":
        return
    slow = {_xdist_group(item) for item in items if item.get_closest_marker("slow")}
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_xdist_group(item)))
    items.sort(key=lambda item: (_xdist_group(item) != TINY_BUILD_GROUP, _xdist_group(item) not in slow))


@pytest.fixture(scope="session")
def tiny_build(tmp_path_factory):
    """The tiny hand-computed fixture built for real: ingest, dbt, Dagster, report."""
    from pipelines.cli import run_build

    out = tmp_path_factory.mktemp("tiny")
    result = run_build(
        exports=TINY, warehouse=out / "w.duckdb", reports=out / "reports", policy=None, as_of_text=TINY_AS_OF
    )
    return result


@dataclass(frozen=True)
class Modelled:
    """A warehouse ingested and modelled by dbt, and what its ingest reported."""

    warehouse: Path
    rejected_files: int
    quarantined_rows: int


def modelled_warehouse(exports: Path, out: Path, policy: Path | None, as_of_text: str) -> Modelled:
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
        summary = load_exports(con, exports, load_policy(policy), parse_as_of(as_of_text))
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
