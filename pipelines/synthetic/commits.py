"""Commits, as the rows of commits.csv: fixes naming defect keys, the releases' commits, everyday work."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.synthetic.arrays import (
    STR,
    Table,
    as_text,
    capitalised,
    cat,
    concat,
    random_shas,
    take,
)
from pipelines.synthetic.codes import FIXED, HOTFIX, ROLLBACK
from pipelines.synthetic.organisation import PEOPLE_PER_TEAM
from pipelines.synthetic.timeline import DAY, HOUR, MINUTE, timestamps, uniform

WORK_MESSAGES = (
    "Refactor {c} module", "Bump dependencies", "Improve logging in {c}", "Add metrics for {c}",
    "Update README", "Tidy up {c} tests", "Speed up {c} queries",
)
WORK_COMMITS_PER_RELEASE = 3


def _paths(svc: Table, s: np.ndarray, comp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Source and test file of a component, in the layout its language uses."""
    name = svc["name"][s]
    pkg = np.strings.replace(name, "-", "_")
    c = svc["components"][s, comp]
    cls = cat(capitalised(c), "Service")
    java_pkg = np.strings.replace(name, "-", "")
    java = svc["java"][s]
    src = np.where(
        java,
        cat("services/", name, "/src/main/java/com/example/", java_pkg, "/", cls, ".java"),
        cat("services/", name, "/src/", pkg, "/", c, ".py"),
    )
    test = np.where(
        java,
        cat("services/", name, "/src/test/java/com/example/", java_pkg, "/", cls, "Test.java"),
        cat("services/", name, "/tests/test_", c, ".py"),
    )
    return src.astype(STR), test.astype(STR)


def _first_finish_by_sha(dep: Table, shas: np.ndarray) -> np.ndarray:
    """Finish of the first deployment of each commit sha (deployments are sorted by finish)."""
    first = pd.Series(dep["finished"], index=dep["sha"].astype(object))
    first = first[~first.index.duplicated(keep="first")]
    return first.reindex(shas.astype(object)).to_numpy(dtype=np.int64)


def _release_files(svc: Table, s: np.ndarray) -> np.ndarray:
    name = svc["name"][s]
    return cat("services/", name, "/CHANGELOG.md;services/", name, "/VERSION")


def commit_rows(
    rng: np.random.Generator, svc: Table, rel: Table, dep: Table, d: Table, people: np.ndarray
) -> Table:
    """commits.csv in commit order: fixes, the releases' and hotfixes' commits, everyday work."""
    # Fix commits name the defect they fix, shortly before it was resolved.
    fix = np.flatnonzero((d["kind"] == FIXED) & (rng.random(len(d["svc"])) < 0.75))
    nf = len(fix)
    fs = d["svc"][fix]
    before = uniform(rng, HOUR // 2, 36 * HOUR, nf)
    fix_at = np.maximum(d["resolved"][fix] - before, d["created"][fix] + (d["resolved"][fix] - d["created"][fix]) // 2)
    key = d["id"][fix]
    src, test = _paths(svc, fs, d["component"][fix])
    extra_src, _ = _paths(svc, fs, rng.integers(0, 4, nf))
    files = cat(src, ";", test)
    files = np.where((rng.random(nf) < 0.3) & (extra_src != src), cat(files, ";", extra_src), files)
    form = rng.integers(0, 3, nf)
    comp = svc["components"][fs, d["component"][fix]]
    message = np.select(
        [form == 0, form == 1],
        [cat(key, ": fix ", comp, " error handling"), cat("Fix ", comp, " regression (", key, ")")],
        cat("[", key, "] guard against missing ", comp, " data"),
    )
    fix_part = {
        "sha": random_shas(rng, nf),
        "branch": np.where(rng.random(nf) < 0.4, "main", cat("feature/", key)).astype(STR),
        "at": fix_at,
        "svc": fs,
        "message": message.astype(STR),
        "files": files.astype(STR),
    }

    # Release commits carry the sha the deployments ship, committed before its first deployment.
    nr = len(rel["svc"])
    hot = np.flatnonzero(np.isin(rel["outcome"], (ROLLBACK, HOTFIX)))
    rel_first = _first_finish_by_sha(dep, rel["sha"])
    hot_first = _first_finish_by_sha(dep, rel["hf_sha"][hot])
    release_part = {
        "sha": np.concatenate([rel["sha"], rel["hf_sha"][hot]]),
        "branch": np.full(nr + len(hot), "main", dtype=STR),
        "at": np.concatenate([rel_first, hot_first]) - uniform(rng, 10 * MINUTE, 3 * HOUR, nr + len(hot)),
        "svc": np.concatenate([rel["svc"], rel["svc"][hot]]),
        "message": np.concatenate([cat("Release ", rel["name"]), cat("Hotfix ", rel["hf_name"][hot])]),
        "files": _release_files(svc, np.concatenate([rel["svc"], rel["svc"][hot]])),
    }

    # Everyday work that names no defect (COMMIT_UNLINKED when it lands on main).
    wr = np.repeat(np.arange(nr), WORK_COMMITS_PER_RELEASE)
    nw = len(wr)
    ws = rel["svc"][wr]
    wcomp = rng.integers(0, 4, nw)
    work_comp = svc["components"][ws, wcomp]
    template = as_text(WORK_MESSAGES)[rng.integers(0, len(WORK_MESSAGES), nw)]
    wsrc, wtest = _paths(svc, ws, wcomp)
    work_part = {
        "sha": random_shas(rng, nw),
        "branch": np.where(rng.random(nw) < 0.6, "main", cat("feature/", work_comp, "-cleanup")).astype(STR),
        "at": rel["freeze"][wr] - uniform(rng, HOUR, 4 * DAY, nw),
        "svc": ws,
        "message": np.strings.replace(template, "{c}", work_comp),
        "files": np.where(rng.random(nw) < 0.5, cat(wsrc, ";", wtest), wsrc).astype(STR),
    }

    c = concat([fix_part, release_part, work_part])
    n = len(c["sha"])
    order = np.lexsort((np.arange(n), c["at"]))
    team = svc["team"][c["svc"]]
    columns = {
        "sha": c["sha"],
        "branch": c["branch"],
        "committed_at": timestamps(c["at"], rng),
        "author": people[team, rng.integers(0, PEOPLE_PER_TEAM, n)],
        "message": c["message"],
        "files": c["files"],
    }
    return take(columns, order)
