"""The rows of defects.csv: raw vocabularies, free text with personal data, labels, fix releases."""

from __future__ import annotations

import numpy as np

from pipelines.synthetic.arrays import (
    STR,
    Table,
    around,
    as_text,
    capitalised,
    cat,
    quantiles,
)
from pipelines.synthetic.codes import (
    DEFERRED,
    FIXED,
    PRODUCTION,
    RESOLUTION_RAW,
    SEVERITY_RAW,
    STATUS_RAW,
    UNKNOWN_SEVERITIES,
)
from pipelines.synthetic.organisation import PEOPLE_PER_TEAM, STRATEGIES
from pipelines.synthetic.stack_traces import (
    ERRORS,
    N_ERRORS,
    TRACE_ACTIONS,
    stack_traces,
)
from pipelines.synthetic.timeline import WINDOW_START, timestamps

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


def _label_combinations() -> np.ndarray:
    """Every subset of LABELS as `;`-joined text, indexed by bitmask."""
    return np.array(
        [";".join(lab for bit, lab in enumerate(LABELS) if mask >> bit & 1) for mask in range(1 << len(LABELS))],
        dtype=STR,
    )


def _key(svc: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Sortable (service, instant) key for per-service 'next/previous' look-ups."""
    return svc.astype(np.int64) << 33 | (t.astype(np.int64) - WINDOW_START + (1 << 31))


def _defect_texts(rng: np.random.Generator, d: Table, svc: Table, emails: np.ndarray) -> Table:
    """Title and description: free text with e-mails, IPs and people's names for the masking step."""
    n = len(d["svc"])
    comp = svc["components"][d["svc"], d["component"]]
    java = svc["java"][d["svc"]]
    short = as_text([e[3] for e in ERRORS["python"] + ERRORS["java"]])[d["error"] + np.where(java, N_ERRORS, 0)]
    trace_title = cat(short, " in ", comp, " ", as_text(TRACE_ACTIONS)[d["action"]])
    plain = rng.integers(0, len(PLAIN_TITLES), n)
    plain_title = capitalised(around(PLAIN_TITLES, plain, comp))
    title = np.where(d["sig"] >= 0, trace_title, plain_title).astype(STR)
    variant = rng.integers(0, len(DUPLICATE_TITLE), n)
    title = np.where(d["is_dup"], around(DUPLICATE_TITLE, variant, title), title).astype(STR)

    assignee = d["assignee"]
    env_text = np.where(d["env"] >= 0, d["env_raw"], "an unknown environment").astype(STR)
    got = np.where(d["sig"] >= 0, cat("got ", short), "got a blank page")
    description = cat(
        "Seen in ", env_text, " on ", svc["name"][d["svc"]], ".\n",
        "Steps to reproduce:\n1. Open the ", comp, " screen, pick any item\n",
        '2. Press "Save"\n', "Expected: success, ", got, ".",
    )
    roll = quantiles(rng, n)
    reporter = emails[rng.integers(0, emails.shape[0], n), rng.integers(0, PEOPLE_PER_TEAM, n)]
    domain = np.where(rng.random(n) < 0.5, "@example.com", "@customer.example.org")
    octet = as_text(rng.integers(1, 255, (n, 3)))
    ip = np.select(
        [rng.random(n) < 0.4, rng.random(n) < 0.5],
        [cat("10.", octet[:, 0], ".", octet[:, 1], ".", octet[:, 2]), cat("192.168.", octet[:, 1], ".", octet[:, 2])],
        cat("203.0.113.", octet[:, 2]),
    )
    # ~8 % name an e-mail, ~6 % an IP, some both: about one in ten carries either.
    email_line = cat("\nReported by ", reporter, domain, ", please keep them posted.")
    ip_line = cat("\nRequests came from ", ip, " around the time of the error.")
    mention_line = cat("\n", assignee, " thinks this is the same as last sprint's issue.")
    mention = (rng.random(n) < 0.08) & (assignee != "")
    description = np.where(roll < 0.08, cat(description, email_line), description)
    description = np.where((roll > 0.05) & (roll < 0.11), cat(description, ip_line), description)
    description = np.where(mention, cat(description, mention_line), description)
    return {"title": title, "description": description.astype(STR)}


def defect_rows(rng: np.random.Generator, d: Table, svc: Table, rel: Table, emails: np.ndarray) -> Table:
    """defects.csv, in creation order: raw vocabulary, free text, traces, labels, fix release."""
    n = len(d["svc"])
    s = d["svc"]
    texts = _defect_texts(rng, d, svc, emails)
    severity = SEVERITY_RAW[svc["sev_style"][s], d["sev"], rng.integers(0, 2, n)]
    severity = np.where(quantiles(rng, n) < 0.01, UNKNOWN_SEVERITIES[rng.integers(0, 2, n)], severity).astype(STR)
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
    users_text = np.where(rng.random(n) < 0.25, "", as_text(users)).astype(STR)
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
        "created_at": timestamps(d["created"], rng),
        "resolved_at": timestamps(d["resolved"], rng),
        "users_affected": users_text,
        "has_workaround": workaround,
        "stack_trace": stack_traces(d, svc),
        "labels": _label_combinations()[label_mask],
        "duplicate_of": d["duplicate_of"],
        "deferral_rationale": rationale,
        "rca_link": np.where(rca, cat("https://wiki.example.com/rca/", d["id"]), "").astype(STR),
        "segment": segment,
        "url": cat("https://tracker.example.com/browse/", d["id"]),
    }
    return columns
