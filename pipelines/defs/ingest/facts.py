"""The tables where adapters state what a file says for the build-wide judgements (`crossfile.py`).

Kept apart from the judgements so that adapters, which state the facts, and the
manifest, which keeps and forgets them per file, need nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FactTable:
    name: str  # raw.<name>, beside source_file
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type)


# A Jira search page: its folder and `total` identify the search (docs/contract.md, paged exports).
JIRA_PAGES = FactTable("jira_pages", (("folder", "varchar"), ("start_at", "bigint"), ("issues", "bigint"),
                                      ("total", "bigint")))
# How often a file's status objects give a status name a statusCategory key.
JIRA_STATUS_CATEGORIES = FactTable("jira_status_categories", (("status", "varchar"), ("status_category", "varchar"),
                                                              ("seen", "bigint")))
FACTS: dict[str, FactTable] = {table.name: table for table in (JIRA_PAGES, JIRA_STATUS_CATEGORIES)}


def create_sql() -> str:
    # SQL text: table and column names from the fixed FACTS list.
    return "".join(
        "create or replace table raw." + table.name + " (source_file varchar, "
        + ", ".join(f"{name} {sql_type}" for name, sql_type in table.columns) + ");\n"
        for table in FACTS.values()
    )
