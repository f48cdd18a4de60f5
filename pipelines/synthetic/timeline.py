"""The sample's time frame: the fixed 26-week window, the as-of, time units and timestamp text.

Instants are int64 epoch seconds throughout the generator; `timestamps` writes
them as the ISO-8601 text the exports carry.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.synthetic.arrays import STR, as_text, cat

SAMPLE_AS_OF = "2026-06-30T00:00:00Z"

MISSING = np.iinfo(np.int64).min  # "no timestamp" in the int64 epoch-second columns

MINUTE = 60
HOUR = 3_600
DAY = 86_400


def _epoch(text: str) -> int:
    return int(pd.Timestamp(text).timestamp())


WINDOW_START = _epoch("2026-01-05T00:00:00Z")
WINDOW_END = _epoch("2026-06-29T00:00:00Z") - 1  # last second of Sunday 2026-06-28
AS_OF = _epoch(SAMPLE_AS_OF)
# Production, canary follow-up and retries land within ~15 h of the planned
# date, so nothing a release deploys passes the window end.
LAST_PLANNED = _epoch("2026-06-26T18:00:00Z")
# A rollback or hotfix needs up to ~61 h after the release; later releases
# simply go out clean.
LAST_TROUBLED = WINDOW_END - 4 * DAY

TS_OFFSETS_MIN = np.array([60, 120, -300, 330, -240, 540])


def uniform(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    """Whole seconds drawn uniformly from [lo, hi)."""
    return np.floor(rng.uniform(lo, hi, n)).astype(np.int64)


def between(rng: np.random.Generator, lo: np.ndarray | int, hi: np.ndarray | int) -> np.ndarray:
    """A uniformly random whole second in [lo, hi) per element."""
    lo, hi = np.asarray(lo, np.int64), np.asarray(hi, np.int64)
    n = int(np.broadcast(lo, hi).size)
    return lo + ((hi - lo) * rng.random(n)).astype(np.int64)


def timestamps(sec: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """ISO-8601 text: mostly UTC 'Z', ~10 % another offset (same instant), ~3 % naive UTC wall time."""
    n = len(sec)
    style = rng.choice(3, size=n, p=[0.87, 0.10, 0.03])
    offset = TS_OFFSETS_MIN[rng.integers(0, len(TS_OFFSETS_MIN), n)]
    missing = sec == MISSING
    shift = np.where(style == 1, offset * MINUTE, 0)
    local = np.where(missing, 0, sec + shift).astype("datetime64[s]")
    text = np.datetime_as_string(local, unit="s").astype(STR)
    sign = np.where(offset < 0, "-", "+").astype(STR)
    hours, minutes = (np.strings.zfill(as_text(part), 2) for part in np.divmod(np.abs(offset), 60))
    suffix = cat(sign, hours, ":", minutes)
    out = np.where(style == 0, cat(text, "Z"), cat(text, suffix))
    out = np.where(style == 2, np.strings.replace(text, "T", " "), out)
    return np.where(missing, "", out).astype(STR)
