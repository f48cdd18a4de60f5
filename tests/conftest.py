from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "fixtures" / "tiny"
TINY_AS_OF = "2026-03-31T00:00:00Z"
# The real third-party exports beside the repository (never edited, never copied in).
SAMPLES = ROOT.parent / "shared" / "samples"


@pytest.fixture(scope="session")
def tiny_build(tmp_path_factory):
    """The tiny hand-computed fixture built for real: ingest, dbt, Dagster, report."""
    from pipelines.cli import run_build

    out = tmp_path_factory.mktemp("tiny")
    result = run_build(
        exports=TINY, warehouse=out / "w.duckdb", reports=out / "reports", policy=None, as_of_text=TINY_AS_OF
    )
    return result


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
