"""Deterministic synthetic exports for the demo, the tests and the benchmarks.

`generate` writes the six canonical CSVs (canonical.py); `generate_vendor`
writes the same data in the tools' own formats (formats/). The entities are
numpy tables, built one module each: organisation (services, teams, people),
delivery (releases, deployments), defects, stack_traces, incidents and commits;
defect_rows and status_history write the defects as text. timeline holds the
sample window and as-of, codes the codes entities are drawn as and their raw
names, arrays the numpy helpers.
"""

from pipelines.synthetic.canonical import FILE_COLUMNS, generate
from pipelines.synthetic.formats import generate_vendor
from pipelines.synthetic.timeline import SAMPLE_AS_OF

__all__ = ["FILE_COLUMNS", "SAMPLE_AS_OF", "generate", "generate_vendor"]
