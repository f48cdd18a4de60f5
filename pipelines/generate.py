"""Deterministic synthetic exports in the canonical CSV format (CONTRACT.md section 1).

`generate(out_dir, scale, seed)` writes six files that look like what a real
team exports from its tracker, CD tool, pager and git, so every metric in
METRICS.md comes out non-trivial:

* ``releases.csv`` -- every service ships a semver release (``2.7.0``) every
  1-3 weeks inside a fixed 26-week window (2026-01-05 .. 2026-06-28), with a
  code freeze 2-4 days before the planned release date. Hotfix releases
  (``2.7.1``) are deployed but not planned, so they have no row here.
* ``deployments.csv`` -- each release flows dev -> test -> staging ->
  production (canonical environment names; segment empty before production).
  Production rolls out per service as ``full``, ``canary`` then
  ``full``, or alternating ``blue``/``green``. Some production deployments
  fail (a retry follows), some are ``rolled_back`` (a later deployment with
  ``rollback_of`` re-deploys the previous release, then a hotfix ``x.y.1``
  ships); some good releases also get a hotfix.
* ``defects.csv`` -- found in one environment of one release, created after
  that release reached the environment (about 1 % slightly before: negative
  time to detect). About 20 % leave ``found_in_release`` empty (attribution
  falls back to the latest deployment), about 2 % cannot be attributed. The
  production share of each service's non-duplicate defects is fixed per
  service between 6 % and 24 % (checkout is the bad one). About 8 % are
  duplicates of an earlier defect with the same stack trace at other line
  numbers; shared stack signatures also produce recurrences. Values use the
  raw vocabularies of the source tools (``Blocker``, ``P2``, ``prod``,
  ``stg``, ``To Do`` ...), mixed per team and service, including a few values
  no policy knows. Descriptions carry e-mail addresses, IPs and people's
  names for the masking step.
* ``defect_status_history.csv`` -- the transitions behind each defect's
  current status (some defects have none); the resolving transition is at
  ``resolved_at``; about 5 % of fixed defects are reopened once.
* ``incidents.csv`` -- about one per eight defects, mostly caused by a
  production deployment (every rolled-back one has one), a quarter without
  ``deployment_id`` but inside the 168 h window, a few unattributable.
* ``commits.csv`` -- release commits (their sha is the deployments'
  ``commit_sha``), fix commits naming defect keys, and unlinked work.

Timestamps are ISO-8601, mostly UTC ``Z``; about 10 % of values carry another
offset and 3 % none (naive, UTC wall time), drawn per value. Everything is at or before
``SAMPLE_AS_OF`` except a few defects created just after it.

Row counts grow linearly with ``scale``: about 300 defects and 6 services per
unit. More scale means more services, never denser releases. Everything is
vectorised with numpy (loops run over a fixed number of steps, never over
rows), and one ``numpy.random.default_rng(seed)`` drives every draw, so the
same ``(scale, seed)`` gives byte-identical files.
"""

from __future__ import annotations

import functools
import math
import pathlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["FILE_COLUMNS", "SAMPLE_AS_OF", "generate", "generate_vendor"]

SAMPLE_AS_OF = "2026-06-30T00:00:00Z"

FILE_COLUMNS: dict[str, tuple[str, ...]] = {
    "defects.csv": (
        "defect_id", "title", "description", "severity", "status", "resolution", "type",
        "service", "component", "team", "assignee", "environment", "found_in_release",
        "fixed_in_release", "created_at", "resolved_at", "users_affected", "has_workaround",
        "stack_trace", "labels", "duplicate_of", "deferral_rationale", "rca_link", "segment", "url",
    ),
    "defect_status_history.csv": ("defect_id", "changed_at", "from_status", "to_status", "actor"),
    "deployments.csv": (
        "deployment_id", "service", "release", "environment", "segment", "started_at",
        "finished_at", "status", "commit_sha", "is_hotfix", "rollback_of",
    ),
    "incidents.csv": (
        "incident_id", "title", "severity", "service", "environment", "impact_started_at",
        "detected_at", "acknowledged_at", "resolved_at", "deployment_id", "linked_defect_ids",
        "postmortem_link",
    ),
    "releases.csv": ("service", "release", "code_freeze_at", "planned_release_at", "rca_link"),
    "commits.csv": ("sha", "branch", "committed_at", "author", "message", "files"),
}

Table = dict[str, np.ndarray]
STR = np.dtypes.StringDType()
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

# Environments are generated as codes; the raw names come from per-service styles.
DEV, TEST, STAGING, PRODUCTION = 0, 1, 2, 3
CANONICAL_ENVS = np.array(["dev", "test", "staging", "production"], dtype=STR)

# Deployment status codes.
SUCCEEDED, FAILED, ROLLED_BACK = 0, 1, 2
DEPLOY_STATUS = np.array(["succeeded", "failed", "rolled_back"], dtype=STR)

# Release outcome codes (what happens to its first production deployment).
CLEAN, FAILED_ONCE, ROLLBACK, HOTFIX = 0, 1, 2, 3

# Status codes; the raw name depends on the team's tracker style.
NEW, TRIAGED, IN_PROGRESS, RESOLVED, CLOSED, DEFERRED, REOPENED = range(7)
STATUS_RAW = np.array(
    [
        ["Open", "Triaged", "In Progress", "Resolved", "Closed", "Deferred", "Reopened"],
        # A lighter workflow with no triage or closing step.
        ["To Do", "To Do", "In Progress", "Done", "Done", "On Hold", "To Do"],
    ],
    dtype=STR,
)
CLASSIC, SIMPLE = 0, 1

# Resolution codes.
FIXED, DUPLICATE, WONT_FIX, CANNOT_REPRODUCE = range(4)
RESOLUTION_RAW = np.array(
    [["Fixed", "Duplicate", "Won't Fix", "Cannot Reproduce"], ["Done", "Duplicate", "Won't Do", "Cannot Reproduce"]],
    dtype=STR,
)

# [style, severity S1..S4, variant]: the raw priority names each tracker uses.
SEVERITY_RAW = np.array(
    [
        [["Blocker", "Critical"], ["Major", "Major"], ["Medium", "Normal"], ["Minor", "Trivial"]],
        [["P1", "P1"], ["P2", "P2"], ["P3", "P3"], ["P4", "P4"]],
        [["Highest", "Critical"], ["High", "High"], ["Medium", "Medium"], ["Low", "Lowest"]],
        [["Sev1", "SEV-1"], ["Sev2", "Sev2"], ["Sev3", "Sev3"], ["Sev4", "Sev4"]],
    ],
    dtype=STR,
)
UNKNOWN_SEVERITIES = np.array(["Urgent!", "ASAP"], dtype=STR)
INCIDENT_SEVERITY_RAW = np.array(
    [["SEV-1", "SEV-2", "SEV-3", "SEV-4"], ["P1", "P2", "P3", "P4"], ["Sev1", "Sev2", "Sev3", "Sev4"]], dtype=STR
)

# [style, env dev..production, variant]: raw environment names per service.
ENV_RAW = np.array(
    [
        [["dev", "dev"], ["qa", "qa"], ["stg", "staging"], ["prod", "prod"]],
        [["dev", "dev"], ["test", "test"], ["staging", "staging"], ["production", "production"]],
        [["dev", "development"], ["qa", "test"], ["uat", "uat"], ["prd", "prd"]],
        [["dev", "dev"], ["test", "qa"], ["stg", "preprod"], ["live", "prod"]],
    ],
    dtype=STR,
)


@dataclass(frozen=True)
class _Blueprint:
    """One service family; scale > 1 repeats the families with numbered names."""

    name: str
    key: str
    language: str
    strategy: str  # production rollout: full | canary | bluegreen
    components: tuple[str, str, str, str]
    cadence_weeks: int
    prod_share: float  # share of non-duplicate defects found in production
    volume: float  # relative defect volume
    rollback_prob: float


BLUEPRINTS = (
    _Blueprint("payments", "PAY", "python", "canary", ("invoice", "ledger", "refunds", "gateway"), 2, 0.10, 1.2, 0.08),
    _Blueprint("checkout", "CHK", "java", "full", ("cart", "pricing", "promotions", "orders"), 1, 0.22, 1.3, 0.15),
    _Blueprint("catalog", "CAT", "python", "full", ("products", "inventory", "images", "feeds"), 2, 0.07, 0.9, 0.04),
    _Blueprint("search", "SRCH", "java", "bluegreen", ("indexer", "query", "ranking", "suggest"), 3, 0.14, 0.8, 0.06),
    _Blueprint(
        "accounts", "ACC", "python", "canary", ("login", "profile", "sessions", "permissions"), 2, 0.09, 1.0, 0.05
    ),
    _Blueprint("notifications", "NTF", "java", "full", ("email", "sms", "push", "templates"), 1, 0.16, 0.8, 0.08),
)
STRATEGIES = ("full", "canary", "bluegreen")
TEAM_NAMES = ("Atlas", "Borealis", "Cobalt", "Delta", "Ember", "Fjord", "Granite", "Harbor")
FIRST_NAMES = (
    "Jane", "Omar", "Priya", "Lukas", "Mei", "Carlos", "Aisha", "Tom", "Sofia", "Kenji", "Fatima", "Erik",
    "Nadia", "Diego", "Hannah", "Ravi", "Olga", "Samuel", "Chloe", "Mateo", "Ingrid", "Yusuf", "Lena", "Noah",
)
LAST_NAMES = (
    "Doe", "Haddad", "Sharma", "Weber", "Chen", "Ortiz", "Bello", "Novak", "Rossi", "Tanaka", "Khan", "Berg",
    "Petrova", "Silva", "Schmidt", "Iyer", "Ivanova", "Mensah", "Martin", "Garcia", "Larsen", "Demir", "Fischer",
    "Park",
)
PEOPLE_PER_TEAM = 5

# Stack signatures: [language][error] -> exception, message head, message tail, short name.
ERRORS = {
    "python": (
        ("KeyError", "'order_", "'", "KeyError"),
        ("ValueError", "invalid literal for int() with base 10: '", "x'", "ValueError"),
        ("TimeoutError", "upstream did not respond within 30s (request ", ")", "Timeout"),
        ("AttributeError", "'NoneType' object has no attribute 'amount' (item ", ")", "AttributeError"),
        ("ZeroDivisionError", "division by zero (batch ", ")", "ZeroDivisionError"),
        ("decimal.InvalidOperation", "[<class 'decimal.ConversionSyntax'>] for value ", "", "InvalidOperation"),
    ),
    "java": (
        (
            "java.lang.NullPointerException",
            'Cannot invoke "Order.getTotal()" because "order" is null (id ', ")", "NullPointerException",
        ),
        ("java.lang.IllegalStateException", "Cart ", " already checked out", "IllegalStateException"),
        ("java.sql.SQLTimeoutException", "Query timed out after 30000 ms, statement ", "", "SQLTimeoutException"),
        ("java.lang.ArithmeticException", "/ by zero in batch ", "", "ArithmeticException"),
        (
            "java.util.ConcurrentModificationException",
            "modified during iteration, size ", "", "ConcurrentModificationException",
        ),
        ("java.lang.IllegalArgumentException", "Invalid quantity: -", "", "IllegalArgumentException"),
    ),
}
N_ERRORS = 6
PY_FUNCS = ("render", "charge", "apply_discount", "load", "commit", "serialize", "validate", "handle_request")
JAVA_FUNCS = ("render", "charge", "applyDiscount", "load", "commit", "serialize", "validate", "handleRequest")
HELPER_MODULES = ("db", "client", "models", "utils", "cache", "events")
# With ~35 traced defects per service, 100 signatures of Zipf-like (0.7)
# popularity repeat about a quarter of them: recurrences, not the norm.
SIGNATURES_PER_SERVICE = 100
PY_LIB_FRAME = (
    '  File "/usr/local/lib/python3.11/site-packages/sqlalchemy/engine/base.py", line 1969, in _exec_single_context'
)
JAVA_LIB_FRAME = "\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:897)"

TRACE_ACTIONS = (
    "when saving a draft", "on checkout with a coupon", "after session timeout", "during the nightly export",
    "for multi-currency orders", "on mobile Safari", "under load", "when the list is empty",
)
PLAIN_TITLES = (
    ("", " page shows the wrong total"), ("Slow response from ", " API"),
    ("", ": button misaligned on small screens"), ("Wrong translation in ", " e-mail"),
    ("", " returns 500 for an empty payload"), ("Stale data in ", " after refresh"),
)
DUPLICATE_TITLE = (("", " (again)"), ("Customer reports: ", ""), ("[dup?] ", ""), ("Still seeing: ", ""))
LABELS = ("regression", "customer-reported", "backend", "ui", "performance", "security", "flaky-test")
LABEL_PROB = np.array([0.15, 0.20, 0.35, 0.20, 0.08, 0.04, 0.05])
DEFECT_TYPES = np.array(["Bug", "Bug", "Bug", "Bug", "Regression", "Performance", "Security"], dtype=STR)
DEFERRAL_RATIONALES = np.array(
    [
        "Low impact, revisit after the Q3 re-platforming.",
        "Workaround documented in the runbook; fixing needs a schema change.",
        'Product decision: "not worth it" until usage grows.',
    ],
    dtype=STR,
)
INCIDENT_TITLES = (
    ("Elevated 5xx on ", ""), ("Latency above SLO: ", ""), ("Partial outage: ", " unavailable"),
    ("Spike in failed requests: ", ""),
)
WORK_MESSAGES = (
    "Refactor {c} module", "Bump dependencies", "Improve logging in {c}", "Add metrics for {c}",
    "Update README", "Tidy up {c} tests", "Speed up {c} queries",
)
WORK_COMMITS_PER_RELEASE = 3
TS_OFFSETS_MIN = np.array([60, 120, -300, 330, -240, 540])


# --------------------------------------------------------------------------- helpers


def _s(values: np.ndarray | list[str] | tuple[str, ...]) -> np.ndarray:
    """As a variable-width numpy string array (numbers are written in decimal)."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iub":
        arr = arr.astype(np.int64)
    return arr.astype(STR)


def _cat(*parts: np.ndarray | str) -> np.ndarray:
    return functools.reduce(np.strings.add, parts)  # type: ignore[arg-type]


def _take(table: Table, idx: np.ndarray) -> Table:
    return {name: col[idx] for name, col in table.items()}


def _concat(parts: list[Table]) -> Table:
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def _uniform(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    """Whole seconds drawn uniformly from [lo, hi)."""
    return np.floor(rng.uniform(lo, hi, n)).astype(np.int64)


def _between(rng: np.random.Generator, lo: np.ndarray | int, hi: np.ndarray | int) -> np.ndarray:
    """A uniformly random whole second in [lo, hi) per element."""
    lo, hi = np.asarray(lo, np.int64), np.asarray(hi, np.int64)
    n = int(np.broadcast(lo, hi).size)
    return lo + ((hi - lo) * rng.random(n)).astype(np.int64)


def _quantiles(rng: np.random.Generator, n: int) -> np.ndarray:
    """Like `rng.random(n)`, but evenly spread: `< p` selects round(p * n) rows, not a
    binomial count, so the small data-quality shares hold even at scale 1."""
    return (rng.permutation(n) + 0.5) / max(n, 1)


def _capitalised(text: np.ndarray) -> np.ndarray:
    return _cat(np.strings.upper(np.strings.slice(text, 0, 1)), np.strings.slice(text, 1, None))


def _around(pairs: tuple[tuple[str, str], ...], which: np.ndarray, middle: np.ndarray) -> np.ndarray:
    """`prefix + middle + suffix` with the (prefix, suffix) pair chosen per element."""
    return _cat(_s([p[0] for p in pairs])[which], middle, _s([p[1] for p in pairs])[which])


def _hex(rng: np.random.Generator, n: int) -> np.ndarray:
    """n random 40-hex-digit strings (git-style shas)."""
    if n == 0:
        return np.array([], dtype=STR)
    text = rng.bytes(20 * n).hex().encode("ascii")
    return np.strings.decode(np.frombuffer(text, dtype="S40"), "ascii").astype(STR)


def _numbered(prefix: str, n: int, width: int) -> np.ndarray:
    width = max(width, len(str(n)))
    return _cat(prefix, np.strings.zfill(_s(np.arange(1, n + 1)), width))


def _group_member(sorted_groups: np.ndarray, groups: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A random position inside each query's group of a sorted array (-1 when empty), and the group sizes."""
    lo = np.searchsorted(sorted_groups, groups, "left")
    size = np.searchsorted(sorted_groups, groups, "right") - lo
    pos = lo + np.minimum(np.floor(u * size).astype(np.int64), np.maximum(size - 1, 0))
    return np.where(size > 0, pos, -1), size


def _timestamps(sec: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """ISO-8601 text: mostly UTC 'Z', ~10 % another offset (same instant), ~3 % naive UTC wall time."""
    n = len(sec)
    style = rng.choice(3, size=n, p=[0.87, 0.10, 0.03])
    offset = TS_OFFSETS_MIN[rng.integers(0, len(TS_OFFSETS_MIN), n)]
    missing = sec == MISSING
    shift = np.where(style == 1, offset * MINUTE, 0)
    local = np.where(missing, 0, sec + shift).astype("datetime64[s]")
    text = np.datetime_as_string(local, unit="s").astype(STR)
    sign = np.where(offset < 0, "-", "+").astype(STR)
    hours, minutes = (np.strings.zfill(_s(part), 2) for part in np.divmod(np.abs(offset), 60))
    suffix = _cat(sign, hours, ":", minutes)
    out = np.where(style == 0, _cat(text, "Z"), _cat(text, suffix))
    out = np.where(style == 2, np.strings.replace(text, "T", " "), out)
    return np.where(missing, "", out).astype(STR)


def _label_combinations() -> np.ndarray:
    """Every subset of LABELS as `;`-joined text, indexed by bitmask."""
    return np.array(
        [";".join(lab for bit, lab in enumerate(LABELS) if mask >> bit & 1) for mask in range(1 << len(LABELS))],
        dtype=STR,
    )


def _key(svc: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Sortable (service, instant) key for per-service 'next/previous' look-ups."""
    return svc.astype(np.int64) << 33 | (t.astype(np.int64) - WINDOW_START + (1 << 31))


# --------------------------------------------------------------------------- services


def _services(rng: np.random.Generator, scale: float) -> Table:
    n = max(1, round(6 * scale))
    i = np.arange(n)
    bp = [BLUEPRINTS[k % len(BLUEPRINTS)] for k in range(n)]
    family = i // len(BLUEPRINTS)
    suffix = np.where(family == 0, "", _cat("-", _s(family + 1)))
    key_suffix = np.where(family == 0, "", _s(family + 1))
    team = i * 2 // 3  # 6 services -> 4 teams, two of them owning two services
    team_suffix = np.where(team < len(TEAM_NAMES), "", _cat(" ", _s(team // len(TEAM_NAMES) + 1)))
    base_share = np.array([b.prod_share for b in bp])
    return {
        "name": _cat(_s([b.name for b in bp]), suffix),
        "key": _cat(_s([b.key for b in bp]), key_suffix),
        "java": np.array([b.language == "java" for b in bp]),
        "strategy": np.array([STRATEGIES.index(b.strategy) for b in bp]),
        "components": _s([b.components for b in bp]).reshape(n, 4),
        "cadence": np.array([b.cadence_weeks for b in bp]),
        # Small per-service jitter keeps services of the same family distinct.
        "prod_share": np.clip(base_share + rng.uniform(-0.015, 0.015, n), 0.06, 0.24),
        "volume": np.array([b.volume for b in bp]) * rng.uniform(0.9, 1.1, n),
        "rollback_prob": np.array([b.rollback_prob for b in bp]),
        "team": team,
        "team_name": _cat(_s(TEAM_NAMES)[team % len(TEAM_NAMES)], team_suffix),
        "env_style": i % ENV_RAW.shape[0],
        "sev_style": team % SEVERITY_RAW.shape[0],
        "status_style": team % 2,
        "major": rng.integers(1, 4, n),
        "minor0": rng.integers(3, 9, n),  # releases cross x.9 -> x.10, which text sorting gets wrong
        "id_offset": rng.integers(0, 400, n),
    }


def _people(rng: np.random.Generator, n_teams: int) -> tuple[np.ndarray, np.ndarray]:
    """Per team PEOPLE_PER_TEAM display names and matching e-mail local parts."""
    first = rng.integers(0, len(FIRST_NAMES), (n_teams, PEOPLE_PER_TEAM))
    last = rng.integers(0, len(LAST_NAMES), (n_teams, PEOPLE_PER_TEAM))
    f, l_ = _s(FIRST_NAMES)[first], _s(LAST_NAMES)[last]
    return _cat(f, " ", l_), np.strings.lower(_cat(f, ".", l_))


# --------------------------------------------------------------------------- releases and deployments


def _releases(rng: np.random.Generator, svc: Table) -> Table:
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
    stem = _cat(_s(major), ".", _s(minor), ".")
    u = rng.random(n)
    p_rollback = svc["rollback_prob"][rows]
    outcome = np.select(
        [u < 0.05, u < 0.05 + p_rollback, u < 0.09 + p_rollback], [FAILED_ONCE, ROLLBACK, HOTFIX], CLEAN
    )
    # The first release has nothing to roll back to; late ones have no room for a hotfix.
    no_room = (idx == 0) | (planned > LAST_TROUBLED)
    outcome = np.where(no_room & (outcome != FAILED_ONCE), CLEAN, outcome)
    rca = ((outcome == ROLLBACK) & (rng.random(n) < 0.6)) | (rng.random(n) < 0.04)
    name = _cat(stem, "0")
    return {
        "svc": rows,
        "idx": idx,
        "name": name,
        "planned": planned,
        "freeze": planned - _uniform(rng, 2 * DAY, 4 * DAY, n) // 900 * 900,
        "outcome": outcome,
        "sha": _hex(rng, n),
        "hf_name": _cat(stem, "1"),
        "hf_sha": _hex(rng, n),
        "rca": np.where(rca, _cat("https://wiki.example.com/rca/", svc["name"][rows], "-", name), ""),
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


def _deployments(rng: np.random.Generator, svc: Table, rel: Table) -> Table:
    """All deployments, sorted by finish time, with ids `dep-000001`..."""
    n = len(rel["svc"])
    every = np.arange(n)

    def short(k: int = n) -> np.ndarray:
        return _uniform(rng, 3 * MINUTE, 15 * MINUTE, k)

    def long(k: int = n) -> np.ndarray:
        return _uniform(rng, 8 * MINUTE, 40 * MINUTE, k)

    parts = [
        _deploy_part(rel, every, DEV, rel["freeze"] - _uniform(rng, DAY, 3 * DAY, n), short()),
        _deploy_part(rel, every, TEST, rel["freeze"] + _uniform(rng, 2 * HOUR, 12 * HOUR, n), short()),
        _deploy_part(rel, every, STAGING, rel["planned"] - _uniform(rng, 6 * HOUR, 30 * HOUR, n), short()),
    ]
    strategy = svc["strategy"][rel["svc"]]
    colour = np.where(rel["idx"] % 2 == 0, "blue", "green").astype(STR)
    other_colour = np.where(rel["idx"] % 2 == 0, "green", "blue").astype(STR)
    is_canary, is_bluegreen = strategy == STRATEGIES.index("canary"), strategy == STRATEGIES.index("bluegreen")
    primary_segment = np.where(is_canary, "canary", np.where(is_bluegreen, colour, "full")).astype(STR)
    outcome = rel["outcome"]
    primary_finish = rel["planned"] + _uniform(rng, 0, 3 * HOUR, n)
    primary_status = np.select([outcome == FAILED_ONCE, outcome == ROLLBACK], [FAILED, ROLLED_BACK], SUCCEEDED)
    primary_offset = 3 * n  # keys are positions in the concatenation below
    parts.append(
        _deploy_part(
            rel, every, PRODUCTION, primary_finish, long(), segment=primary_segment, status=primary_status
        )
    )

    retry = np.flatnonzero(outcome == FAILED_ONCE)
    retry_finish = primary_finish[retry] + _uniform(rng, HOUR, 4 * HOUR, len(retry))
    parts.append(
        _deploy_part(rel, retry, PRODUCTION, retry_finish, long(len(retry)), segment=primary_segment[retry])
    )

    # A rollback re-deploys what production ran before: the previous release, or its hotfix.
    back = np.flatnonzero(outcome == ROLLBACK)
    prev = back - 1
    prev_hotfixed = np.isin(outcome[prev], (ROLLBACK, HOTFIX))
    back_finish = primary_finish[back] + _uniform(rng, HOUR // 2, 6 * HOUR, len(back))
    parts.append(
        _deploy_part(
            rel, back, PRODUCTION, back_finish, _uniform(rng, 5 * MINUTE, 20 * MINUTE, len(back)),
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
            rel, canary, PRODUCTION, canary_base[canary] + _uniform(rng, 2 * HOUR, 8 * HOUR, len(canary)),
            long(len(canary)), segment="full",
        )
    )

    fix = np.flatnonzero(np.isin(outcome, (ROLLBACK, HOTFIX)))
    fix_base = primary_finish.copy()
    fix_base[back] = back_finish
    fix_staging = fix_base[fix] + _uniform(rng, 12 * HOUR, 48 * HOUR, len(fix))
    hotfix_kw = {"release": rel["hf_name"][fix], "sha": rel["hf_sha"][fix], "hotfix": True}
    parts.append(_deploy_part(rel, fix, STAGING, fix_staging, short(len(fix)), **hotfix_kw))
    parts.append(
        _deploy_part(
            rel, fix, PRODUCTION, fix_staging + _uniform(rng, HOUR, 4 * HOUR, len(fix)), long(len(fix)),
            segment=np.where(is_bluegreen[fix], other_colour[fix], "full").astype(STR),
            **hotfix_kw,
        )
    )

    dep = _concat(parts)
    order = np.lexsort((np.arange(len(dep["svc"])), dep["started"], dep["finished"]))
    ids_by_key = np.empty(len(order), dtype=STR)
    ids_by_key[order] = _numbered("dep-", len(order), 6)
    dep["id"] = ids_by_key
    target = np.maximum(dep["rollback_of"], 0)
    dep["rollback_id"] = np.where(dep["rollback_of"] >= 0, ids_by_key[target], "").astype(STR)
    return _take(dep, order)


def _release_pool(dep: Table) -> Table:
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


# --------------------------------------------------------------------------- defects


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

    pick, _ = _group_member(pool["group"], s * 4 + env, rng.random(n))
    finished, nxt = pool["finished"][pick], pool["next_finished"][pick]
    mean_lag = np.array([20, 30, 24, 96])[env] * HOUR
    lag = np.maximum(rng.exponential(1.0, n) * mean_lag, 5 * MINUTE).astype(np.int64)
    # Pre-release defects are found before the next release lands there (so the
    # fallback attribution agrees); production ones may surface later.
    bounded = (nxt != MISSING) & (env != PRODUCTION)
    room = np.where(bounded, (nxt - finished) * 0.9, WINDOW_END - finished).astype(np.int64)
    lag = np.where(lag > room, _between(rng, 0, room), lag)
    created = finished + np.maximum(lag, 60)
    release = pool["release"][pick]
    found = release.copy()

    roll = _quantiles(rng, n)
    late = np.zeros(n, bool)
    late[rng.choice(n, size=n_late, replace=False)] = True
    negative = ~late & (roll < 0.01)
    no_env = ~late & ~is_prod & (roll >= 0.01) & (roll < 0.02)
    before_first = ~late & (roll >= 0.02) & (roll < 0.03)
    fallback = ~late & (roll >= 0.03) & (roll < 0.21)

    created = np.where(negative, finished - _uniform(rng, 10 * MINUTE, 8 * HOUR, n), created)
    first_in_env = pool["finished"][np.searchsorted(pool["group"], s * 4 + env, "left")]  # every group exists
    created = np.where(before_first, _between(rng, WINDOW_START, first_in_env), created)
    created = np.where(late, AS_OF + _uniform(rng, HOUR, 48 * HOUR, n), created)
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


def _signatures(rng: np.random.Generator, n_svc: int) -> Table:
    shape = (n_svc, SIGNATURES_PER_SERVICE)
    return {
        "component": rng.integers(0, 4, shape),
        "error": rng.integers(0, N_ERRORS, shape),
        "func1": rng.integers(0, len(PY_FUNCS), shape),
        "func2": rng.integers(0, len(PY_FUNCS), shape),
        "helper": rng.integers(0, len(HELPER_MODULES), shape),
        "line1": rng.integers(40, 600, shape),
        "line2": rng.integers(20, 400, shape),
        "action": rng.integers(0, len(TRACE_ACTIONS), shape),
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
    dup_resolved = d["created"] + _uniform(rng, HOUR // 2, 72 * HOUR, n)
    dup_resolved = np.where(dup_resolved > AS_OF, _between(rng, d["created"], AS_OF), dup_resolved)
    resolved = np.where(d["is_dup"], np.maximum(dup_resolved, d["created"] + MINUTE), resolved)
    done = done | d["is_dup"]
    kind = np.where(d["is_dup"], DUPLICATE, np.where(done, kind, -1))

    style = svc["status_style"][d["svc"]]
    open_state = rng.choice([NEW, TRIAGED, IN_PROGRESS], size=n, p=[0.3, 0.3, 0.4])
    open_state = np.where(backlog & (sev >= 2) & (rng.random(n) < 0.3), DEFERRED, open_state)
    open_state = np.where(d["late"], NEW, open_state)
    open_state = np.where((style == SIMPLE) & (open_state == TRIAGED), NEW, open_state)
    closed_at = resolved + _uniform(rng, HOUR, 10 * DAY, n)
    closed = done & (style == CLASSIC) & (rng.random(n) < 0.5) & (closed_at <= AS_OF)
    d["sev"] = sev
    d["kind"] = kind
    d["state"] = np.where(done, np.where(closed, CLOSED, RESOLVED), open_state)
    d["resolved"] = np.where(done, resolved, MISSING)
    d["closed_at"] = np.where(closed, closed_at, MISSING)
    d["style"] = style
    d["reopened"] = (kind == FIXED) & (_quantiles(rng, n) < 0.05)
    d["has_history"] = ~d["late"] & (rng.random(n) < 0.92)


def _defects(rng: np.random.Generator, svc: Table, pool: Table, people: np.ndarray, n_total: int) -> Table:
    """Base defects plus duplicates of earlier ones, numbered per service in creation order."""
    n_dup = round(0.08 * n_total)
    n_late = max(1, math.ceil(0.008 * n_total))
    n_base = n_total - n_dup
    base = _base_defects(rng, svc, pool, n_base, n_late)
    sig = _signatures(rng, len(svc["name"]))
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
    dup = _take(base, orig)
    n_dup = len(orig)
    delay = np.maximum(rng.exponential(72 * HOUR, n_dup), 10 * MINUTE).astype(np.int64)
    room = WINDOW_END + 12 * HOUR - dup["created"]
    delay = np.where(delay > room, np.maximum(_between(rng, 0, room), MINUTE), delay)
    dup["created"] = dup["created"] + delay
    dup["found"] = np.where(rng.random(n_dup) < 0.2, "", dup["found"]).astype(STR)
    dup["segment_roll"] = rng.random(n_dup)
    # Same stack, other line numbers: the duplicate was hit on a later build.
    dup["line1"] = dup["line1"] + rng.integers(1, 13, n_dup)
    dup["line2"] = dup["line2"] + rng.integers(1, 13, n_dup)

    d = _concat([base, dup])
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
    d["id"] = _cat(svc["key"][d["svc"]], "-", _s(number))
    d["duplicate_of"] = np.where(d["is_dup"], d["id"][d["orig"]], "").astype(STR)
    del d["orig"]  # row positions change with the sort below
    d = _take(d, np.lexsort((np.arange(n), d["created"])))
    _people_and_places(rng, d, svc, people)
    return d


def _stack_traces(d: Table, svc: Table) -> np.ndarray:
    n = len(d["svc"])
    java = svc["java"][d["svc"]]
    err = d["error"] + np.where(java, N_ERRORS, 0)
    table = ERRORS["python"] + ERRORS["java"]
    exc, head, tail = (_s([e[k] for e in table])[err] for k in range(3))
    detail = _s(1000 + (d["line1"] * 7919 + d["line2"] * 104729) % 90000)  # an id that varies per report
    message = _cat(head, detail, tail)
    name = svc["name"][d["svc"]]
    comp = svc["components"][d["svc"], d["component"]]
    helper = _s(HELPER_MODULES)[d["helper"]]
    py_f1, py_f2 = _s(PY_FUNCS)[d["func1"]], _s(PY_FUNCS)[d["func2"]]
    l1, l2 = _s(d["line1"]), _s(d["line2"])
    python = _cat(
        "Traceback (most recent call last):\n",
        '  File "/srv/app/', name, "/", comp, '.py", line ', l1, ", in ", py_f1, "\n",
        '  File "/srv/app/', name, "/", helper, '.py", line ', l2, ", in ", py_f2, "\n",
        PY_LIB_FRAME, "\n", exc, ": ", message,
    )
    comp_class = _cat(_capitalised(comp), "Service")
    helper_class = _cat(_capitalised(helper), "Repository")
    jv_f1, jv_f2 = _s(JAVA_FUNCS)[d["func1"]], _s(JAVA_FUNCS)[d["func2"]]
    package = _cat("com.example.", np.strings.replace(name, "-", ""), ".")
    java_trace = _cat(
        exc, ": ", message, "\n",
        "\tat ", package, comp_class, ".", jv_f1, "(", comp_class, ".java:", l1, ")\n",
        "\tat ", package, helper_class, ".", jv_f2, "(", helper_class, ".java:", l2, ")\n",
        JAVA_LIB_FRAME,
    )
    trace = np.where(java, java_trace, python)
    return np.where(d["sig"] >= 0, trace, np.full(n, "", dtype=STR)).astype(STR)


def _people_and_places(rng: np.random.Generator, d: Table, svc: Table, people: np.ndarray) -> None:
    """Raw environment name and assignee (in place): history and free text use them too."""
    n = len(d["svc"])
    d["env_raw"] = np.where(
        d["env"] >= 0, ENV_RAW[svc["env_style"][d["svc"]], np.maximum(d["env"], 0), rng.integers(0, 2, n)], ""
    ).astype(STR)
    unowned = rng.random(n) < np.where(d["state"] == NEW, 0.35, 0.06)
    d["assignee"] = np.where(unowned, "", people[d["team"], rng.integers(0, PEOPLE_PER_TEAM, n)]).astype(STR)


def _defect_texts(rng: np.random.Generator, d: Table, svc: Table, emails: np.ndarray) -> Table:
    """Title and description: free text with e-mails, IPs and people's names for the masking step."""
    n = len(d["svc"])
    comp = svc["components"][d["svc"], d["component"]]
    java = svc["java"][d["svc"]]
    short = _s([e[3] for e in ERRORS["python"] + ERRORS["java"]])[d["error"] + np.where(java, N_ERRORS, 0)]
    trace_title = _cat(short, " in ", comp, " ", _s(TRACE_ACTIONS)[d["action"]])
    plain = rng.integers(0, len(PLAIN_TITLES), n)
    plain_title = _capitalised(_around(PLAIN_TITLES, plain, comp))
    title = np.where(d["sig"] >= 0, trace_title, plain_title).astype(STR)
    variant = rng.integers(0, len(DUPLICATE_TITLE), n)
    title = np.where(d["is_dup"], _around(DUPLICATE_TITLE, variant, title), title).astype(STR)

    assignee = d["assignee"]
    env_text = np.where(d["env"] >= 0, d["env_raw"], "an unknown environment").astype(STR)
    got = np.where(d["sig"] >= 0, _cat("got ", short), "got a blank page")
    description = _cat(
        "Seen in ", env_text, " on ", svc["name"][d["svc"]], ".\n",
        "Steps to reproduce:\n1. Open the ", comp, " screen, pick any item\n",
        '2. Press "Save"\n', "Expected: success, ", got, ".",
    )
    roll = _quantiles(rng, n)
    reporter = emails[rng.integers(0, emails.shape[0], n), rng.integers(0, PEOPLE_PER_TEAM, n)]
    domain = np.where(rng.random(n) < 0.5, "@example.com", "@customer.example.org")
    octet = _s(rng.integers(1, 255, (n, 3)))
    ip = np.select(
        [rng.random(n) < 0.4, rng.random(n) < 0.5],
        [_cat("10.", octet[:, 0], ".", octet[:, 1], ".", octet[:, 2]), _cat("192.168.", octet[:, 1], ".", octet[:, 2])],
        _cat("203.0.113.", octet[:, 2]),
    )
    # ~8 % name an e-mail, ~6 % an IP, some both: about one in ten carries either.
    email_line = _cat("\nReported by ", reporter, domain, ", please keep them posted.")
    ip_line = _cat("\nRequests came from ", ip, " around the time of the error.")
    mention_line = _cat("\n", assignee, " thinks this is the same as last sprint's issue.")
    mention = (rng.random(n) < 0.08) & (assignee != "")
    description = np.where(roll < 0.08, _cat(description, email_line), description)
    description = np.where((roll > 0.05) & (roll < 0.11), _cat(description, ip_line), description)
    description = np.where(mention, _cat(description, mention_line), description)
    return {"title": title, "description": description.astype(STR)}


def _defect_rows(rng: np.random.Generator, d: Table, svc: Table, rel: Table, emails: np.ndarray) -> Table:
    n = len(d["svc"])
    s = d["svc"]
    texts = _defect_texts(rng, d, svc, emails)
    severity = SEVERITY_RAW[svc["sev_style"][s], d["sev"], rng.integers(0, 2, n)]
    severity = np.where(_quantiles(rng, n) < 0.01, UNKNOWN_SEVERITIES[rng.integers(0, 2, n)], severity).astype(STR)
    kind_safe = np.maximum(d["kind"], 0)
    resolution = np.where(d["kind"] >= 0, RESOLUTION_RAW[d["style"], kind_safe], "").astype(STR)

    # The fix ships in the service's first release planned at or after the resolution.
    fixed = d["kind"] == FIXED
    rel_key = _key(rel["svc"], rel["planned"])
    nxt = np.searchsorted(rel_key, _key(s, np.where(fixed, d["resolved"], WINDOW_START)), "left")
    nxt_safe = np.minimum(nxt, len(rel_key) - 1)
    has_next = fixed & (nxt < len(rel_key)) & (rel["svc"][nxt_safe] == s)
    fixed_in = np.where(has_next, rel["name"][nxt_safe], "").astype(STR)

    prod = d["env"] == PRODUCTION
    users = np.where(
        prod, np.maximum(rng.lognormal(np.log(40), 1.6, n), 1), rng.integers(0, 4, n)
    ).astype(np.int64)
    users_text = np.where(rng.random(n) < 0.25, "", _s(users)).astype(STR)
    workaround = np.array(["true", "false", ""], dtype=STR)[rng.choice(3, size=n, p=[0.3, 0.45, 0.25])]
    label_mask = (rng.random((n, len(LABELS))) < LABEL_PROB) @ (1 << np.arange(len(LABELS)))
    label_mask |= np.where(prod & (rng.random(n) < 0.5), 2, 0)  # escapes are often customer-reported
    strategy = svc["strategy"][s]
    roll = d["segment_roll"]
    segment = np.select(
        [
            strategy == STRATEGIES.index("canary"),
            strategy == STRATEGIES.index("bluegreen"),
        ],
        [
            np.where(roll < 0.35, "canary", np.where(roll < 0.8, "full", "")).astype(STR),
            np.where(roll < 0.4, "blue", np.where(roll < 0.8, "green", "")).astype(STR),
        ],
        np.where(roll < 0.7, "full", "").astype(STR),
    )
    segment = np.where(prod, segment, "").astype(STR)
    rca = prod & (d["sev"] <= 1) & (d["kind"] >= 0) & (rng.random(n) < 0.5)
    deferred = d["state"] == DEFERRED
    rationale = np.where(
        deferred & (rng.random(n) < 0.6), DEFERRAL_RATIONALES[rng.integers(0, len(DEFERRAL_RATIONALES), n)], ""
    ).astype(STR)
    columns = {
        "defect_id": d["id"],
        "title": texts["title"],
        "description": texts["description"],
        "severity": severity,
        "status": STATUS_RAW[d["style"], d["state"]],
        "resolution": resolution,
        "type": DEFECT_TYPES[rng.integers(0, len(DEFECT_TYPES), n)],
        "service": svc["name"][s],
        "component": svc["components"][s, d["component"]],
        "team": svc["team_name"][s],
        "assignee": d["assignee"],
        "environment": d["env_raw"],
        "found_in_release": d["found"],
        "fixed_in_release": fixed_in,
        "created_at": _timestamps(d["created"], rng),
        "resolved_at": _timestamps(d["resolved"], rng),
        "users_affected": users_text,
        "has_workaround": workaround,
        "stack_trace": _stack_traces(d, svc),
        "labels": _label_combinations()[label_mask],
        "duplicate_of": d["duplicate_of"],
        "deferral_rationale": rationale,
        "rca_link": np.where(rca, _cat("https://wiki.example.com/rca/", d["id"]), "").astype(STR),
        "segment": segment,
        "url": _cat("https://tracker.example.com/browse/", d["id"]),
    }
    return columns


# --------------------------------------------------------------------------- status history


def _history_rows(rng: np.random.Generator, d: Table, people: np.ndarray) -> Table:
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
    hist = _concat(parts)
    hist = _take(hist, np.lexsort((hist["step"], hist["at"], hist["row"])))
    rows = hist["row"]
    style = d["style"][rows]
    lead = people[d["team"][rows], 0]
    actor = np.where(d["assignee"][rows] != "", d["assignee"][rows], lead)
    actor = np.where(hist["step"] == 0, "tracker-bot", actor).astype(STR)
    columns = {
        "defect_id": d["id"][rows],
        "changed_at": _timestamps(hist["at"], rng),
        "from_status": np.where(hist["from"] >= 0, STATUS_RAW[style, np.maximum(hist["from"], 0)], "").astype(STR),
        "to_status": STATUS_RAW[style, hist["to"]],
        "actor": actor,
    }
    return columns


# --------------------------------------------------------------------------- incidents


def _incident_rows(rng: np.random.Generator, svc: Table, dep: Table, d: Table, n_total: int) -> Table:
    prod_pos = np.flatnonzero((dep["env"] == PRODUCTION) & (dep["status"] != FAILED))
    rolled = np.flatnonzero(dep["status"] == ROLLED_BACK)
    rolled = rolled[rng.random(len(rolled)) < 0.9]
    n_orphan = max(1, round(0.05 * n_total))
    n_rest = max(n_total - len(rolled) - n_orphan, 0)
    # Releases that leak defects into production also cause the incidents, so
    # an incident can usually link the defects behind it.
    escaped = np.flatnonzero((d["env"] == PRODUCTION) & ~d["is_dup"] & ~d["late"] & (d["release"] != ""))
    dep_code, escaped_code = _shared_codes(
        _cat(svc["name"][dep["svc"]], "|", dep["release"]),
        _cat(svc["name"][d["svc"][escaped]], "|", d["release"][escaped]),
    )
    escapes = np.bincount(escaped_code, minlength=int(dep_code.max()) + 1)[dep_code]
    weight = (svc["prod_share"][dep["svc"]] * (0.1 + escapes))[prod_pos]
    cause = np.concatenate([rolled, prod_pos[rng.choice(len(prod_pos), n_rest, p=weight / weight.sum())]])
    n_caused = len(cause)

    # A rolled-back deployment hurt within minutes; others within the 168 h window.
    quick = np.arange(n_caused) < len(rolled)
    slow = np.clip(rng.exponential(30 * HOUR, n_caused), 5 * MINUTE, 160 * HOUR).astype(np.int64)
    lag = np.where(quick, _uniform(rng, 2 * MINUTE, 25 * MINUTE, n_caused), slow)
    room = WINDOW_END - dep["finished"][cause]
    lag = np.where(lag > room, _between(rng, 0, room), lag)
    impact_caused = dep["finished"][cause] + np.maximum(lag, MINUTE)
    # A rollback names its cause; otherwise ~30 % leave attribution to the time window.
    with_id = quick | (rng.random(n_caused) >= 0.3)

    # Unattributable: impact before the service's first production deployment.
    orphan_svc = rng.integers(0, len(svc["name"]), n_orphan)
    first_prod = np.full(len(svc["name"]), WINDOW_END)
    np.minimum.at(first_prod, dep["svc"][prod_pos], dep["finished"][prod_pos])
    impact_orphan = _between(rng, WINDOW_START, first_prod[orphan_svc] - HOUR)

    n = n_caused + n_orphan
    s = np.concatenate([dep["svc"][cause], orphan_svc])
    impact = np.concatenate([impact_caused, impact_orphan])
    dep_id = np.concatenate([np.where(with_id, dep["id"][cause], ""), np.full(n_orphan, "")]).astype(STR)
    release_code = np.concatenate([dep_code[cause], np.full(n_orphan, -1)])
    to_detect = np.clip(rng.lognormal(np.log(20 * MINUTE), 1.0, n), MINUTE, 12 * HOUR).astype(np.int64)
    detected = impact + to_detect
    acknowledged = detected + _uniform(rng, MINUTE, 30 * MINUTE, n)
    resolved = acknowledged + np.maximum(rng.lognormal(np.log(3 * HOUR), 1.0, n), 5 * MINUTE).astype(np.int64)
    resolved = np.where((resolved > AS_OF) | (_quantiles(rng, n) < 0.08), MISSING, resolved)
    impact = np.where((np.arange(n) < n_caused) & (_quantiles(rng, n) < 0.05), MISSING, impact)
    sev = np.where(
        np.concatenate([quick, np.zeros(n_orphan, bool)]),
        rng.choice(4, size=n, p=[0.4, 0.4, 0.2, 0.0]),
        rng.choice(4, size=n, p=[0.1, 0.3, 0.4, 0.2]),
    )

    links = _incident_links(rng, release_code, d["id"][escaped], escaped_code)
    order = np.lexsort((np.arange(n), detected))
    ids = np.empty(n, dtype=STR)
    ids[order] = _numbered("INC-", n, 5)
    comp = svc["components"][s, rng.integers(0, 4, n)]
    t = rng.integers(0, len(INCIDENT_TITLES), n)
    title = _around(INCIDENT_TITLES, t, _cat(svc["name"][s], " ", comp))
    postmortem = (sev <= 1) & (rng.random(n) < 0.6)
    columns = {
        "incident_id": ids,
        "title": title,
        "severity": INCIDENT_SEVERITY_RAW[s % INCIDENT_SEVERITY_RAW.shape[0], sev],
        "service": svc["name"][s],
        "environment": np.array(["production", "", "prod"], dtype=STR)[rng.choice(3, size=n, p=[0.65, 0.25, 0.10])],
        "impact_started_at": _timestamps(impact, rng),
        "detected_at": _timestamps(detected, rng),
        "acknowledged_at": _timestamps(acknowledged, rng),
        "resolved_at": _timestamps(resolved, rng),
        "deployment_id": dep_id,
        "linked_defect_ids": links,
        "postmortem_link": np.where(postmortem, _cat("https://wiki.example.com/postmortem/", ids), "").astype(STR),
    }
    return _take(columns, order)


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
    first, size = _group_member(sorted_code, release_code, rng.random(n))
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
    return np.where(two, _cat(one, ";", sorted_ids[np.where(two, second, 0)]), one).astype(STR)


# --------------------------------------------------------------------------- commits and releases


def _paths(svc: Table, s: np.ndarray, comp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Source and test file of a component, in the layout its language uses."""
    name = svc["name"][s]
    pkg = np.strings.replace(name, "-", "_")
    c = svc["components"][s, comp]
    cls = _cat(_capitalised(c), "Service")
    java_pkg = np.strings.replace(name, "-", "")
    java = svc["java"][s]
    src = np.where(
        java,
        _cat("services/", name, "/src/main/java/com/example/", java_pkg, "/", cls, ".java"),
        _cat("services/", name, "/src/", pkg, "/", c, ".py"),
    )
    test = np.where(
        java,
        _cat("services/", name, "/src/test/java/com/example/", java_pkg, "/", cls, "Test.java"),
        _cat("services/", name, "/tests/test_", c, ".py"),
    )
    return src.astype(STR), test.astype(STR)


def _first_finish_by_sha(dep: Table, shas: np.ndarray) -> np.ndarray:
    """Finish of the first deployment of each commit sha (deployments are sorted by finish)."""
    first = pd.Series(dep["finished"], index=dep["sha"].astype(object))
    first = first[~first.index.duplicated(keep="first")]
    return first.reindex(shas.astype(object)).to_numpy(dtype=np.int64)


def _release_files(svc: Table, s: np.ndarray) -> np.ndarray:
    name = svc["name"][s]
    return _cat("services/", name, "/CHANGELOG.md;services/", name, "/VERSION")


def _commit_rows(
    rng: np.random.Generator, svc: Table, rel: Table, dep: Table, d: Table, people: np.ndarray
) -> Table:
    # Fix commits name the defect they fix, shortly before it was resolved.
    fix = np.flatnonzero((d["kind"] == FIXED) & (rng.random(len(d["svc"])) < 0.75))
    nf = len(fix)
    fs = d["svc"][fix]
    before = _uniform(rng, HOUR // 2, 36 * HOUR, nf)
    fix_at = np.maximum(d["resolved"][fix] - before, d["created"][fix] + (d["resolved"][fix] - d["created"][fix]) // 2)
    key = d["id"][fix]
    src, test = _paths(svc, fs, d["component"][fix])
    extra_src, _ = _paths(svc, fs, rng.integers(0, 4, nf))
    files = _cat(src, ";", test)
    files = np.where((rng.random(nf) < 0.3) & (extra_src != src), _cat(files, ";", extra_src), files)
    form = rng.integers(0, 3, nf)
    comp = svc["components"][fs, d["component"][fix]]
    message = np.select(
        [form == 0, form == 1],
        [_cat(key, ": fix ", comp, " error handling"), _cat("Fix ", comp, " regression (", key, ")")],
        _cat("[", key, "] guard against missing ", comp, " data"),
    )
    fix_part = {
        "sha": _hex(rng, nf),
        "branch": np.where(rng.random(nf) < 0.4, "main", _cat("feature/", key)).astype(STR),
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
        "at": np.concatenate([rel_first, hot_first]) - _uniform(rng, 10 * MINUTE, 3 * HOUR, nr + len(hot)),
        "svc": np.concatenate([rel["svc"], rel["svc"][hot]]),
        "message": np.concatenate([_cat("Release ", rel["name"]), _cat("Hotfix ", rel["hf_name"][hot])]),
        "files": _release_files(svc, np.concatenate([rel["svc"], rel["svc"][hot]])),
    }

    # Everyday work that names no defect (COMMIT_UNLINKED when it lands on main).
    wr = np.repeat(np.arange(nr), WORK_COMMITS_PER_RELEASE)
    nw = len(wr)
    ws = rel["svc"][wr]
    wcomp = rng.integers(0, 4, nw)
    work_comp = svc["components"][ws, wcomp]
    template = _s(WORK_MESSAGES)[rng.integers(0, len(WORK_MESSAGES), nw)]
    wsrc, wtest = _paths(svc, ws, wcomp)
    work_part = {
        "sha": _hex(rng, nw),
        "branch": np.where(rng.random(nw) < 0.6, "main", _cat("feature/", work_comp, "-cleanup")).astype(STR),
        "at": rel["freeze"][wr] - _uniform(rng, HOUR, 4 * DAY, nw),
        "svc": ws,
        "message": np.strings.replace(template, "{c}", work_comp),
        "files": np.where(rng.random(nw) < 0.5, _cat(wsrc, ";", wtest), wsrc).astype(STR),
    }

    c = _concat([fix_part, release_part, work_part])
    n = len(c["sha"])
    order = np.lexsort((np.arange(n), c["at"]))
    team = svc["team"][c["svc"]]
    columns = {
        "sha": c["sha"],
        "branch": c["branch"],
        "committed_at": _timestamps(c["at"], rng),
        "author": people[team, rng.integers(0, PEOPLE_PER_TEAM, n)],
        "message": c["message"],
        "files": c["files"],
    }
    return _take(columns, order)


def _release_rows(rng: np.random.Generator, svc: Table, rel: Table) -> Table:
    columns = {
        "service": svc["name"][rel["svc"]],
        "release": rel["name"],
        "code_freeze_at": _timestamps(rel["freeze"], rng),
        "planned_release_at": _timestamps(rel["planned"], rng),
        "rca_link": rel["rca"],
    }
    return columns


def _deployment_rows(rng: np.random.Generator, svc: Table, dep: Table) -> Table:
    columns = {
        "deployment_id": dep["id"],
        "service": svc["name"][dep["svc"]],
        "release": dep["release"],
        "environment": CANONICAL_ENVS[dep["env"]],
        "segment": dep["segment"],
        "started_at": _timestamps(dep["started"], rng),
        "finished_at": _timestamps(dep["finished"], rng),
        "status": DEPLOY_STATUS[dep["status"]],
        "commit_sha": dep["sha"],
        "is_hotfix": np.where(dep["hotfix"], "true", "false").astype(STR),
        "rollback_of": dep["rollback_id"],
    }
    return columns


# --------------------------------------------------------------------------- output


WRITE_CHUNK_ROWS = 200_000  # bounds the Python string objects alive while writing


def _write(name: str, table: Table, out_dir: pathlib.Path) -> int:
    """Write one canonical CSV (RFC 4180 quoting, UTF-8, LF line ends on every platform); return its rows."""
    if tuple(table) != FILE_COLUMNS[name]:
        raise AssertionError(f"{name}: columns {tuple(table)} differ from the contract")
    n = len(next(iter(table.values())))
    with open(out_dir / name, "w", encoding="utf-8", newline="") as handle:
        for lo in range(0, max(n, 1), WRITE_CHUNK_ROWS):
            rows = slice(lo, lo + WRITE_CHUNK_ROWS)
            chunk = pd.DataFrame({col: np.asarray(v[rows], dtype=STR).astype(object) for col, v in table.items()})
            chunk.to_csv(handle, index=False, header=lo == 0, lineterminator="\n")
    return n


def generate(out_dir: pathlib.Path, scale: float = 1.0, seed: int = 42) -> dict[str, int]:
    """Write the six canonical CSV exports into ``out_dir``; return {file name: data rows}."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    rng = np.random.default_rng(seed)
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    svc = _services(rng, scale)
    people, emails = _people(rng, int(svc["team"].max()) + 1)
    rel = _releases(rng, svc)
    dep = _deployments(rng, svc, rel)
    pool = _release_pool(dep)
    n_defects = max(5, round(300 * scale))
    d = _defects(rng, svc, pool, people, n_defects)

    # One file at a time, so only one file's text is in memory at large scale.
    counts = {"releases.csv": _write("releases.csv", _release_rows(rng, svc, rel), out_dir)}
    counts["deployments.csv"] = _write("deployments.csv", _deployment_rows(rng, svc, dep), out_dir)
    counts["defects.csv"] = _write("defects.csv", _defect_rows(rng, d, svc, rel, emails), out_dir)
    counts["defect_status_history.csv"] = _write("defect_status_history.csv", _history_rows(rng, d, people), out_dir)
    n_incidents = max(1, round(n_defects / 8))
    counts["incidents.csv"] = _write("incidents.csv", _incident_rows(rng, svc, dep, d, n_incidents), out_dir)
    counts["commits.csv"] = _write("commits.csv", _commit_rows(rng, svc, rel, dep, d, people), out_dir)
    return {name: counts[name] for name in FILE_COLUMNS}


# Canonical files the vendor formats replace: each is written by the tool that really exports it.
VENDOR_REPLACES = ("defects.csv", "defect_status_history.csv", "incidents.csv")


def generate_vendor(out_dir: pathlib.Path, scale: float = 1.0, seed: int = 42) -> dict[str, int]:
    """The same data as `generate`, as the tools export it: Jira search JSON with changelog
    (defects, status history), PagerDuty incidents JSON, JUnit and Cobertura XML from CI,
    and canonical CSVs for what has no vendor writer (deployments, releases, commits).

    Built from the canonical files, so a build of either folder gives the same marts.
    """
    from pipelines.vendor import ci, jira, pagerduty

    out_dir = pathlib.Path(out_dir)
    counts = generate(out_dir, scale=scale, seed=seed)
    frames = {
        name.removesuffix(".csv"): pd.read_csv(out_dir / name, dtype=str, keep_default_na=False)
        for name in FILE_COLUMNS
    }
    written = {name: rows for name, rows in counts.items() if name not in VENDOR_REPLACES}
    for writer in (jira, pagerduty, ci):
        written.update(writer.write(frames, out_dir))
    for name in VENDOR_REPLACES:
        (out_dir / name).unlink()
    return written
