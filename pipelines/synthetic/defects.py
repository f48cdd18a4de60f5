"""Defects as a numpy table: where and when each is found, its duplicates, its lifecycle and its owner.

Columns are codes and epoch seconds; defect_rows.py and status_history.py
write them as the exports' text.
"""

from __future__ import annotations

import math

import numpy as np

from pipelines.synthetic.arrays import (
    STR,
    Table,
    as_text,
    cat,
    concat,
    group_member,
    quantiles,
    take,
)
from pipelines.synthetic.codes import (
    CANNOT_REPRODUCE,
    CLASSIC,
    CLOSED,
    DEFERRED,
    DUPLICATE,
    ENV_RAW,
    FIXED,
    IN_PROGRESS,
    NEW,
    PRODUCTION,
    RESOLVED,
    SIMPLE,
    TRIAGED,
    WONT_FIX,
)
from pipelines.synthetic.organisation import PEOPLE_PER_TEAM
from pipelines.synthetic.stack_traces import SIGNATURES_PER_SERVICE, signatures
from pipelines.synthetic.timeline import (
    AS_OF,
    DAY,
    HOUR,
    MINUTE,
    MISSING,
    WINDOW_END,
    WINDOW_START,
    between,
    uniform,
)


def _base_defects(rng: np.random.Generator, svc: Table, pool: Table, n: int, n_late: int) -> Table:
    """Non-duplicate defects: service, environment, release and creation instant."""
    n_svc = len(svc["name"])
    weights = svc["volume"] / svc["volume"].sum()
    s = np.sort(rng.choice(n_svc, size=n, p=weights))
    # Exact production quota per service (not a coin flip per defect), so the
    # per-service escape picture is stable even at small scale.
    rank = np.arange(n) - np.searchsorted(s, s, "left")
    size = np.bincount(s, minlength=n_svc)[s]
    u = rng.random(n)
    perm = np.lexsort((u, s))  # random order within each service
    is_prod = np.empty(n, bool)
    is_prod[perm] = (rank + 0.5) / size < svc["prod_share"][s]
    env = np.where(is_prod, PRODUCTION, rng.choice(3, size=n, p=[0.22, 0.43, 0.35]))

    pick, _ = group_member(pool["group"], s * 4 + env, rng.random(n))
    finished, nxt = pool["finished"][pick], pool["next_finished"][pick]
    mean_lag = np.array([20, 30, 24, 96])[env] * HOUR
    lag = np.maximum(rng.exponential(1.0, n) * mean_lag, 5 * MINUTE).astype(np.int64)
    # Pre-release defects are found before the next release lands there (so the
    # fallback attribution agrees); production ones may surface later.
    bounded = (nxt != MISSING) & (env != PRODUCTION)
    room = np.where(bounded, (nxt - finished) * 0.9, WINDOW_END - finished).astype(np.int64)
    lag = np.where(lag > room, between(rng, 0, room), lag)
    created = finished + np.maximum(lag, 60)
    release = pool["release"][pick]
    found = release.copy()

    roll = quantiles(rng, n)
    late = np.zeros(n, bool)
    late[rng.choice(n, size=n_late, replace=False)] = True
    negative = ~late & (roll < 0.01)
    no_env = ~late & ~is_prod & (roll >= 0.01) & (roll < 0.02)
    before_first = ~late & (roll >= 0.02) & (roll < 0.03)
    fallback = ~late & (roll >= 0.03) & (roll < 0.21)

    created = np.where(negative, finished - uniform(rng, 10 * MINUTE, 8 * HOUR, n), created)
    first_in_env = pool["finished"][np.searchsorted(pool["group"], s * 4 + env, "left")]  # every group exists
    created = np.where(before_first, between(rng, WINDOW_START, first_in_env), created)
    created = np.where(late, AS_OF + uniform(rng, HOUR, 48 * HOUR, n), created)
    found = np.where(fallback | before_first | no_env | late, "", found).astype(STR)
    attributed = np.where(before_first | no_env, "", release).astype(STR)
    return {
        "svc": s,
        "env": np.where(no_env, -1, env),
        "release": attributed,
        "found": found,
        "created": created,
        "late": late,
        "segment_roll": rng.random(n),
    }


def _resolve(rng: np.random.Generator, d: Table, svc: Table) -> None:
    """Severity, current state, resolution and their instants (in place)."""
    n = len(d["svc"])
    prod = d["env"] == PRODUCTION
    sev = np.where(
        prod, rng.choice(4, size=n, p=[0.11, 0.30, 0.39, 0.20]), rng.choice(4, size=n, p=[0.045, 0.185, 0.52, 0.25])
    )
    sev = np.where(d["is_dup"], sev[d["orig"]], sev)
    median_hours = np.array([10.0, 48.0, 168.0, 504.0])[sev]
    ttr = np.maximum(rng.lognormal(np.log(median_hours), 0.9) * HOUR, 30 * MINUTE).astype(np.int64)
    backlog = rng.random(n) < np.array([0.03, 0.08, 0.18, 0.30])[sev]
    resolved = d["created"] + ttr
    done = ~backlog & (resolved <= AS_OF) & ~d["late"]
    kind = np.where(rng.random(n) < np.where(sev == 0, 0.97, 0.84), FIXED, rng.choice([WONT_FIX, CANNOT_REPRODUCE], n))

    # Duplicates are closed within hours to days, and always by the as-of.
    dup_resolved = d["created"] + uniform(rng, HOUR // 2, 72 * HOUR, n)
    dup_resolved = np.where(dup_resolved > AS_OF, between(rng, d["created"], AS_OF), dup_resolved)
    resolved = np.where(d["is_dup"], np.maximum(dup_resolved, d["created"] + MINUTE), resolved)
    done = done | d["is_dup"]
    kind = np.where(d["is_dup"], DUPLICATE, np.where(done, kind, -1))

    style = svc["status_style"][d["svc"]]
    open_state = rng.choice([NEW, TRIAGED, IN_PROGRESS], size=n, p=[0.3, 0.3, 0.4])
    open_state = np.where(backlog & (sev >= 2) & (rng.random(n) < 0.3), DEFERRED, open_state)
    open_state = np.where(d["late"], NEW, open_state)
    open_state = np.where((style == SIMPLE) & (open_state == TRIAGED), NEW, open_state)
    closed_at = resolved + uniform(rng, HOUR, 10 * DAY, n)
    closed = done & (style == CLASSIC) & (rng.random(n) < 0.5) & (closed_at <= AS_OF)
    d["sev"] = sev
    d["kind"] = kind
    d["state"] = np.where(done, np.where(closed, CLOSED, RESOLVED), open_state)
    d["resolved"] = np.where(done, resolved, MISSING)
    d["closed_at"] = np.where(closed, closed_at, MISSING)
    d["style"] = style
    d["reopened"] = (kind == FIXED) & (quantiles(rng, n) < 0.05)
    d["has_history"] = ~d["late"] & (rng.random(n) < 0.92)


def make_defects(rng: np.random.Generator, svc: Table, pool: Table, people: np.ndarray, n_total: int) -> Table:
    """Base defects plus duplicates of earlier ones, numbered per service in creation order."""
    n_dup = round(0.08 * n_total)
    n_late = max(1, math.ceil(0.008 * n_total))
    n_base = n_total - n_dup
    base = _base_defects(rng, svc, pool, n_base, n_late)
    sig = signatures(rng, len(svc["name"]))
    zipf = 1.0 / np.arange(1, SIGNATURES_PER_SERVICE + 1) ** 0.7
    popular = rng.choice(SIGNATURES_PER_SERVICE, n_base, p=zipf / zipf.sum())
    base["sig"] = np.where(rng.random(n_base) < 0.7, popular, -1)
    sig_safe = np.maximum(base["sig"], 0)
    base["component"] = np.where(base["sig"] >= 0, sig["component"][base["svc"], sig_safe], rng.integers(0, 4, n_base))
    for name in ("error", "func1", "func2", "helper", "action"):
        base[name] = sig[name][base["svc"], sig_safe]
    # The same code path drifts a few lines between releases.
    base["line1"] = sig["line1"][base["svc"], sig_safe] + rng.integers(-4, 5, n_base)
    base["line2"] = sig["line2"][base["svc"], sig_safe] + rng.integers(-4, 5, n_base)

    # Duplicates copy an earlier defect that has a stack trace; the copy is found later.
    eligible = np.flatnonzero(~base["late"] & (base["sig"] >= 0) & (base["created"] < WINDOW_END))
    orig = eligible[rng.integers(0, len(eligible), n_dup)] if len(eligible) else np.zeros(0, np.int64)
    dup = take(base, orig)
    n_dup = len(orig)
    delay = np.maximum(rng.exponential(72 * HOUR, n_dup), 10 * MINUTE).astype(np.int64)
    room = WINDOW_END + 12 * HOUR - dup["created"]
    delay = np.where(delay > room, np.maximum(between(rng, 0, room), MINUTE), delay)
    dup["created"] = dup["created"] + delay
    dup["found"] = np.where(rng.random(n_dup) < 0.2, "", dup["found"]).astype(STR)
    dup["segment_roll"] = rng.random(n_dup)
    # Same stack, other line numbers: the duplicate was hit on a later build.
    dup["line1"] = dup["line1"] + rng.integers(1, 13, n_dup)
    dup["line2"] = dup["line2"] + rng.integers(1, 13, n_dup)

    d = concat([base, dup])
    n = n_base + n_dup
    d["is_dup"] = np.arange(n) >= n_base
    d["orig"] = np.concatenate([np.arange(n_base), orig])  # row of the defect a duplicate copies
    d["team"] = svc["team"][d["svc"]]
    _resolve(rng, d, svc)

    # Keys are numbered per service in creation order, like a tracker would.
    order = np.lexsort((np.arange(n), d["created"], d["svc"]))
    number = np.empty(n, np.int64)
    number[order] = np.arange(n) - np.searchsorted(d["svc"][order], d["svc"][order], "left")
    number += 1 + svc["id_offset"][d["svc"]]
    d["id"] = cat(svc["key"][d["svc"]], "-", as_text(number))
    d["duplicate_of"] = np.where(d["is_dup"], d["id"][d["orig"]], "").astype(STR)
    del d["orig"]  # row positions change with the sort below
    d = take(d, np.lexsort((np.arange(n), d["created"])))
    _people_and_places(rng, d, svc, people)
    return d


def _people_and_places(rng: np.random.Generator, d: Table, svc: Table, people: np.ndarray) -> None:
    """Raw environment name and assignee (in place): history and free text use them too."""
    n = len(d["svc"])
    d["env_raw"] = np.where(
        d["env"] >= 0, ENV_RAW[svc["env_style"][d["svc"]], np.maximum(d["env"], 0), rng.integers(0, 2, n)], ""
    ).astype(STR)
    unowned = rng.random(n) < np.where(d["state"] == NEW, 0.35, 0.06)
    d["assignee"] = np.where(unowned, "", people[d["team"], rng.integers(0, PEOPLE_PER_TEAM, n)]).astype(STR)
