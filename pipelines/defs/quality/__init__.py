"""Data-quality checks: one layer per concern (docs/architecture.md, "Data quality: one check
layer per concern").

Great Expectations suites guard the raw tables before dbt runs, and the one mart a dbt test
cannot reach (`rules`: the GX machinery; `suites`: what is checked; `checks`: the Dagster asset
checks). The marts dbt builds are guarded by their dbt tests; `dbt_tests` reads the rows behind
a failed one, so its failure reads like a failed suite's (`failures`: that one format).
"""

from pipelines.defs.quality.checks import defs

__all__ = ["defs"]
