"""Incidents, as the rows of incidents.csv: most caused by a production deployment, some linking its escapes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.synthetic.arrays import (
    STR,
    Table,
    around,
    cat,
    group_member,
    numbered,
    quantiles,
    take,
)
from pipelines.synthetic.codes import (
    FAILED,
    INCIDENT_SEVERITY_RAW,
    PRODUCTION,
    ROLLED_BACK,
)
from pipelines.synthetic.timeline import (
    AS_OF,
    HOUR,
    MINUTE,
    MISSING,
    WINDOW_END,
    WINDOW_START,
    between,
    timestamps,
    uniform,
)

INCIDENT_TITLES = (
    ("Elevated 5xx on ", ""), ("Latency above SLO: ", ""), ("Partial outage: ", " unavailable"),
    ("Spike in failed requests: ", ""),
)


def incident_rows(rng: np.random.Generator, svc: Table, dep: Table, d: Table, n_total: int) -> Table:
    """incidents.csv, about `n_total` in detection order: caused by production deployments (most rolled-back
    ones, the rest weighted by their release's escapes) or before the service's first, so unattributable."""
    prod_pos = np.flatnonzero((dep["env"] == PRODUCTION) & (dep["status"] != FAILED))
    rolled = np.flatnonzero(dep["status"] == ROLLED_BACK)
    rolled = rolled[rng.random(len(rolled)) < 0.9]
    n_orphan = max(1, round(0.05 * n_total))
    n_rest = max(n_total - len(rolled) - n_orphan, 0)
    # Releases that leak defects into production also cause the incidents, so
    # an incident can usually link the defects behind it.
    escaped = np.flatnonzero((d["env"] == PRODUCTION) & ~d["is_dup"] & ~d["late"] & (d["release"] != ""))
    dep_code, escaped_code = _shared_codes(
        cat(svc["name"][dep["svc"]], "|", dep["release"]),
        cat(svc["name"][d["svc"][escaped]], "|", d["release"][escaped]),
    )
    escapes = np.bincount(escaped_code, minlength=int(dep_code.max()) + 1)[dep_code]
    weight = (svc["prod_share"][dep["svc"]] * (0.1 + escapes))[prod_pos]
    cause = np.concatenate([rolled, prod_pos[rng.choice(len(prod_pos), n_rest, p=weight / weight.sum())]])
    n_caused = len(cause)

    # A rolled-back deployment hurt within minutes; others within the 168 h window.
    quick = np.arange(n_caused) < len(rolled)
    slow = np.clip(rng.exponential(30 * HOUR, n_caused), 5 * MINUTE, 160 * HOUR).astype(np.int64)
    lag = np.where(quick, uniform(rng, 2 * MINUTE, 25 * MINUTE, n_caused), slow)
    room = WINDOW_END - dep["finished"][cause]
    lag = np.where(lag > room, between(rng, 0, room), lag)
    impact_caused = dep["finished"][cause] + np.maximum(lag, MINUTE)
    # A rollback names its cause; otherwise ~30 % leave attribution to the time window.
    with_id = quick | (rng.random(n_caused) >= 0.3)

    # Unattributable: impact before the service's first production deployment.
    orphan_svc = rng.integers(0, len(svc["name"]), n_orphan)
    first_prod = np.full(len(svc["name"]), WINDOW_END)
    np.minimum.at(first_prod, dep["svc"][prod_pos], dep["finished"][prod_pos])
    impact_orphan = between(rng, WINDOW_START, first_prod[orphan_svc] - HOUR)

    n = n_caused + n_orphan
    s = np.concatenate([dep["svc"][cause], orphan_svc])
    impact = np.concatenate([impact_caused, impact_orphan])
    dep_id = np.concatenate([np.where(with_id, dep["id"][cause], ""), np.full(n_orphan, "")]).astype(STR)
    release_code = np.concatenate([dep_code[cause], np.full(n_orphan, -1)])
    to_detect = np.clip(rng.lognormal(np.log(20 * MINUTE), 1.0, n), MINUTE, 12 * HOUR).astype(np.int64)
    detected = impact + to_detect
    acknowledged = detected + uniform(rng, MINUTE, 30 * MINUTE, n)
    resolved = acknowledged + np.maximum(rng.lognormal(np.log(3 * HOUR), 1.0, n), 5 * MINUTE).astype(np.int64)
    resolved = np.where((resolved > AS_OF) | (quantiles(rng, n) < 0.08), MISSING, resolved)
    impact = np.where((np.arange(n) < n_caused) & (quantiles(rng, n) < 0.05), MISSING, impact)
    sev = np.where(
        np.concatenate([quick, np.zeros(n_orphan, bool)]),
        rng.choice(4, size=n, p=[0.4, 0.4, 0.2, 0.0]),
        rng.choice(4, size=n, p=[0.1, 0.3, 0.4, 0.2]),
    )

    links = _incident_links(rng, release_code, d["id"][escaped], escaped_code)
    order = np.lexsort((np.arange(n), detected))
    ids = np.empty(n, dtype=STR)
    ids[order] = numbered("INC-", n, 5)
    comp = svc["components"][s, rng.integers(0, 4, n)]
    t = rng.integers(0, len(INCIDENT_TITLES), n)
    title = around(INCIDENT_TITLES, t, cat(svc["name"][s], " ", comp))
    postmortem = (sev <= 1) & (rng.random(n) < 0.6)
    columns = {
        "incident_id": ids,
        "title": title,
        "severity": INCIDENT_SEVERITY_RAW[s % INCIDENT_SEVERITY_RAW.shape[0], sev],
        "service": svc["name"][s],
        "environment": np.array(["production", "", "prod"], dtype=STR)[rng.choice(3, size=n, p=[0.65, 0.25, 0.10])],
        "impact_started_at": timestamps(impact, rng),
        "detected_at": timestamps(detected, rng),
        "acknowledged_at": timestamps(acknowledged, rng),
        "resolved_at": timestamps(resolved, rng),
        "deployment_id": dep_id,
        "linked_defect_ids": links,
        "postmortem_link": np.where(postmortem, cat("https://wiki.example.com/postmortem/", ids), "").astype(STR),
    }
    return take(columns, order)


def _shared_codes(*keys: np.ndarray) -> list[np.ndarray]:
    """Integer codes for text keys, equal across all the arrays given."""
    codes, _ = pd.factorize(np.concatenate(keys).astype(object))
    return np.split(codes.astype(np.int64), np.cumsum([len(k) for k in keys])[:-1])


def _incident_links(
    rng: np.random.Generator, release_code: np.ndarray, ids: np.ndarray, code: np.ndarray
) -> np.ndarray:
    """About 30 % of incidents link one or two escaped defects of their service and release.

    `release_code` is the (service, release) code of each incident (-1: none);
    `ids`/`code` are the escaped defects and their codes.
    """
    n = len(release_code)
    by_code = np.argsort(code, kind="stable")
    sorted_code, sorted_ids = code[by_code], ids[by_code]
    first, size = group_member(sorted_code, release_code, rng.random(n))
    linkable = (size > 0) & (release_code >= 0)
    link = linkable & (rng.random(n) < min(1.0, 0.3 * n / max(int(linkable.sum()), 1)))
    # A second, different member: step 1..size-1 places further round the group.
    lo = np.searchsorted(sorted_code, release_code, "left")
    step = 1 + np.floor(rng.random(n) * np.maximum(size - 1, 0)).astype(np.int64)
    second = lo + (first - lo + step) % np.maximum(size, 1)
    two = link & (size > 1) & (rng.random(n) < 0.35)
    if len(sorted_ids) == 0:
        return np.full(n, "", dtype=STR)
    one = np.where(link, sorted_ids[np.maximum(first, 0)], "").astype(STR)
    return np.where(two, cat(one, ";", sorted_ids[np.where(two, second, 0)]), one).astype(STR)
