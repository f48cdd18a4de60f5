"""Releases and deployments: each service's release train from dev through production.

Also the releases a defect can be found in (`release_pool`) and the rows of
releases.csv and deployments.csv.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.synthetic.arrays import (
    STR,
    Table,
    as_text,
    cat,
    concat,
    numbered,
    random_shas,
    take,
)
from pipelines.synthetic.codes import (
    CANONICAL_ENVS,
    CLEAN,
    DEPLOY_STATUS,
    DEV,
    FAILED,
    FAILED_ONCE,
    HOTFIX,
    PRODUCTION,
    ROLLBACK,
    ROLLED_BACK,
    STAGING,
    SUCCEEDED,
    TEST,
)
from pipelines.synthetic.organisation import STRATEGIES
from pipelines.synthetic.timeline import (
    DAY,
    HOUR,
    LAST_PLANNED,
    LAST_TROUBLED,
    MINUTE,
    MISSING,
    WINDOW_START,
    timestamps,
    uniform,
)


def make_releases(rng: np.random.Generator, svc: Table) -> Table:
    """Planned releases per service, sorted by service then release, each with its outcome and shas."""
    n_svc = len(svc["name"])
    slots = 27  # one-week cadence fills at most 26 weeks
    step = svc["cadence"][:, None] * 7 * DAY + rng.integers(-1, 2, (n_svc, slots)) * DAY
    first = WINDOW_START + (9 + rng.integers(0, 7, n_svc)) * DAY + 10 * HOUR
    planned = first[:, None] + np.concatenate([np.zeros((n_svc, 1), np.int64), np.cumsum(step[:, :-1], axis=1)], axis=1)
    planned = planned + rng.integers(0, 6 * 60, (n_svc, slots)) * MINUTE
    rows, idx = np.nonzero(planned <= LAST_PLANNED)  # row-major: sorted by service, then release
    n = len(rows)
    planned = planned[rows, idx]
    major, minor = svc["major"][rows], svc["minor0"][rows] + idx
    stem = cat(as_text(major), ".", as_text(minor), ".")
    u = rng.random(n)
    p_rollback = svc["rollback_prob"][rows]
    outcome = np.select(
        [u < 0.05, u < 0.05 + p_rollback, u < 0.09 + p_rollback], [FAILED_ONCE, ROLLBACK, HOTFIX], CLEAN
    )
    # The first release has nothing to roll back to; late ones have no room for a hotfix.
    no_room = (idx == 0) | (planned > LAST_TROUBLED)
    outcome = np.where(no_room & (outcome != FAILED_ONCE), CLEAN, outcome)
    rca = ((outcome == ROLLBACK) & (rng.random(n) < 0.6)) | (rng.random(n) < 0.04)
    name = cat(stem, "0")
    return {
        "svc": rows,
        "idx": idx,
        "name": name,
        "planned": planned,
        "freeze": planned - uniform(rng, 2 * DAY, 4 * DAY, n) // 900 * 900,
        "outcome": outcome,
        "sha": random_shas(rng, n),
        "hf_name": cat(stem, "1"),
        "hf_sha": random_shas(rng, n),
        "rca": np.where(rca, cat("https://wiki.example.com/rca/", svc["name"][rows], "-", name), ""),
    }


def _deploy_part(
    rel: Table,
    rows: np.ndarray,
    env: int,
    finished: np.ndarray,
    duration: np.ndarray,
    *,
    release: np.ndarray | None = None,
    sha: np.ndarray | None = None,
    segment: np.ndarray | str = "",
    status: np.ndarray | int = SUCCEEDED,
    hotfix: np.ndarray | bool = False,
    rollback_of: np.ndarray | None = None,
) -> Table:
    n = len(rows)
    return {
        "svc": rel["svc"][rows],
        "release": rel["name"][rows] if release is None else release,
        "env": np.full(n, env),
        "segment": np.broadcast_to(np.asarray(segment, dtype=STR), (n,)).copy(),
        "finished": finished,
        "started": finished - duration,
        "status": np.broadcast_to(np.asarray(status), (n,)).astype(np.int64),
        "sha": rel["sha"][rows] if sha is None else sha,
        "hotfix": np.broadcast_to(np.asarray(hotfix), (n,)).copy(),
        "rollback_of": np.full(n, -1, np.int64) if rollback_of is None else rollback_of,
    }


def make_deployments(rng: np.random.Generator, svc: Table, rel: Table) -> Table:
    """All deployments, sorted by finish time, with ids `dep-000001`..."""
    n = len(rel["svc"])
    every = np.arange(n)

    def short(k: int = n) -> np.ndarray:
        return uniform(rng, 3 * MINUTE, 15 * MINUTE, k)

    def long(k: int = n) -> np.ndarray:
        return uniform(rng, 8 * MINUTE, 40 * MINUTE, k)

    parts = [
        _deploy_part(rel, every, DEV, rel["freeze"] - uniform(rng, DAY, 3 * DAY, n), short()),
        _deploy_part(rel, every, TEST, rel["freeze"] + uniform(rng, 2 * HOUR, 12 * HOUR, n), short()),
        _deploy_part(rel, every, STAGING, rel["planned"] - uniform(rng, 6 * HOUR, 30 * HOUR, n), short()),
    ]
    strategy = svc["strategy"][rel["svc"]]
    colour = np.where(rel["idx"] % 2 == 0, "blue", "green").astype(STR)
    other_colour = np.where(rel["idx"] % 2 == 0, "green", "blue").astype(STR)
    is_canary, is_bluegreen = strategy == STRATEGIES.index("canary"), strategy == STRATEGIES.index("bluegreen")
    primary_segment = np.where(is_canary, "canary", np.where(is_bluegreen, colour, "full")).astype(STR)
    outcome = rel["outcome"]
    primary_finish = rel["planned"] + uniform(rng, 0, 3 * HOUR, n)
    primary_status = np.select([outcome == FAILED_ONCE, outcome == ROLLBACK], [FAILED, ROLLED_BACK], SUCCEEDED)
    primary_offset = 3 * n  # keys are positions in the concatenation below
    parts.append(
        _deploy_part(
            rel, every, PRODUCTION, primary_finish, long(), segment=primary_segment, status=primary_status
        )
    )

    retry = np.flatnonzero(outcome == FAILED_ONCE)
    retry_finish = primary_finish[retry] + uniform(rng, HOUR, 4 * HOUR, len(retry))
    parts.append(
        _deploy_part(rel, retry, PRODUCTION, retry_finish, long(len(retry)), segment=primary_segment[retry])
    )

    # A rollback re-deploys what production ran before: the previous release, or its hotfix.
    back = np.flatnonzero(outcome == ROLLBACK)
    prev = back - 1
    prev_hotfixed = np.isin(outcome[prev], (ROLLBACK, HOTFIX))
    back_finish = primary_finish[back] + uniform(rng, HOUR // 2, 6 * HOUR, len(back))
    parts.append(
        _deploy_part(
            rel, back, PRODUCTION, back_finish, uniform(rng, 5 * MINUTE, 20 * MINUTE, len(back)),
            release=np.where(prev_hotfixed, rel["hf_name"][prev], rel["name"][prev]).astype(STR),
            sha=np.where(prev_hotfixed, rel["hf_sha"][prev], rel["sha"][prev]).astype(STR),
            segment=np.where(is_bluegreen[back], other_colour[back], primary_segment[back]).astype(STR),
            hotfix=prev_hotfixed,
            rollback_of=primary_offset + back,
        )
    )

    canary = np.flatnonzero(is_canary & (outcome != ROLLBACK))
    canary_base = primary_finish.copy()
    canary_base[retry] = retry_finish
    parts.append(
        _deploy_part(
            rel, canary, PRODUCTION, canary_base[canary] + uniform(rng, 2 * HOUR, 8 * HOUR, len(canary)),
            long(len(canary)), segment="full",
        )
    )

    fix = np.flatnonzero(np.isin(outcome, (ROLLBACK, HOTFIX)))
    fix_base = primary_finish.copy()
    fix_base[back] = back_finish
    fix_staging = fix_base[fix] + uniform(rng, 12 * HOUR, 48 * HOUR, len(fix))
    hotfix_kw = {"release": rel["hf_name"][fix], "sha": rel["hf_sha"][fix], "hotfix": True}
    parts.append(_deploy_part(rel, fix, STAGING, fix_staging, short(len(fix)), **hotfix_kw))
    parts.append(
        _deploy_part(
            rel, fix, PRODUCTION, fix_staging + uniform(rng, HOUR, 4 * HOUR, len(fix)), long(len(fix)),
            segment=np.where(is_bluegreen[fix], other_colour[fix], "full").astype(STR),
            **hotfix_kw,
        )
    )

    dep = concat(parts)
    order = np.lexsort((np.arange(len(dep["svc"])), dep["started"], dep["finished"]))
    ids_by_key = np.empty(len(order), dtype=STR)
    ids_by_key[order] = numbered("dep-", len(order), 6)
    dep["id"] = ids_by_key
    target = np.maximum(dep["rollback_of"], 0)
    dep["rollback_id"] = np.where(dep["rollback_of"] >= 0, ids_by_key[target], "").astype(STR)
    return take(dep, order)


def release_pool(dep: Table) -> Table:
    """First deployment that served, per (service, release, environment), sorted by (service, env, finish).

    A defect found in an environment is created after its release reached it;
    `next_finished` is when the next release arrived there, which bounds how
    late the defect can be found while the release is still the one running.
    """
    served = dep["status"] != FAILED
    frame = pd.DataFrame(
        {
            "pos": np.flatnonzero(served),
            "svc": dep["svc"][served],
            "release": dep["release"][served].astype(object),
            "env": dep["env"][served],
            "finished": dep["finished"][served],
        }
    )
    first = frame.drop_duplicates(["svc", "release", "env"], keep="first")  # dep is sorted by finish
    first = first.sort_values(["svc", "env", "finished", "pos"], kind="stable")
    group = first["svc"].to_numpy() * 4 + first["env"].to_numpy()
    finished = first["finished"].to_numpy()
    nxt = np.append(finished[1:], MISSING)
    nxt = np.where(np.append(group[1:] == group[:-1], False), nxt, MISSING)
    return {
        "group": group,
        "release": dep["release"][first["pos"].to_numpy()],
        "finished": finished,
        "next_finished": nxt,
    }


def release_rows(rng: np.random.Generator, svc: Table, rel: Table) -> Table:
    """releases.csv: the planned releases (hotfixes are deployed, never planned)."""
    columns = {
        "service": svc["name"][rel["svc"]],
        "release": rel["name"],
        "code_freeze_at": timestamps(rel["freeze"], rng),
        "planned_release_at": timestamps(rel["planned"], rng),
        "rca_link": rel["rca"],
    }
    return columns


def deployment_rows(rng: np.random.Generator, svc: Table, dep: Table) -> Table:
    """deployments.csv, with canonical environment and status names."""
    columns = {
        "deployment_id": dep["id"],
        "service": svc["name"][dep["svc"]],
        "release": dep["release"],
        "environment": CANONICAL_ENVS[dep["env"]],
        "segment": dep["segment"],
        "started_at": timestamps(dep["started"], rng),
        "finished_at": timestamps(dep["finished"], rng),
        "status": DEPLOY_STATUS[dep["status"]],
        "commit_sha": dep["sha"],
        "is_hotfix": np.where(dep["hotfix"], "true", "false").astype(STR),
        "rollback_of": dep["rollback_id"],
    }
    return columns
