"""The rows of defect_status_history.csv: the transitions behind each defect's current status."""

from __future__ import annotations

import numpy as np

from pipelines.synthetic.arrays import STR, Table, concat, take
from pipelines.synthetic.codes import (
    CLASSIC,
    CLOSED,
    DEFERRED,
    DUPLICATE,
    FIXED,
    IN_PROGRESS,
    NEW,
    REOPENED,
    RESOLVED,
    SIMPLE,
    STATUS_RAW,
    TRIAGED,
)
from pipelines.synthetic.timeline import AS_OF, MISSING, timestamps


def history_rows(rng: np.random.Generator, d: Table, people: np.ndarray) -> Table:
    """Transitions that end in each defect's current status, one fixed step list, vectorised per step."""
    n = len(d["svc"])
    created, resolved = d["created"], d["resolved"]
    end = np.where(resolved != MISSING, resolved, AS_OF)
    span = np.maximum(end - created, 60)
    frac = np.sort(rng.uniform(0.02, 0.5, (n, 2)), axis=1)
    t_triage = created + (span * frac[:, 0]).astype(np.int64)
    t_work = created + (span * frac[:, 1]).astype(np.int64)
    t_reopen = created + (span * rng.uniform(0.55, 0.7, n)).astype(np.int64)
    t_back = t_reopen + ((end - t_reopen) * 0.3).astype(np.int64)
    t_again = t_back + ((end - t_back) * 0.2).astype(np.int64)

    h, classic, simple = d["has_history"], d["style"] == CLASSIC, d["style"] == SIMPLE
    state, kind, reopened = d["state"], d["kind"], d["reopened"]
    done = kind >= 0
    fixed, dup = kind == FIXED, kind == DUPLICATE
    worked = (state == IN_PROGRESS) | fixed
    triaged = (state == TRIAGED) | (state == IN_PROGRESS) | (state == DEFERRED) | (done & ~dup)
    # The status a resolution leaves from: in progress for fixes, else where it stood.
    before_resolve = np.where(fixed, IN_PROGRESS, np.where(classic & ~dup, TRIAGED, NEW))
    before_work = np.where(classic, TRIAGED, NEW)
    steps: list[tuple[np.ndarray, np.ndarray, np.ndarray | int, np.ndarray | int]] = [
        (h & simple, created, -1, NEW),
        (h & classic & triaged, t_triage, NEW, TRIAGED),
        (h & worked, t_work, before_work, IN_PROGRESS),
        (h & (state == DEFERRED), t_work, before_work, DEFERRED),
        (h & reopened, t_reopen, IN_PROGRESS, RESOLVED),
        (h & reopened & classic, t_back, RESOLVED, REOPENED),
        (h & reopened, np.where(classic, t_again, t_back), np.where(classic, REOPENED, RESOLVED), IN_PROGRESS),
        (h & done, resolved, before_resolve, RESOLVED),
        (h & (state == CLOSED), d["closed_at"], RESOLVED, CLOSED),
    ]
    parts = []
    for order, (mask, when, src, dst) in enumerate(steps):
        rows = np.flatnonzero(mask)
        parts.append(
            {
                "row": rows,
                "step": np.full(len(rows), order),
                "at": when[rows],
                "from": np.broadcast_to(np.asarray(src), (n,))[rows],
                "to": np.broadcast_to(np.asarray(dst), (n,))[rows],
            }
        )
    hist = concat(parts)
    hist = take(hist, np.lexsort((hist["step"], hist["at"], hist["row"])))
    rows = hist["row"]
    style = d["style"][rows]
    lead = people[d["team"][rows], 0]
    actor = np.where(d["assignee"][rows] != "", d["assignee"][rows], lead)
    actor = np.where(hist["step"] == 0, "tracker-bot", actor).astype(STR)
    columns = {
        "defect_id": d["id"][rows],
        "changed_at": timestamps(hist["at"], rng),
        "from_status": np.where(hist["from"] >= 0, STATUS_RAW[style, np.maximum(hist["from"], 0)], "").astype(STR),
        "to_status": STATUS_RAW[style, hist["to"]],
        "actor": actor,
    }
    return columns
