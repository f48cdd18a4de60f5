"""Sources only in staging (jaffle-shop's rule; docs/architecture.md, Layers): a model outside
`models/staging/` reads other models through `ref()`, never a raw table through `source()`.

Reads the .sql files; no build, no dbt parse.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import ROOT

MODELS = ROOT / "dbt_project" / "models"
# A `-- depends_on: {{ source(...) }}` comment is a dependency too, so comments are not skipped.
SOURCE_CALL = re.compile(r"\bsource\s*\(")


def source_call_lines(path: Path) -> list[int]:
    """The line numbers of `path` that call dbt's `source()`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [number for number, line in enumerate(lines, 1) if SOURCE_CALL.search(line)]


def sources_outside_staging(models: Path = MODELS) -> list[str]:
    """`file:line` for every `source()` call in a model that is not a staging model."""
    return [
        f"{path.relative_to(models)}:{number}"
        for path in sorted(models.rglob("*.sql"))
        if path.relative_to(models).parts[0] != "staging"
        for number in source_call_lines(path)
    ]


def test_only_staging_models_read_sources():
    assert sources_outside_staging() == []


def test_the_scan_finds_source_calls(tmp_path):
    (tmp_path / "staging").mkdir()
    (tmp_path / "marts").mkdir()
    (tmp_path / "staging" / "stg_a.sql").write_text("select * from {{ source('raw', 'a') }}\n")
    (tmp_path / "marts" / "m.sql").write_text(
        "with a as (\n    select * from {{ ref('stg_a') }}\n),\n"
        "b as (\n    select * from {{ source ('raw', 'b') }}\n)\nselect * from a\n"
    )
    assert sources_outside_staging(tmp_path) == ["marts/m.sql:5"]
