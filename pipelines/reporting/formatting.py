"""Warehouse values as display text: NULL-safe coercion and the ``fmt_*`` formatters.

Shared by the queries, the charts and the HTML fragments. Nothing here is
HTML: text is escaped where it enters a page (``fragments``) or a chart
(``charts``). A NULL is shown as ``n/a`` (or a plain explanation), never as
a zero.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pandas as pd

NOT_AVAILABLE = "n/a"


def fmt_pct(value: float | None) -> str:
    """0.125 -> '12.5%'; a NULL rate (denominator 0) -> 'n/a', never '0%'."""
    v = float_or_none(value)
    return NOT_AVAILABLE if v is None else f"{v:.1%}"


def fmt_hours(value: float | None) -> str:
    """Hours with one decimal, e.g. '5.5 h'."""
    v = float_or_none(value)
    return NOT_AVAILABLE if v is None else f"{v:,.1f} h"


def fmt_count(value: Any) -> str:
    """Integer counts with thousands separators."""
    return f"{int_or_zero(value):,}"


def fmt_timestamp(value: datetime | None) -> str:
    """UTC instant to the minute (the as-of of a date is 23:59:59.999999)."""
    if value is None or pd.isna(value):
        return NOT_AVAILABLE
    return as_utc(value).strftime("%Y-%m-%d %H:%M UTC")


def fmt_date(value: Any) -> str:
    """A release date, or a plain explanation when the release never reached production."""
    if value is None or pd.isna(value):
        return "not in production"
    return as_utc(value).strftime("%Y-%m-%d")


def fmt_flag(value: Any) -> str:
    """Nullable boolean to Yes / No / n/a."""
    if value is None or pd.isna(value):
        return NOT_AVAILABLE
    return "Yes" if bool(value) else "No"


def as_utc(value: Any) -> pd.Timestamp:
    """A timestamp in UTC; a naive one is taken to be UTC already."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def is_missing(value: Any) -> bool:
    """None, NaN, NaT or pandas' NA."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-likes are not missing
        return False


def is_blank(value: Any) -> bool:
    """Missing or whitespace-only text (an empty rca_link is no link)."""
    return is_missing(value) or not str(value).strip()


def float_or_none(value: Any) -> float | None:
    """A number as a float, a missing one (NULL, NaN) as None."""
    if is_missing(value):
        return None
    f = float(value)
    return None if math.isnan(f) else f


def int_or_zero(value: Any) -> int:
    """A count as an int, a missing one as 0."""
    return 0 if is_missing(value) else int(value)
