"""How a failed check reads, the same for a Great Expectations rule and a dbt test.

A check's `failures` metadata is what `defectflow build` prints and the Dagster UI
shows: one line per failed rule or test, then up to MAX_ROWS offending rows:

      [blocking] escape_rate in [0, 1]: expect_column_values_to_be_between(...): 1 of 115 rows
          service=pay, release=1.0, escape_rate=1.5
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

MAX_ROWS = 10  # offending rows reported per failed rule or test


def failure_lines(blocking: bool, rule: str, call: str, outcome: str,
                  rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """A failed rule: its level, name, what was called and how it came out, then its offending rows
    (the callers read at most MAX_ROWS)."""
    level = "blocking" if blocking else "warning"
    return [f"  [{level}] {rule}: {call}: {outcome}"] + ["      " + row_text(row) for row in rows]


def call_text(name: str, arguments: Mapping[str, Any]) -> str:
    """`name(key=value, ...)`, whitespace of multi-line values (SQL expressions) collapsed."""
    shown = (f"{key}={' '.join(value_text(value).split())}" for key, value in arguments.items())
    return f"{name}({', '.join(shown)})"


def rows_text(count: int) -> str:
    return f"{count} row{'' if count == 1 else 's'}"


def row_text(row: Mapping[str, Any]) -> str:
    return ", ".join(f"{column}={value_text(value)}" for column, value in row.items())


def value_text(value: Any) -> str:
    value = jsonable(value)
    return "NULL" if value is None else str(value)


def jsonable(value: Any) -> Any:
    """Metadata must be JSON: numpy scalars and decimals to Python numbers, missing values to None,
    instants to ISO text."""
    if isinstance(value, Mapping):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    if hasattr(value, "item") and not isinstance(value, (datetime, date)):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (datetime, date)):
        return None if str(value) == "NaT" else value.isoformat()
    if isinstance(value, Decimal):  # DuckDB DECIMAL; JSON numbers are floats
        value = float(value)
    if isinstance(value, (int, float)):
        return value
    return None if str(value) in ("<NA>", "NaT", "nan") else str(value)
