"""The Great Expectations suites: the raw tables before dbt runs, and the one mart dbt cannot test.

The public marts dbt builds are guarded by their dbt tests (dbt_project/models/marts/_marts__*.yml)
and by nothing else: a second layer asserting the same keys and ranges would only repeat them
(docs/architecture.md, "Data quality: one check layer per concern").
"""

from __future__ import annotations

from datetime import datetime

from pipelines.defs.ingest.canonical import ENTITIES, Entity
from pipelines.defs.ingest.rules import EARLIEST, LATEST
from pipelines.defs.quality.rules import Suite, between, in_range, non_negative, not_before, not_null, rate, suite


def raw_suite(entity: Entity) -> Suite:
    """What ingest guarantees for every loaded row (docs/contract.md, "Bad input"): a broken row
    goes to raw.quarantine, so a failure here is an ingest bug and stops the build before dbt.
    No uniqueness: raw may hold a key twice across files (staging keeps the newest)."""
    stamps = [c.name for c in entity.columns if c.type == "timestamp"]
    earliest, latest = datetime.fromisoformat(EARLIEST), datetime.fromisoformat(LATEST)
    return suite(
        f"raw.{entity.name}", (*entity.key, "source_file", "source_row"),
        not_null(*entity.required, "source_file", "source_row"),
        non_negative(*entity.non_negative),
        *(not_before(later, earlier) for later, earlier in entity.ordered),
        *(in_range(name, earliest, latest) for name in stamps),
        unique_key=False, chunked=True,
        description=f"Ingest's guarantees for raw.{entity.name}: required columns, counts, time order.",
    )


RAW_SUITES = [raw_suite(entity) for entity in ENTITIES.values()]

MART_SUITES = [
    suite("marts.deploy_recurrence_correlation", ("service",),
          not_null("service", "n_weeks", "method"), non_negative("n_weeks"), rate("p_value"),
          between("rho", -1, 1),
          description="A Python asset (scipy) writes this mart after `dbt build` has finished, "
                      "so no dbt test can run on it."),
]

SUITES = RAW_SUITES + MART_SUITES
