"""The post-mortem gap analysis (the layout is notebooks/postmortem.ipynb).

A facilitator's questions about one release, or one incident and its release:
what escaped to production, when it was introduced, detected and resolved,
which files the fixes touched and how well tests covered them before the
release, which regression tests to add first, and whether a pre-release test
had already failed on the same stack fingerprint.

Everything is read from the marts (docs/metrics.md: Defect escape rate,
Escape-to-coverage gaps, Stack fingerprint); this module filters and counts
their rows for one scope and never recomputes a metric. Values reach SQL as
bound parameters; text reaches the page through ``fragments.esc``,
``fragments.html_table`` or ``charts.plot_text``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd
import plotly.graph_objects as go

from pipelines.policy import PRE_RELEASE_ENVIRONMENTS, PRODUCTION
from pipelines.reporting.catalog import Parameter, Report, ReportParameterError, check_as_of, suggest
from pipelines.reporting.charts import CHART_TEMPLATE, annotate_empty, plot_text
from pipelines.reporting.formatting import (
    NOT_AVAILABLE,
    as_utc,
    float_or_none,
    fmt_count,
    fmt_date,
    fmt_hours,
    fmt_pct,
    fmt_timestamp,
    is_missing,
)
from pipelines.reporting.fragments import Card, cards_html, chart_html, esc, html_table
from pipelines.reporting.queries import build_info

TITLE = "Post-mortem gap analysis"

#: ``marts`` tables the report reads; a warehouse without one is refused before rendering.
TABLES: tuple[str, ...] = (
    "build_metadata",
    "release_order",
    "release_escape_rate",
    "fct_defects",
    "fct_incidents",
    "fct_deployments",
    "fct_test_cases",
    "escape_coverage_gaps",
)

#: How far back ``worst_recent_release`` looks by default: four weeks, the briefing's default period.
RECENT_DAYS = 28

NOT_IN_COVERAGE = "not in coverage report"
NOT_RESOLVED = "not resolved"
_GAP_COLOUR = "#d62728"


# ---------------------------------------------------------------- scope


@dataclass(frozen=True)
class Scope:
    """What a post-mortem covers: a release's escapes, or an incident with its release's escapes.

    ``release`` is None for an incident no release could be attributed to: then
    the incident is the whole scope.
    """

    service: str | None
    release: str | None
    incident_id: str | None = None

    @property
    def subtitle(self) -> str:
        where = f"{self.service} {self.release}" if self.release else f"{self.service}, no release attributed"
        return where if self.incident_id is None else f"incident {self.incident_id} ({where})"

    def bindings(self) -> dict[str, Any]:
        """The named SQL parameters of the queries that take the whole scope."""
        return {"service": self.service, "release": self.release, "incident": self.incident_id}


def scope(
    con: duckdb.DuckDBPyConnection,
    *,
    release: str | None = None,
    incident_id: str | None = None,
    service: str | None = None,
) -> Scope:
    """The scope of validated parameters; an incident brings its attributed (service, release)."""
    if incident_id is None:
        if release is None or service is None:
            raise ReportParameterError("a post-mortem needs a release with its service, or an incident")
        return Scope(service=service, release=release)
    row = con.execute(
        "select service, attributed_release from marts.fct_incidents where incident_id = ?", [incident_id]
    ).fetchone()
    if row is None:
        raise ReportParameterError(f"unknown incident {incident_id!r}")
    return Scope(service=row[0], release=row[1], incident_id=incident_id)


# ---------------------------------------------------------------- queries


@dataclass(frozen=True)
class ReleaseRate:
    """The release's row of ``marts.release_escape_rate``."""

    pre_release_defects: int
    escaped_defects: int
    escaped_incidents: int
    escape_rate: float | None


def release_rate(con: duckdb.DuckDBPyConnection, s: Scope) -> ReleaseRate | None:
    """The escape-rate row of the scope's release; None without a release or a row."""
    row = con.execute(
        """
        select pre_release_defects, escaped_defects, escaped_incidents, escape_rate
        from marts.release_escape_rate
        where service = ? and release = ?
        """,
        [s.service, s.release],
    ).fetchone()
    if row is None:
        return None
    return ReleaseRate(int(row[0]), int(row[1]), int(row[2]), float_or_none(row[3]))


def escaped_records(con: duckdb.DuckDBPyConnection, s: Scope) -> pd.DataFrame:
    """The escaped defects and production incidents of the scope, with their milestones, by detection.

    Escaped defects: non-duplicate defects attributed to the release and found
    in production; incidents: production incidents attributed to it, plus the
    scope's own incident. Milestones: ``released_at`` (the release's first
    production deployment), ``introduced_at`` (when the release reached the
    record's environment: a defect's ``release_reached_environment_at``, an
    incident's attributed deployment), ``detected_at`` (a defect's creation,
    an incident's detection) and ``resolved_at``; the ``*_hours`` columns are
    the exact hours between consecutive milestones.
    """
    return con.execute(
        """
        with records as (
            select 'defect' as record_type, d.defect_id as record_id, d.severity, d.environment,
                   d.title, d.url as link, cast(null as varchar) as linked_defect_ids,
                   d.service, d.attributed_release as release,
                   d.release_reached_environment_at as introduced_at,
                   d.created_at as detected_at, d.resolved_at
            from marts.fct_defects as d
            where d.service = $service and d.attributed_release = $release
              and d.is_escaped and not d.is_duplicate
            union all
            select 'incident', i.incident_id, i.severity, i.environment,
                   i.title, i.postmortem_link, i.linked_defect_ids,
                   i.service, i.attributed_release,
                   dep.finished_at, i.detected_at, i.resolved_at
            from marts.fct_incidents as i
            left join marts.fct_deployments as dep on dep.deployment_id = i.attributed_deployment_id
            where (i.environment = $production and i.service = $service and i.attributed_release = $release)
               or i.incident_id = $incident
        )
        select r.record_type, r.record_id, r.severity, r.environment, r.title, r.link,
               r.linked_defect_ids, o.first_production_at as released_at, r.introduced_at,
               r.detected_at, r.resolved_at,
               (epoch(r.introduced_at) - epoch(o.first_production_at)) / 3600.0 as released_to_introduced_hours,
               (epoch(r.detected_at) - epoch(r.introduced_at)) / 3600.0 as introduced_to_detected_hours,
               (epoch(r.resolved_at) - epoch(r.detected_at)) / 3600.0 as detected_to_resolved_hours
        from records as r
        left join marts.release_order as o on o.service = r.service and o.release = r.release
        order by r.detected_at, r.record_type, r.record_id
        """,
        {**s.bindings(), "production": PRODUCTION},
    ).df()


# The scope's rows of marts.escape_coverage_gaps, one per (escaped record, changed
# file). An escape through an incident is that incident's; the others are their
# defect's. A file-less row (no commit names the defect) carries the defect's
# component, the only place its fix can be looked for.
_SCOPED_ESCAPE_FILES = """
    with scoped as (
        select case when g.incident_id is null then 'defect' else 'incident' end as record_type,
               coalesce(g.incident_id, g.defect_id) as record_id,
               g.file, g.component, g.line_coverage, g.is_gap, g.coverage_report_id,
               g.coverage_reported_at, g.coverage_file,
               coalesce(d.component, 'unassigned') as defect_component
        from marts.escape_coverage_gaps as g
        left join marts.fct_defects as d on d.defect_id = g.defect_id
        where (g.service = $service and g.release = $release) or g.incident_id = $incident
    )
"""


def touched_files(con: duckdb.DuckDBPyConnection, s: Scope) -> pd.DataFrame:
    """Files the scope's fixes changed, with their coverage before the release, by file.

    Coverage, gap flag and report are measured once per (service, release,
    file) by the mart, so they are one value per file here. ``escapes`` counts
    the distinct escaped records whose fix touched the file.
    """
    return con.execute(
        _SCOPED_ESCAPE_FILES
        + """
        select file, min(component) as component, min(line_coverage) as line_coverage,
               bool_or(is_gap) as is_gap, min(coverage_report_id) as coverage_report_id,
               min(coverage_reported_at) as coverage_reported_at, min(coverage_file) as coverage_file,
               count(distinct (record_type, record_id)) as escapes,
               string_agg(distinct record_id, ', ' order by record_id) as records
        from scoped
        where file is not null
        group by file
        order by file
        """,
        s.bindings(),
    ).df()


def unlinked_escapes(con: duckdb.DuckDBPyConnection, s: Scope) -> pd.DataFrame:
    """Escaped records no commit names (so no changed file is known), with their defect's component."""
    return con.execute(
        _SCOPED_ESCAPE_FILES
        + """
        select distinct record_type, record_id, defect_component as component
        from scoped
        where file is null
        order by record_id, record_type, component
        """,
        s.bindings(),
    ).df()


def fingerprint_matches(con: duckdb.DuckDBPyConnection, s: Scope) -> pd.DataFrame:
    """Each escaped defect with the pre-release test failures sharing its stack fingerprint.

    A test case matches when it failed or errored in a pre-release environment
    before the release's first production deployment and its ``fingerprint``
    equals the defect's ``stack_fingerprint`` (docs/metrics.md, Stack
    fingerprint). A case without ``executed_at`` counts when it ran on a commit
    the release's deployments carried, as in ``rollback_hotfix_events``. One
    row per (defect, matching case); a defect without one has a row with
    NULL test columns.
    """
    return con.execute(
        """
        with escaped as (
            select defect_id, stack_fingerprint
            from marts.fct_defects
            where service = $service and attributed_release = $release
              and is_escaped and not is_duplicate
        ),
        shipped as (
            select first_production_at from marts.release_order
            where service = $service and release = $release
        ),
        release_commits as (
            select distinct lower(commit_sha) as commit_sha
            from marts.fct_deployments
            where service = $service and release = $release and commit_sha is not null
        ),
        failures as (
            select t.*
            from marts.fct_test_cases as t
            where t.status in ('failed', 'error')
              and list_contains($pre_release, t.environment)
              and (t.executed_at < (select first_production_at from shipped)
                   or (t.executed_at is null and t.commit_sha in (select commit_sha from release_commits)))
        )
        select e.defect_id, e.stack_fingerprint, f.suite, f.classname, f.name, f.status,
               f.environment, f.executed_at, f.commit_sha, f.run_id
        from escaped as e
        left join failures as f on f.fingerprint = e.stack_fingerprint
        order by e.defect_id, f.executed_at nulls last, f.classname, f.name, f.run_id
        """,
        {"service": s.service, "release": s.release, "pre_release": list(PRE_RELEASE_ENVIRONMENTS)},
    ).df()


@dataclass(frozen=True)
class Postmortem:
    """Everything the post-mortem notebook shows, read once."""

    scope: Scope
    as_of: datetime
    rate: ReleaseRate | None
    records: pd.DataFrame
    files: pd.DataFrame
    unlinked: pd.DataFrame
    matches: pd.DataFrame

    @property
    def defects(self) -> pd.DataFrame:
        return self.records[self.records["record_type"] == "defect"]

    @property
    def incidents(self) -> pd.DataFrame:
        return self.records[self.records["record_type"] == "incident"]

    @property
    def gaps(self) -> pd.DataFrame:
        return self.files[self.files["is_gap"].fillna(False).astype(bool)]

    @property
    def unnamed(self) -> list[str]:
        """Escapes no commit names (their fixes' files are unknown)."""
        return list(dict.fromkeys(self.unlinked["record_id"]))

    @property
    def linkless_incidents(self) -> list[str]:
        """Incidents linking no defect: no commit can name them, so no change is known either."""
        return list(self.incidents.loc[self.incidents["linked_defect_ids"].isna(), "record_id"])


def load(
    con: duckdb.DuckDBPyConnection,
    *,
    release: str | None = None,
    incident_id: str | None = None,
    service: str | None = None,
) -> Postmortem:
    """Read the post-mortem of a release (``service`` picks among services sharing the name)
    or of an incident."""
    s = scope(con, release=release, incident_id=incident_id, service=service)
    return Postmortem(
        scope=s,
        as_of=build_info(con).as_of,
        rate=release_rate(con, s),
        records=escaped_records(con, s),
        files=touched_files(con, s),
        unlinked=unlinked_escapes(con, s),
        matches=fingerprint_matches(con, s),
    )


def regression_targets(files: pd.DataFrame, unlinked: pd.DataFrame) -> pd.DataFrame:
    """Where to add regression tests first: files the fixes touched, and the components of
    escapes whose fix names no file.

    Ranked gaps first, then by escapes (descending), then lowest line coverage
    (none known counts as lowest: a file missing from the coverage report is
    untested), then name. Columns: rank, target, kind, component, escapes,
    line_coverage, coverage_report_id, is_gap.
    """
    by_file = pd.DataFrame(
        {
            "target": files["file"],
            "kind": "file",
            "component": files["component"],
            "escapes": files["escapes"].astype("int64"),
            "line_coverage": files["line_coverage"].astype("float64"),
            "coverage_report_id": files["coverage_report_id"].astype(object),
            "is_gap": files["is_gap"].astype("boolean"),
        }
    )
    counts = unlinked.groupby("component").size()
    by_component = pd.DataFrame(
        {
            "target": counts.index.astype(object),
            "kind": "component",
            "component": counts.index.astype(object),
            "escapes": counts.to_numpy(dtype="int64"),
            "line_coverage": float("nan"),
            "coverage_report_id": None,
            "is_gap": pd.array([pd.NA] * len(counts), dtype="boolean"),
        }
    )
    parts = [df for df in (by_file, by_component) if not df.empty]
    if not parts:
        return pd.DataFrame(columns=["rank", *by_file.columns])
    targets = pd.concat(parts, ignore_index=True)
    keys = pd.DataFrame(
        {
            "gap": ~targets["is_gap"].fillna(False).astype(bool),
            "escapes": -targets["escapes"],
            "coverage": targets["line_coverage"].fillna(-1.0),
            "name": targets["target"].astype(str),
            "kind": targets["kind"],
        }
    )
    order = keys.sort_values(list(keys.columns), kind="stable").index
    ranked = targets.loc[order].reset_index(drop=True)
    ranked.insert(0, "rank", range(1, len(ranked) + 1))
    return ranked


def fingerprint_verdicts(matches: pd.DataFrame) -> pd.DataFrame:
    """One row per escaped defect: its fingerprint, how many pre-release failures shared it and
    the first one (columns defect_id, stack_fingerprint, failures, first_failed_at, tests)."""
    rows = []
    for defect_id, group in matches.groupby("defect_id", sort=True):
        failed = group[group["run_id"].notna()]
        rows.append(
            {
                "defect_id": defect_id,
                "stack_fingerprint": group["stack_fingerprint"].iloc[0],
                "failures": len(failed),
                "first_failed_at": failed["executed_at"].min() if not failed.empty else None,
                "tests": ", ".join(dict.fromkeys(_test_name(r) for r in failed.itertuples())),
            }
        )
    return pd.DataFrame(rows, columns=["defect_id", "stack_fingerprint", "failures", "first_failed_at", "tests"])


def _test_name(case: Any) -> str:
    return f"{case.classname} › {case.name}" if not is_missing(case.classname) else str(case.name)


# ---------------------------------------------------------------- worst recent release


def worst_recent_release(con: duckdb.DuckDBPyConnection, days: int = RECENT_DAYS) -> tuple[str, str] | None:
    """The (service, release) a post-mortem is most needed for: among releases first deployed
    to production in the ``days`` days up to the warehouse's as-of (both ends included), the
    highest escape rate with at least one escape; ties by more escapes, then the later first
    production deployment, then service and release name. None when nothing escaped."""
    row = con.execute(
        """
        select o.service, o.release
        from marts.release_order as o
        inner join marts.release_escape_rate as e on e.service = o.service and e.release = o.release
        cross join marts.build_metadata as b
        where o.first_production_at between b.as_of - to_days(cast(? as integer)) and b.as_of
          and e.escaped_defects + e.escaped_incidents > 0
        order by e.escape_rate desc, e.escaped_defects + e.escaped_incidents desc,
                 o.first_production_at desc, o.service, o.release
        limit 1
        """,
        [days],
    ).fetchone()
    return None if row is None else (row[0], row[1])


# ---------------------------------------------------------------- display


def summary_cards(pm: Postmortem) -> str:
    """The five counts a facilitator starts from, as a row of cards."""
    rate = pm.rate
    defects_detail = (
        "no escape-rate row for this scope"
        if rate is None
        else (
            f"escape rate {fmt_pct(rate.escape_rate)}: "
            f"{fmt_count(rate.escaped_defects + rate.escaped_incidents)} of "
            f"{fmt_count(rate.pre_release_defects + rate.escaped_defects + rate.escaped_incidents)} found in production"
        )
    )
    incidents = len(pm.incidents)
    incidents_detail = "production incidents attributed to the release"
    if rate is not None and rate.escaped_incidents != incidents:
        incidents_detail = (
            f"{fmt_count(rate.escaped_incidents)} counted in the escape rate (an incident linking an "
            "escaped defect counts once)"
        )
    targets = regression_targets(pm.files, pm.unlinked)
    top = "none" if targets.empty else str(targets["target"].iloc[0])
    cards = [
        ("Escaped defects", fmt_count(len(pm.defects)), defects_detail),
        ("Escaped incidents", fmt_count(incidents), incidents_detail),
        (
            "Files touched by fixes",
            fmt_count(len(pm.files)),
            f"escaped records with no known change: {fmt_count(len(pm.unnamed) + len(pm.linkless_incidents))}",
        ),
        ("Files with a coverage gap", fmt_count(len(pm.gaps)), "below the threshold or not in a coverage report"),
        ("Regression targets", fmt_count(len(targets)), f"first: {top}"),
    ]
    return _incident_note(pm) + cards_html([Card(*c) for c in cards])


def _incident_note(pm: Postmortem) -> str:
    """For an incident's post-mortem: the incident, and what else the page covers."""
    s = pm.scope
    if s.incident_id is None:
        return ""
    incident = pm.incidents[pm.incidents["record_id"] == s.incident_id].iloc[0]
    resolved = NOT_RESOLVED if is_missing(incident["resolved_at"]) else "resolved " + fmt_timestamp(
        incident["resolved_at"]
    )
    facts = f"{incident['severity']}, detected {fmt_timestamp(incident['detected_at'])}, {resolved}"
    covers = (
        f"is attributed to {s.service} {s.release}: the sections below cover every escape of that release."
        if s.release
        else "could not be attributed to a release: the sections below cover it alone."
    )
    return f'<p class="note">Incident {esc(s.incident_id)} ({esc(facts)}) {esc(covers)}</p>'


def defects_table(pm: Postmortem) -> str:
    """The escaped defects (links only for http(s))."""
    frame = _records_frame(pm.defects, "Defect", "Created").assign(Link=pm.defects["link"])
    empty = f"No defect attributed to {pm.scope.subtitle} was found in production."
    return html_table(frame, caption="Escaped defects", link_columns={"Link"}, empty=empty)


def incidents_table(pm: Postmortem) -> str:
    """The scope's production incidents (post-mortem links only for http(s))."""
    i = pm.incidents
    frame = _records_frame(i, "Incident", "Detected").assign(
        **{
            "Linked defects": i["linked_defect_ids"].map(lambda v: "none" if is_missing(v) else v),
            "Post-mortem": i["link"].map(lambda v: "none" if is_missing(v) else v),
        }
    )
    empty = f"No production incident is attributed to {pm.scope.subtitle}."
    return html_table(frame, caption="Incidents", link_columns={"Post-mortem"}, empty=empty)


def _records_frame(records: pd.DataFrame, id_label: str, detected_label: str) -> pd.DataFrame:
    """The columns defects and incidents share, under each one's own names."""
    return pd.DataFrame(
        {
            id_label: records["record_id"],
            "Severity": records["severity"],
            "Environment": records["environment"],
            detected_label: records["detected_at"].map(fmt_timestamp),
            "Resolved": records["resolved_at"].map(_fmt_resolved),
            "Title": records["title"],
        }
    )


def timeline_table(pm: Postmortem) -> str:
    """Each escaped record's milestones and the hours between them, in order of detection."""
    r = pm.records
    frame = pd.DataFrame(
        {
            "Record": [_record_label(t, i) for t, i in zip(r["record_type"], r["record_id"], strict=True)],
            "Released": r["released_at"].map(_fmt_minute),
            "Introduced": r["introduced_at"].map(_fmt_minute),
            "Detected": r["detected_at"].map(_fmt_minute),
            "Resolved": r["resolved_at"].map(lambda v: NOT_RESOLVED if is_missing(v) else _fmt_minute(v)),
            "Released → introduced": r["released_to_introduced_hours"].map(fmt_hours),
            "Introduced → detected": r["introduced_to_detected_hours"].map(fmt_hours),
            "Detected → resolved": [
                NOT_RESOLVED if is_missing(at) else fmt_hours(h)
                for at, h in zip(r["resolved_at"], r["detected_to_resolved_hours"], strict=True)
            ],
        }
    )
    return html_table(frame, caption="Milestones (UTC) and the hours between them", empty=_nothing_escaped(pm))


_MILESTONES: tuple[tuple[str, str, str, str, int], ...] = (
    # The release marker is a large ring: an escape introduced by the first
    # production deployment puts its diamond inside it rather than hiding it.
    ("released_at", "Released (first production deployment)", "circle-open", "#7f7f7f", 17),
    ("introduced_at", "Introduced in its environment", "diamond", "#ff7f0e", 10),
    ("detected_at", "Detected", "x", "#d62728", 11),
    ("resolved_at", "Resolved", "square", "#2ca02c", 10),
)


def timeline_chart(pm: Postmortem) -> go.Figure:
    """One row per escaped record (first detected on top): a marker per milestone on a time
    axis, a line from its first milestone to its resolution, dotted to the as-of while open."""
    r = pm.records
    labels = [plot_text(_record_label(t, i)) for t, i in zip(r["record_type"], r["record_id"], strict=True)]
    milestones = r[[m[0] for m in _MILESTONES]]
    starts = milestones.min(axis=1)
    fig = go.Figure()
    spans = [
        ("Exposed until resolved", "solid", starts, r["resolved_at"]),
        ("Not resolved at the as-of", "dot", r["detected_at"].where(r["resolved_at"].isna()), _as_of_series(pm)),
    ]
    for name, dash, begin, end in spans:
        xs: list[Any] = []
        ys: list[Any] = []
        for label, b, e in zip(labels, begin, end, strict=True):
            if not (is_missing(b) or is_missing(e)):
                xs += [b, e, None]
                ys += [label, label, None]
        if xs:
            fig.add_trace(
                go.Scatter(
                    name=plot_text(name), x=xs, y=ys, mode="lines", hoverinfo="skip",
                    line={"color": "#b0b6bf", "width": 2, "dash": dash},
                )
            )
    for column, name, symbol, colour, size in _MILESTONES:
        when = r[column]
        shown = when.notna()
        fig.add_trace(
            go.Scatter(
                name=plot_text(name),
                x=list(when[shown]),
                y=[label for label, keep in zip(labels, shown, strict=True) if keep],
                mode="markers",
                marker={"symbol": symbol, "size": size, "color": colour, "line": {"width": 2, "color": colour}},
                customdata=[[plot_text(name), fmt_timestamp(v)] for v in when[shown]],
                hovertemplate="<b>%{y}</b><br>%{customdata[0]}<br>%{customdata[1]}<extra></extra>",
            )
        )
    fig.update_layout(
        template=CHART_TEMPLATE,
        height=min(620, max(300, 150 + 34 * len(r))),
        title={
            "text": "Detection timeline",
            "subtitle": {
                "text": "Released → introduced in its environment → detected → resolved, per escaped record (UTC)"
            },
        },
        xaxis={"type": "date"},
        yaxis={
            "type": "category",
            "categoryorder": "array",
            "categoryarray": labels,
            "autorange": "reversed",
            "automargin": True,
        },
        # at the figure's foot, in pixels: a fraction of a short plot would overlap the date
        # ticks' second line (the year)
        legend={"orientation": "h", "yref": "container", "y": 0.0, "yanchor": "bottom"},
        margin={"t": 80, "b": 110},
    )
    if r.empty:
        annotate_empty(fig, _nothing_escaped(pm))
    return fig


def files_table(pm: Postmortem) -> str:
    """Every file the fixes touched, with its coverage before the release and the report used."""
    f = pm.files
    frame = _files_frame(f)
    frame.insert(3, "Gap", f["is_gap"].map(_fmt_gap))
    frame["Coverage report used"] = [
        _fmt_report(r, at, cf, file)
        for r, at, cf, file in zip(
            f["coverage_report_id"], f["coverage_reported_at"], f["coverage_file"], f["file"], strict=True
        )
    ]
    return html_table(frame, caption="Files the fixes touched", empty=_no_files(pm)) + _unlinked_note(pm)


def _files_frame(files: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "File": files["file"],
            "Component": files["component"],
            "Line coverage": _coverage_texts(files),
            "Escapes": files["escapes"].map(fmt_count),
            "Fixes of": files["records"],
        }
    )


def gaps_table(pm: Postmortem) -> str:
    """The touched files tests did not cover enough before the release."""
    frame = _files_frame(pm.gaps)
    empty = (
        "No touched file is known, so no gap can be named."
        if pm.files.empty
        else f"None of the {fmt_count(len(pm.files))} files the fixes touched was a coverage gap before the release."
    )
    return html_table(frame, caption="Coverage gaps", empty=empty)


def coverage_section(pm: Postmortem) -> str:
    """The coverage chart above the table of touched files; the table alone (saying why) when
    no touched file is known, rather than an empty chart."""
    table = files_table(pm)
    return table if pm.files.empty else chart_html(coverage_chart(pm)) + table


def coverage_chart(pm: Postmortem) -> go.Figure:
    """Line coverage per touched file before the release, gaps in red; a file missing from the
    coverage report is drawn at 0 and labelled so."""
    f = pm.files.sort_values(["line_coverage", "file"], na_position="first", kind="stable")
    gap = f["is_gap"].fillna(False).astype(bool)
    fig = go.Figure(
        go.Bar(
            orientation="h",
            x=[float_or_none(v) or 0.0 for v in f["line_coverage"]],
            y=[plot_text(v) for v in f["file"]],
            width=0.6,
            marker_color=[_GAP_COLOUR if g else "#7f7f7f" for g in gap],
            text=[plot_text(t) for t in _coverage_texts(f)],
            textposition="outside",
            # a missing file's label sits at 0, beside its name: the colour tells them apart
            textfont={"color": [_GAP_COLOUR if g else "#1d2330" for g in gap]},
            cliponaxis=False,
            customdata=[[fmt_count(n), plot_text(rec)] for n, rec in zip(f["escapes"], f["records"], strict=True)],
            hovertemplate="<b>%{y}</b><br>%{text}<br>touched by %{customdata[0]} escape(s): "
            "%{customdata[1]}<extra></extra>",
        )
    )
    fig.update_layout(
        template=CHART_TEMPLATE,
        height=min(520, max(260, 130 + 28 * len(f))),
        title={
            "text": "Line coverage of the files the fixes touched",
            "subtitle": {"text": "Latest coverage report before the release's first production deployment; red = gap"},
        },
        xaxis={"title": {"text": "Line coverage"}, "tickformat": ".0%", "range": [0, 1.15]},
        yaxis={"type": "category", "automargin": True},
        margin={"t": 80, "r": 40},
        showlegend=False,
    )
    return fig


def targets_table(pm: Postmortem) -> str:
    """The ranked regression-test targets."""
    t = regression_targets(pm.files, pm.unlinked)
    frame = pd.DataFrame(
        {
            "Rank": t["rank"].map(fmt_count),
            "Target": t["target"],
            "Kind": t["kind"],
            "Component": t["component"],
            "Escapes": t["escapes"].map(fmt_count),
            "Line coverage": [
                NOT_AVAILABLE if kind == "component" else text
                for kind, text in zip(t["kind"], _coverage_texts(t), strict=True)
            ],
            "Gap": [
                "no file known" if kind == "component" else _fmt_gap(gap)
                for kind, gap in zip(t["kind"], t["is_gap"], strict=True)
            ],
        }
    )
    return html_table(frame, caption="Regression-test targets", empty=_nothing_escaped(pm))


def fingerprint_tables(pm: Postmortem) -> str:
    """Per escaped defect, whether a pre-release test had failed on its stack fingerprint, then the
    matching test cases."""
    verdicts = fingerprint_verdicts(pm.matches)
    if verdicts.empty:
        reason = (
            _nothing_escaped(pm)
            if pm.records.empty
            else "No defect escaped, only incidents, and incidents carry no stack trace to compare."
        )
        return f'<p class="empty">{esc(reason)}</p>'
    summary = pd.DataFrame(
        {
            "Defect": verdicts["defect_id"],
            "Stack fingerprint": verdicts["stack_fingerprint"].map(lambda v: "no stack trace" if is_missing(v) else v),
            "Failed before release": [
                "unknown" if is_missing(fp) else ("Yes" if n else "No")
                for fp, n in zip(verdicts["stack_fingerprint"], verdicts["failures"], strict=True)
            ],
            "Failures": [
                NOT_AVAILABLE if is_missing(fp) else fmt_count(n)
                for fp, n in zip(verdicts["stack_fingerprint"], verdicts["failures"], strict=True)
            ],
            "First failure": verdicts["first_failed_at"].map(fmt_timestamp),
            "Tests": verdicts["tests"],
        }
    )
    cases = pm.matches[pm.matches["run_id"].notna()]
    detail = pd.DataFrame(
        {
            "Defect": cases["defect_id"],
            "Test": [_test_name(c) for c in cases.itertuples()],
            "Suite": cases["suite"],
            "Status": cases["status"],
            "Environment": cases["environment"],
            "Executed": cases["executed_at"].map(
                lambda v: "no timestamp (release commit)" if is_missing(v) else fmt_timestamp(v)
            ),
            "Commit": cases["commit_sha"].map(lambda v: NOT_AVAILABLE if is_missing(v) else str(v)[:12]),
        }
    )
    return html_table(summary, caption="Escaped defects and pre-release test failures") + html_table(
        detail,
        caption="Matching pre-release test cases",
        empty="No pre-release test failed with the stack fingerprint of an escaped defect.",
    )


# ---------------------------------------------------------------- formatting helpers


def _record_label(record_type: str, record_id: str) -> str:
    return f"{record_id} ({record_type})"


def _fmt_minute(value: Any) -> str:
    """A UTC instant to the minute, without the zone (the caption names it) to keep tables narrow."""
    return NOT_AVAILABLE if is_missing(value) else as_utc(value).strftime("%Y-%m-%d %H:%M")


def _fmt_resolved(value: Any) -> str:
    return NOT_RESOLVED if is_missing(value) else fmt_timestamp(value)


def _fmt_gap(value: Any) -> str:
    """A gap flag; NULL means the release never reached production (nothing to measure against)."""
    if is_missing(value):
        return "not measurable"
    return "Gap" if bool(value) else "No"


def _coverage_texts(files: pd.DataFrame) -> list[str]:
    """Line coverage per row; a file no report listed says so (a listed one without coverable
    lines is n/a)."""
    return [
        NOT_IN_COVERAGE if is_missing(report) else fmt_pct(coverage)
        for coverage, report in zip(files["line_coverage"], files["coverage_report_id"], strict=True)
    ]


def _fmt_report(report_id: Any, reported_at: Any, coverage_file: Any, file: str) -> str:
    if is_missing(report_id):
        return NOT_IN_COVERAGE
    path = "" if is_missing(coverage_file) or coverage_file == file else f" as {coverage_file}"
    return f"{report_id} ({fmt_date(reported_at)}){path}"


def _as_of_series(pm: Postmortem) -> pd.Series:
    return pd.Series([pm.as_of] * len(pm.records), index=pm.records.index, dtype=object)


def _nothing_escaped(pm: Postmortem) -> str:
    return f"Nothing attributed to {pm.scope.subtitle} escaped to production."


def _no_files(pm: Postmortem) -> str:
    if pm.records.empty:
        return _nothing_escaped(pm)
    return _unknown_changes(pm) or "No commit names these defects, so the files their fixes touched are unknown."


def _unknown_changes(pm: Postmortem) -> str:
    """Which escaped records have no known change, and why; empty when every one has."""
    reasons = []
    if pm.unnamed:
        reasons.append(f"no commit names {', '.join(pm.unnamed)}")
    if pm.linkless_incidents:
        verb = "links" if len(pm.linkless_incidents) == 1 else "link"
        reasons.append(f"{', '.join(pm.linkless_incidents)} {verb} no defect")
    if not reasons:
        return ""
    sentence = " and ".join(reasons) + ", so the files their fixes touched are unknown."
    return sentence[0].upper() + sentence[1:]


def _unlinked_note(pm: Postmortem) -> str:
    text = _unknown_changes(pm)
    if not text or pm.files.empty:
        return ""
    return f'<p class="note">{esc(text)}</p>'


# ---------------------------------------------------------------- parameters


def _releases(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return [
        (r[0], r[1])
        for r in con.execute("select service, release from marts.release_order order by service, release").fetchall()
    ]


def _validate(con: duckdb.DuckDBPyConnection, given: dict[str, str]) -> dict[str, Any]:
    release = (given.get("release") or "").strip() or None
    incident_id = (given.get("incident_id") or "").strip() or None
    service = (given.get("service") or "").strip() or None
    if (release is None) == (incident_id is None):
        which = "both" if release else "neither"
        raise ReportParameterError(
            f"needs exactly one of --param release=... or --param incident_id=... (got {which})"
        )
    as_of = check_as_of(given.get("as_of"))
    if incident_id is not None:
        if service is not None:
            raise ReportParameterError("service picks among services sharing a release name; an incident names its own")
        ids = [r[0] for r in con.execute("select incident_id from marts.fct_incidents").fetchall()]
        if incident_id not in ids:
            raise suggest(incident_id, ids, "incident")
        return {"release": None, "incident_id": incident_id, "service": None, "as_of": as_of}
    known = _releases(con)
    if service is not None:
        services = sorted({s for s, _ in known})
        if service not in services:
            raise suggest(service, services, "service")
        if (service, release) not in known:
            raise suggest(release, [r for s, r in known if s == service], f"{service} release")
        return {"release": release, "incident_id": None, "service": service, "as_of": as_of}
    owners = sorted(s for s, r in known if r == release)
    if not owners:
        raise suggest(release, [r for _, r in known], "release")
    if len(owners) > 1:
        raise ReportParameterError(
            f"release {release!r} exists in services {', '.join(owners)}: add --param service=..."
        )
    return {"release": release, "incident_id": None, "service": owners[0], "as_of": as_of}


def _stem(params: dict[str, Any]) -> str:
    if params.get("incident_id"):
        return f"postmortem_{params['incident_id']}"
    return f"postmortem_{params['service']}_{params['release']}"


REPORT = Report(
    name="postmortem",
    aliases=("post-mortem",),
    notebook="postmortem",
    title=TITLE,
    parameters=(
        Parameter("release", "the release to analyse (or give incident_id)"),
        Parameter("incident_id", "an incident to analyse, with the escapes of its release (or give release)"),
        Parameter("service", "the release's service, needed when several services have a release of that name"),
        Parameter("as_of", "the as-of the reader expects (the report warns when the warehouse's differs)"),
    ),
    validate=_validate,
    tables=TABLES,
    stem=_stem,
)
