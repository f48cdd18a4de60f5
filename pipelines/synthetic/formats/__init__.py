"""The synthetic data as the tools export it: Jira REST JSON, PagerDuty JSON, JUnit and Cobertura XML.

`generate_vendor` writes the canonical CSVs and converts them; each module
here writes one tool's format from the canonical tables (read as text).
"""

from __future__ import annotations

import pathlib

import pandas as pd

from pipelines.synthetic.canonical import FILE_COLUMNS, generate
from pipelines.synthetic.formats import ci, jira, pagerduty

# Canonical files the vendor formats replace: each is written by the tool that really exports it.
VENDOR_REPLACES = ("defects.csv", "defect_status_history.csv", "incidents.csv")


def generate_vendor(out_dir: pathlib.Path, scale: float = 1.0, seed: int = 42,
                    tests_per_file: tuple[int, int] = ci.TESTS_PER_FILE) -> dict[str, int]:
    """The same data as `generate`, as the tools export it: Jira search JSON with changelog
    (defects, status history), PagerDuty incidents JSON, JUnit and Cobertura XML from CI,
    and canonical CSVs for what has no vendor writer (deployments, releases, commits).
    `tests_per_file`: the range of tests per source file in the JUnit reports.

    Built from the canonical files, so a build of either folder gives the same marts.
    """
    ci.check_tests_per_file(tests_per_file)
    out_dir = pathlib.Path(out_dir)
    counts = generate(out_dir, scale=scale, seed=seed)
    frames = {
        name.removesuffix(".csv"): pd.read_csv(out_dir / name, dtype=str, keep_default_na=False)
        for name in FILE_COLUMNS
    }
    written = {name: rows for name, rows in counts.items() if name not in VENDOR_REPLACES}
    for writer in (jira, pagerduty):
        written.update(writer.write(frames, out_dir))
    written.update(ci.write(frames, out_dir, tests_per_file))
    for name in VENDOR_REPLACES:
        (out_dir / name).unlink()
    return written
