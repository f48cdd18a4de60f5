"""The post-release report: how did one release of one service do?

The layout is notebooks/post_release.ipynb; docs/reports/post_release.md says how
a release manager reads it. This module holds its parameters, its queries (over
``marts``, and ``history.gate_verdicts`` when the warehouse has it), the display
frames, charts and summary cards. Counts are the marts' own, or filters of the
fact tables under the marts' rules (duplicates left out); no metric is defined
here. The safety rules of ``fragments`` and ``charts`` hold: every exported
string is escaped, a link is written only for an http(s) URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pandas as pd
import plotly.graph_objects as go

from pipelines.gate import RULE_TEXT
from pipelines.policy import ENVIRONMENTS, PRE_RELEASE_ENVIRONMENTS, PRODUCTION, SEVERITIES
from pipelines.reporting.catalog import Parameter, Report, check_as_of, suggest
from pipelines.reporting.charts import CHART_TEMPLATE, annotate_empty, plot_text
from pipelines.reporting.formatting import (
    NOT_AVAILABLE,
    float_or_none,
    fmt_count,
    fmt_date,
    fmt_flag,
    fmt_hours,
    fmt_pct,
    fmt_timestamp,
    int_or_zero,
    is_blank,
    is_missing,
)
from pipelines.reporting.fragments import Card, esc, html_table, report_header
from pipelines.reporting.queries import ENVIRONMENT_ORDER, RECORD_TYPES, BuildInfo, build_info, rank_in

TITLE = "Post-release report"

TABLES: tuple[str, ...] = (
    "build_metadata",
    "release_order",
    "release_escape_rate",
    "fct_defects",
    "fct_incidents",
    "release_gate",
    "release_gate_findings",
    "release_segment_defects",
    "rollback_hotfix_events",
    "rollback_hotfix_summary",
)

#: The escape-rate chart shows at most this many releases before the reported one
#: (a service with hundreds would turn the bars into hairlines); its mean line and
#: the summary card use every previous release.
HISTORY_RELEASES = 24

# The gate rule whose observed value and threshold are rates (docs/metrics.md "Release gate").
_RCA_RULE = "PREVIOUS_ESCAPE_RCA_MISSING"

# Most severe first, in SEVERITIES order; a severity outside the policy gets plotly's default.
_SEVERITY_COLOURS = ("#b2182b", "#ef6548", "#fdae61", "#74add1")
_CURRENT_COLOUR, _PREVIOUS_COLOUR, _RCA_COLOUR = "#1f77b4", "#b8c2cc", "#d62728"


# ---------------------------------------------------------------- parameters


def known_releases(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Every service's releases: those ``marts.release_order`` places and those with an escape-rate row."""
    rows = con.execute(
        """
        select service, release from marts.release_order
        union
        select service, release from marts.release_escape_rate
        where service <> 'ALL' and release is not null and release <> 'ALL'
        order by service, release
        """
    ).fetchall()
    releases: dict[str, list[str]] = {}
    for service, release in rows:
        releases.setdefault(service, []).append(release)
    return releases


def _validate(con: duckdb.DuckDBPyConnection, given: dict[str, str]) -> dict[str, Any]:
    service, release = given.get("service", ""), given.get("release", "")
    releases = known_releases(con)
    if service not in releases:
        raise suggest(service, releases, "service")
    if release not in releases[service]:
        raise suggest(release, releases[service], f"release of {service}")
    return {"service": service, "release": release, "as_of": check_as_of(given.get("as_of"))}


REPORT = Report(
    name="post_release",
    aliases=("post-release",),
    notebook="post_release",
    title=TITLE,
    parameters=(
        Parameter("service", "the service that shipped the release", required=True),
        Parameter("release", "the release to report on", required=True),
        Parameter("as_of", "the as-of the reader expects (the report warns when the warehouse's differs)"),
    ),
    validate=_validate,
    tables=TABLES,
    history=("gate_verdicts",),
    stem=lambda p: f"post_release_{p['service']}_{p['release']}",
)


def recent_releases(con: duckdb.DuckDBPyConnection, days: int = 7, worst_first: bool = False) -> list[tuple[str, str]]:
    """(service, release) first deployed to production in the ``days`` days up to the
    warehouse's as-of: ``as_of - days < first_production_at <= as_of``, oldest first, or
    with ``worst_first`` the most escaped records (defects and incidents) first."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    as_of = build_info(con).as_of
    # The window is computed here, in exact elapsed time, so it does not depend on the
    # session's time zone (a day interval would stretch across a DST change).
    rows = con.execute(
        """
        select o.service, o.release from marts.release_order as o
        left join marts.release_escape_rate as e on e.service = o.service and e.release = o.release
        where o.first_production_at > ? and o.first_production_at <= ?
        order by case when ? then -coalesce(e.escaped_defects + e.escaped_incidents, 0) else 0 end,
            o.first_production_at, o.service, o.release
        """,
        [as_of - timedelta(days=days), as_of, worst_first],
    ).fetchall()
    return [(service, release) for service, release in rows]


# ---------------------------------------------------------------- the release


@dataclass(frozen=True)
class ReleaseInfo:
    """One release's place in its service's order and its escape-rate row."""

    service: str
    release: str
    first_production_at: datetime | None
    release_position: int | None
    previous_release: str | None
    next_release: str | None
    pre_release_defects: int
    escaped_defects: int
    escaped_incidents: int
    escape_rate: float | None
    rca_required: bool | None
    rca_link: str | None

    @property
    def escaped(self) -> int:
        return self.escaped_defects + self.escaped_incidents


def release_info(con: duckdb.DuckDBPyConnection, service: str, release: str) -> ReleaseInfo:
    """The release's row of ``marts.release_order`` and of ``marts.release_escape_rate``
    (zeros and NULLs where it has none), with the release after it."""
    row = con.execute(
        """
        select o.first_production_at, o.release_position, o.previous_release, n.release,
               e.pre_release_defects, e.escaped_defects, e.escaped_incidents, e.escape_rate,
               e.rca_required, e.rca_link
        from (select ?::varchar as service, ?::varchar as release) as k
        left join marts.release_order as o on o.service = k.service and o.release = k.release
        left join marts.release_order as n
            on n.service = k.service and n.release_position = o.release_position + 1
        left join marts.release_escape_rate as e on e.service = k.service and e.release = k.release
        """,
        [service, release],
    ).fetchone()
    assert row is not None  # the select from one literal row always returns it
    first, position, previous, following, pre, esc_d, esc_i, rate, rca, link = row
    return ReleaseInfo(
        service=service,
        release=release,
        first_production_at=first,
        release_position=position,
        previous_release=previous,
        next_release=following,
        pre_release_defects=int_or_zero(pre),
        escaped_defects=int_or_zero(esc_d),
        escaped_incidents=int_or_zero(esc_i),
        escape_rate=float_or_none(rate),
        rca_required=None if rca is None else bool(rca),
        rca_link=link,
    )


def header_html(build: BuildInfo, rel: ReleaseInfo, requested_as_of: str | None) -> str:
    """The report header: service and release in the title, then where the release sits."""
    subtitle = (
        f"first in production {fmt_date(rel.first_production_at)} · previous release "
        f"{rel.previous_release or 'none'} · next release {rel.next_release or 'none yet'}"
    )
    return report_header(build, requested_as_of, f"{TITLE}: {rel.service} {rel.release}", subtitle)


# ---------------------------------------------------------------- found before / after release


def found_by_environment(con: duckdb.DuckDBPyConnection, service: str, release: str) -> pd.DataFrame:
    """Non-duplicate defects attributed to the release per (environment, severity).

    Every canonical environment and severity has a row (0 when none was found),
    then any other environment a defect names; columns environment, severity, defects.
    """
    counts = _release_rows(
        con,
        """
        select environment, severity, count(*) as defects
        from marts.fct_defects
        where service = ? and attributed_release = ? and not is_duplicate
        group by environment, severity
        """,
        service,
        release,
    )
    environments = _in_order(counts["environment"], ENVIRONMENT_ORDER, always=ENVIRONMENTS)
    severities = _in_order(counts["severity"], SEVERITIES, always=SEVERITIES)
    grid = pd.MultiIndex.from_product([environments, severities], names=["environment", "severity"])
    found = counts.set_index(["environment", "severity"])["defects"].reindex(grid, fill_value=0)
    return found.astype(int).reset_index()


def found_table(found: pd.DataFrame) -> pd.DataFrame:
    """Display frame: one row per environment, a column per severity and the total."""
    wide = found.pivot(index="environment", columns="severity", values="defects")
    wide = wide.reindex(index=list(dict.fromkeys(found["environment"])), columns=list(dict.fromkeys(found["severity"])))
    table = pd.DataFrame({"Environment": wide.index, "Found": [_found_when(e) for e in wide.index]})
    for severity in wide.columns:
        table[severity] = wide[severity].map(fmt_count).to_list()
    table["Total"] = wide.sum(axis=1).map(fmt_count).to_list()
    return table


def _found_when(environment: str) -> str:
    if environment == PRODUCTION:
        return "after release (escaped)"
    if environment in PRE_RELEASE_ENVIRONMENTS:
        return "before release"
    return "not counted (no known environment)"


def found_chart(found: pd.DataFrame) -> go.Figure:
    """Defects by environment (x, pipeline order), stacked by severity."""
    fig = go.Figure()
    environments = list(dict.fromkeys(found["environment"]))
    for i, severity in enumerate(dict.fromkeys(found["severity"])):
        rows = found[found["severity"] == severity]
        fig.add_trace(
            go.Bar(
                name=plot_text(severity),
                x=[plot_text(e) for e in rows["environment"]],
                y=rows["defects"].tolist(),
                marker_color=_SEVERITY_COLOURS[i] if severity in SEVERITIES else None,
                hovertemplate="%{x}, " + plot_text(severity) + ": %{y} defects<extra></extra>",
            )
        )
    fig.update_layout(
        template=CHART_TEMPLATE,
        height=320,
        barmode="stack",
        title={
            "text": "Defects found by environment and severity",
            "subtitle": {"text": "Non-duplicate defects attributed to this release; production = after release"},
        },
        xaxis=_category_axis("Environment (pipeline order)", [plot_text(e) for e in environments]),
        yaxis={"title": {"text": "Defects"}, "rangemode": "tozero"},
        legend={"title": {"text": "Severity"}, "traceorder": "normal"},
        margin={"t": 80},
    )
    if found.groupby("environment")["defects"].sum().max() <= 10:
        fig.update_yaxes(dtick=1)  # whole defects: no 0.5 ticks on a small chart
    if found["defects"].sum() == 0:
        annotate_empty(fig, "No defect is attributed to this release.")
    return fig


# ---------------------------------------------------------------- escape rate vs previous releases


def escape_rate_history(con: duckdb.DuckDBPyConnection, service: str, release: str) -> pd.DataFrame:
    """The service's releases up to this one in release order (marts.release_order), each with
    its escape-rate row (NULL rate when it has none); ``is_current`` marks this release.

    A release the order cannot place (never planned, never in production) has no
    previous releases: only its own row is returned."""
    return con.execute(
        """
        select o.release, o.release_position, o.first_production_at,
               e.pre_release_defects, e.escaped_defects, e.escaped_incidents,
               e.escape_rate, e.rca_required, o.release = ? as is_current
        from marts.release_order as o
        left join marts.release_escape_rate as e on e.service = o.service and e.release = o.release
        where o.service = ? and (
            o.release = ?
            or o.release_position
               <= (select p.release_position from marts.release_order as p where p.service = ? and p.release = ?)
        )
        order by o.release_position nulls last, o.release
        """,
        [release, service, release, service, release],
    ).df()


@dataclass(frozen=True)
class RateComparison:
    """Mean and median escape rate of the releases before this one (those with a rate)."""

    mean: float | None
    median: float | None
    n: int


def previous_rates(history: pd.DataFrame) -> RateComparison:
    """Compare with every earlier release of the service that has an escape rate."""
    rates = history.loc[~history["is_current"], "escape_rate"].dropna()
    if rates.empty:
        return RateComparison(None, None, 0)
    return RateComparison(float(rates.mean()), float(rates.median()), len(rates))


def rca_threshold(con: duckdb.DuckDBPyConnection) -> float | None:
    """The policy's RCA threshold the warehouse was built with."""
    row = con.execute("select escape_rate_rca_threshold from marts.build_metadata").fetchone()
    return None if row is None else float_or_none(row[0])


def escape_rate_history_chart(
    history: pd.DataFrame, comparison: RateComparison, threshold: float | None
) -> go.Figure:
    """One bar per release (this one highlighted), the previous releases' mean and the RCA
    threshold as lines; releases needing an RCA are outlined in red."""
    shown = pd.concat([history[~history["is_current"]].tail(HISTORY_RELEASES), history[history["is_current"]]])
    rates = [float_or_none(v) for v in shown["escape_rate"]]
    rca = shown["rca_required"].fillna(False).astype(bool).tolist()
    escaped = shown["escaped_defects"].fillna(0) + shown["escaped_incidents"].fillna(0)
    total = shown["pre_release_defects"].fillna(0) + escaped
    fig = go.Figure(
        go.Bar(
            x=[plot_text(r) for r in shown["release"]],
            y=rates,
            text=[fmt_pct(r) if r is not None else "" for r in rates],
            textposition="outside",
            cliponaxis=False,
            marker={
                "color": [_CURRENT_COLOUR if c else _PREVIOUS_COLOUR for c in shown["is_current"]],
                "line": {"color": [_RCA_COLOUR if f else "rgba(0,0,0,0)" for f in rca], "width": 2},
            },
            customdata=[
                [fmt_count(e), fmt_count(t), "RCA required" if f else "", fmt_date(d)]
                for e, t, f, d in zip(escaped, total, rca, shown["first_production_at"])
            ],
            hovertemplate=(
                "<b>%{x}</b><br>escape rate %{y:.1%}<br>%{customdata[0]} of %{customdata[1]} escaped"
                "<br>first in production: %{customdata[3]}<br>%{customdata[2]}<extra></extra>"
            ),
            showlegend=False,
        )
    )
    categories = [plot_text(r) for r in shown["release"]]
    lines = (
        (comparison.mean, f"mean of {comparison.n} previous releases: {fmt_pct(comparison.mean)}", "dot", "#555d6b"),
        (threshold, f"RCA threshold: {fmt_pct(threshold)}", "dash", _RCA_COLOUR),
    )
    for y, name, dash, colour in lines:
        if y is not None:
            line = {"dash": dash, "color": colour, "width": 1.5}
            fig.add_hline(y=y, line=line)
            # The line's label goes in the legend (an annotation would sit on the bars).
            fig.add_trace(go.Scatter(x=[None], y=[None], name=plot_text(name), mode="lines", line=line))
    earlier = len(history) - len(shown)
    fig.update_layout(
        template=CHART_TEMPLATE,
        height=360,
        title={
            "text": "Escape rate against the service's previous releases",
            "subtitle": {
                "text": "Escaped over all found, per release in release order; red outline = RCA required"
                + (f"; {earlier} earlier releases not drawn" if earlier else "")
            },
        },
        xaxis=_category_axis("Release (release order)", categories),
        yaxis={"title": {"text": "Escape rate"}, "tickformat": ".0%", "rangemode": "tozero"},
        legend={"orientation": "h", "x": 0, "y": -0.3},
        margin={"t": 80},
    )
    if all(r is None for r in rates):
        annotate_empty(fig, "No release of this service has an escape rate yet.")
    return fig


# ---------------------------------------------------------------- canary / blue-green


def segment_catches(con: duckdb.DuckDBPyConnection, service: str, release: str) -> pd.Series | None:
    """The release's row of ``marts.release_segment_defects``; None when it has none (it never
    served in production and no production defect is attributed to it)."""
    df = _release_rows(
        con,
        """
        select has_canary, canary_started_at, full_rollout_at, canary_hours, canary_rollbacks,
               production_defects, defects_during_canary, defects_after_full, defects_outside_rollout,
               canary_catch_rate, defects_segment_canary, defects_segment_blue, defects_segment_green,
               defects_segment_full
        from marts.release_segment_defects
        where service = ? and release = ?
        """,
        service,
        release,
    )
    return None if df.empty else df.iloc[0]


def segment_html(segments: pd.Series | None) -> str:
    """The rollout section: the phases and catches, or plainly why there are none."""
    if segments is None:
        return _empty("This release never served in production and no production defect is attributed to it.")
    note = "" if bool(segments["has_canary"]) else _note(
        "No canary deployment for this release: there was no canary phase to catch defects in."
    )
    return note + html_table(segment_table(segments))


def segment_table(s: pd.Series) -> pd.DataFrame:
    """Display frame: the rollout phases and where the production defects were found."""
    figures = [
        ("Canary started", fmt_timestamp(s["canary_started_at"]) if s["has_canary"] else "no canary"),
        ("Full rollout", fmt_timestamp(s["full_rollout_at"])),
        ("Canary ran alone", fmt_hours(s["canary_hours"])),
        ("Canary deployments rolled back", fmt_count(s["canary_rollbacks"])),
        ("Production defects", fmt_count(s["production_defects"])),
        ("… created during the canary phase", fmt_count(s["defects_during_canary"])),
        ("… created after full rollout", fmt_count(s["defects_after_full"])),
        ("… created outside any rollout", fmt_count(s["defects_outside_rollout"])),
        ("Canary catch rate", fmt_pct(s["canary_catch_rate"])),
        ("Reported in segment canary / blue / green / full", " / ".join(
            fmt_count(s[f"defects_segment_{seg}"]) for seg in ("canary", "blue", "green", "full")
        )),
    ]
    return pd.DataFrame(figures, columns=["Figure", "Value"])


# ---------------------------------------------------------------- rollbacks and hotfixes


def rollback_events(con: duckdb.DuckDBPyConnection, service: str, release: str) -> pd.DataFrame:
    """Failed production deployments of the release, and those sitting on it as their
    baseline release (a failed rollback or hotfix), oldest first."""
    return con.execute(
        """
        select deployment_id, release, segment, status, finished_at, attributed_incidents,
               rollback_deployment_id, hours_to_rollback, hotfix_deployment_id, hotfix_release,
               hours_to_hotfix, linked_defects, detection_bypassed, pre_release_test_cases
        from marts.rollback_hotfix_events
        where service = ? and (release = ? or baseline_release = ?)
        order by finished_at, deployment_id
        """,
        [service, release, release],
    ).df()


def rollback_summary(con: duckdb.DuckDBPyConnection, service: str, release: str) -> pd.Series | None:
    """The release's row of ``marts.rollback_hotfix_summary``; None when it never served in production."""
    df = _release_rows(
        con,
        """
        select failed_deployments, rolled_back_deployments, hotfix_deployments, hotfixed_failures,
               n_rollback, median_hours_to_rollback, n_hotfix, median_hours_to_hotfix
        from marts.rollback_hotfix_summary
        where service = ? and release = ?
        """,
        service,
        release,
    )
    return None if df.empty else df.iloc[0]


def rollback_html(summary: pd.Series | None, events: pd.DataFrame) -> str:
    """The rollback section: one line on failures, rollbacks and hotfixes and how fast they
    came, then the failed deployments (none: the line says so)."""
    if summary is None:
        return _empty("This release never served in production: there is nothing to roll back.")
    if events.empty and int_or_zero(summary["hotfix_deployments"]) == 0:
        return _empty("No failed production deployment and no hotfix for this release.")
    return _note(
        f"{fmt_count(summary['failed_deployments'])} failed production deployment(s) of this release, "
        f"{fmt_count(summary['rolled_back_deployments'])} rolled back"
        + _median(summary["median_hours_to_rollback"], summary["n_rollback"], "to roll back")
        + f"; {fmt_count(summary['hotfix_deployments'])} hotfix deployment(s) on it, "
        f"{fmt_count(summary['hotfixed_failures'])} failure(s) followed by one"
        + _median(summary["median_hours_to_hotfix"], summary["n_hotfix"], "to the hotfix")
        + "."
    ) + html_table(rollback_table(events))


def rollback_table(events: pd.DataFrame) -> pd.DataFrame:
    """Display frame of the failed deployments with their rollback and hotfix."""
    return pd.DataFrame(
        {
            "Deployment": events["deployment_id"],
            "Release": events["release"],
            "Segment": events["segment"],
            "Status": events["status"],
            "Finished": events["finished_at"].map(fmt_timestamp),
            "Incidents": events["attributed_incidents"].map(fmt_count),
            "Rolled back by": events["rollback_deployment_id"].map(lambda v: "not rolled back" if is_blank(v) else v),
            "Hours to rollback": events["hours_to_rollback"].map(fmt_hours),
            "Hotfix": [
                "none" if is_blank(d) else f"{r} ({d})"
                for d, r in zip(events["hotfix_deployment_id"], events["hotfix_release"])
            ],
            "Hours to hotfix": events["hours_to_hotfix"].map(fmt_hours),
            "Linked defects": events["linked_defects"].map(fmt_count),
            "A test had shown it": [
                "no test results" if int_or_zero(n) == 0 else fmt_flag(b)
                for b, n in zip(events["detection_bypassed"], events["pre_release_test_cases"])
            ],
        }
    )


# ---------------------------------------------------------------- release gate


def gate_verdicts(con: duckdb.DuckDBPyConnection, service: str, release: str) -> pd.DataFrame:
    """The release's current verdict per target environment (pipeline order)."""
    df = _release_rows(
        con,
        """
        select environment, verdict, fired_rules, waived_rules
        from marts.release_gate
        where service = ? and release = ?
        """,
        service,
        release,
    )
    return _sort_environments(df, "environment")


def gate_verdict_table(verdicts: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Target environment": verdicts["environment"],
            "Verdict": verdicts["verdict"],
            "Rules fired": verdicts["fired_rules"].map(_join),
            "Rules waived": verdicts["waived_rules"].map(_join),
        }
    )


def gate_findings(con: duckdb.DuckDBPyConnection, service: str, release: str) -> pd.DataFrame:
    """Every rule that fired for the release, waived or not, with its waiver."""
    df = _release_rows(
        con,
        """
        select environment, rule, severity, observed, threshold, defect_ids, incident_ids,
               is_waived, waiver_approver, waiver_reason, waiver_expires_at
        from marts.release_gate_findings
        where service = ? and release = ?
        order by rule, severity nulls first
        """,
        service,
        release,
    )
    return _sort_environments(df, "environment")


def gate_findings_table(findings: pd.DataFrame) -> pd.DataFrame:
    """Display frame: what fired, on which records, and who waived it until when."""
    return pd.DataFrame(
        {
            "Target environment": findings["environment"],
            "Rule": findings["rule"],
            "What it means": findings["rule"].map(lambda r: RULE_TEXT.get(r, "")),
            "Severity": findings["severity"].map(lambda v: "" if is_missing(v) else v),
            "Observed": [_observed(r, v) for r, v in zip(findings["rule"], findings["observed"])],
            "Threshold": [_observed(r, v) for r, v in zip(findings["rule"], findings["threshold"])],
            "Records": [_join([*d, *i]) for d, i in zip(findings["defect_ids"], findings["incident_ids"])],
            "Waived": [
                "Yes" if w else ("expired" if not is_blank(a) else "No")
                for w, a in zip(findings["is_waived"], findings["waiver_approver"])
            ],
            "Waiver": [
                _waiver(*w)
                for w in findings[["waiver_approver", "waiver_reason", "waiver_expires_at"]].itertuples(index=False)
            ],
        }
    )


def gate_history(con: duckdb.DuckDBPyConnection, service: str, release: str) -> pd.DataFrame | None:
    """Verdicts earlier builds recorded for the release (``history.gate_verdicts``), one row
    per (build, environment), oldest build first; None when the warehouse predates that table."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'history' and table_name = 'gate_verdicts'"
    ).fetchone()
    if not exists or exists[0] == 0:
        return None
    df = _release_rows(
        con,
        """
        select as_of, built_at, environment, verdict
        from history.gate_verdicts
        where service = ? and release = ?
        order by built_at, as_of
        """,
        service,
        release,
    )
    return _sort_environments(df, "environment", by=["built_at", "as_of"])


def gate_history_table(history: pd.DataFrame | None) -> pd.DataFrame:
    """Display frame: one row per build, a verdict column per target environment."""
    if history is None or history.empty:
        return pd.DataFrame(columns=["As of", "Built at"])
    wide = history.pivot(index=["built_at", "as_of"], columns="environment", values="verdict")
    environments = _in_order(history["environment"], ENVIRONMENT_ORDER, always=())
    table = pd.DataFrame(
        {
            "As of": [fmt_timestamp(a) for _, a in wide.index],
            "Built at": [fmt_timestamp(b) for b, _ in wide.index],
        }
    )
    for environment in environments:
        table[environment] = wide[environment].map(lambda v: "not evaluated" if is_missing(v) else v).to_list()
    return table


def gate_history_empty(history: pd.DataFrame | None) -> str:
    """Why the verdict history is empty."""
    if history is None:
        return "This warehouse keeps no verdict history (it was built before history.gate_verdicts existed)."
    return "No build recorded a gate verdict for this release (it is not a gate release)."


# ---------------------------------------------------------------- time to detect / resolve


def detection_resolution(con: duckdb.DuckDBPyConnection, service: str, release: str) -> pd.DataFrame:
    """Time to detect / resolve of the release's defects and incidents per environment, and
    over all environments (``'ALL'``), with the rules of
    ``marts.detection_resolution_by_environment``: duplicates left out, a negative time to
    detect left out of the statistics and not counted as not measurable, exact means."""
    df = con.execute(
        """
        with records as (
            select 'defect' as record_type, environment, ttd_hours, ttd_negative, ttr_hours
            from marts.fct_defects
            where service = ? and attributed_release = ? and not is_duplicate
            union all
            select 'incident' as record_type, environment, ttd_hours, ttd_negative, ttr_hours
            from marts.fct_incidents
            where service = ? and attributed_release = ?
        )
        select
            record_type,
            case when grouping(environment) = 1 then 'ALL' else environment end as environment,
            count(ttd_hours) as n_detect,
            cast(avg(cast(ttd_hours as decimal(38, 9))) as double) as mttd_hours,
            quantile_cont(ttd_hours, 0.5) as median_ttd_hours,
            count(ttr_hours) as n_resolve,
            cast(avg(cast(ttr_hours as decimal(38, 9))) as double) as mttr_hours,
            quantile_cont(ttr_hours, 0.5) as median_ttr_hours,
            -- ttd_negative is NULL exactly when there was no time to measure
            count(*) filter (where ttd_negative is null) as n_not_measurable
        from records
        group by grouping sets ((record_type, environment), (record_type))
        """,
        [service, release, service, release],
    ).df()
    df["_record"] = df["record_type"].map(lambda r: rank_in(RECORD_TYPES, r))
    df["_env"] = df["environment"].map(lambda e: rank_in((*ENVIRONMENT_ORDER, "ALL"), e))
    return (
        df.sort_values(["_record", "_env", "environment"]).drop(columns=["_record", "_env"]).reset_index(drop=True)
    )


def detection_resolution_table(dr: pd.DataFrame) -> pd.DataFrame:
    """Display frame with every n beside its statistic; the all-environments row says so."""
    return pd.DataFrame(
        {
            "Record": dr["record_type"].str.capitalize(),
            "Environment": dr["environment"].map(lambda e: "all environments" if e == "ALL" else e),
            "n detect": dr["n_detect"].map(fmt_count),
            "Mean TTD": dr["mttd_hours"].map(fmt_hours),
            "Median TTD": dr["median_ttd_hours"].map(fmt_hours),
            "n resolve": dr["n_resolve"].map(fmt_count),
            "Mean TTR": dr["mttr_hours"].map(fmt_hours),
            "Median TTR": dr["median_ttr_hours"].map(fmt_hours),
            "Not measurable": dr["n_not_measurable"].map(fmt_count),
        }
    )


# ---------------------------------------------------------------- open items


def open_items(con: duckdb.DuckDBPyConnection, service: str, release: str) -> pd.DataFrame:
    """Non-duplicate defects attributed to the release and open at the as-of, most severe and
    oldest first; ``age_days`` is whole days (floor) at the as-of, as in docs/metrics.md "Aging"."""
    df = _release_rows(
        con,
        """
        select d.defect_id, d.severity, d.status, d.environment, d.title, d.url,
               cast(floor((extract(epoch from b.as_of) - extract(epoch from d.created_at)) / 86400.0) as integer)
                   as age_days
        from marts.fct_defects as d
        cross join marts.build_metadata as b
        where d.service = ? and d.attributed_release = ? and d.is_open and not d.is_duplicate
        """,
        service,
        release,
    )
    df["_sev"] = df["severity"].map(lambda s: rank_in(SEVERITIES, s))
    return (
        df.sort_values(["_sev", "age_days", "defect_id"], ascending=[True, False, True])
        .drop(columns="_sev")
        .reset_index(drop=True)
    )


def open_items_table(items: pd.DataFrame) -> pd.DataFrame:
    """Display frame; the link column holds the tracker URL (a link only when http(s))."""
    return pd.DataFrame(
        {
            "Defect": items["defect_id"],
            "Severity": items["severity"],
            "Status": items["status"],
            "Found in": items["environment"],
            "Age (days)": items["age_days"].map(fmt_count),
            "Title": items["title"],
            "Link": items["url"].map(lambda v: "" if is_blank(v) else v),
        }
    )


def carry_over_note(rel: ReleaseInfo, items: pd.DataFrame) -> str:
    """Where the open defects go: the service's next release, if there is one yet."""
    following = (
        f"the service's next release, {rel.next_release}"
        if rel.next_release
        else "the service's next release (none is planned or in production yet)"
    )
    if items.empty:
        return _note(f"Nothing to carry into {following}.")
    return _note(f"{fmt_count(len(items))} open defect(s) carried into {following}.")


# ---------------------------------------------------------------- summary cards


def summary_cards(
    rel: ReleaseInfo,
    comparison: RateComparison,
    verdicts: pd.DataFrame,
    dr: pd.DataFrame,
    items: pd.DataFrame,
) -> list[Card]:
    """The tiles at the top: escape rate vs previous releases, found before / after, the
    production gate verdict, MTTD and MTTR over all environments, open defects."""
    rca = "" if not rel.rca_required else (" · RCA required" + ("" if rel.rca_link else ", no RCA link"))
    production = verdicts[verdicts["environment"] == PRODUCTION]
    if production.empty:
        verdict, fired = "not evaluated", "not a gate release (no gate key for production)"
    else:
        row = production.iloc[0]
        fired = "no rule fired" if not len(row["fired_rules"]) else "fired: " + _join(row["fired_rules"])
        if len(row["waived_rules"]):
            fired += " · waived: " + _join(row["waived_rules"])
        verdict = row["verdict"]
    defects, incidents = _all_environments(dr, "defect"), _all_environments(dr, "incident")
    return [
        Card(
            "Escape rate",
            fmt_pct(rel.escape_rate),
            f"previous releases: mean {fmt_pct(comparison.mean)}, median {fmt_pct(comparison.median)} "
            f"(n={comparison.n}){rca}",
        ),
        Card(
            "Found before / after release",
            f"{fmt_count(rel.pre_release_defects)} / {fmt_count(rel.escaped)}",
            f"pre-release: {fmt_count(rel.pre_release_defects)} defect(s); escaped: "
            f"{fmt_count(rel.escaped_defects)} defect(s), {fmt_count(rel.escaped_incidents)} incident(s)",
        ),
        Card("Gate verdict, production", verdict, fired),
        Card(
            "Mean time to detect",
            fmt_hours(defects.get("mttd_hours")),
            f"defects in all environments, n={fmt_count(defects.get('n_detect'))} · incidents "
            f"{fmt_hours(incidents.get('mttd_hours'))} (n={fmt_count(incidents.get('n_detect'))})",
        ),
        Card(
            "Mean time to resolve",
            fmt_hours(defects.get("mttr_hours")),
            f"defects in all environments, n={fmt_count(defects.get('n_resolve'))} · incidents "
            f"{fmt_hours(incidents.get('mttr_hours'))} (n={fmt_count(incidents.get('n_resolve'))})",
        ),
        Card(
            "Open defects",
            fmt_count(len(items)),
            " · ".join(f"{s} {fmt_count((items['severity'] == s).sum())}" for s in SEVERITIES)
            + f" · next release: {rel.next_release or 'none yet'}",
        ),
    ]


# ---------------------------------------------------------------- helpers


def _release_rows(con: duckdb.DuckDBPyConnection, sql: str, service: str, release: str) -> pd.DataFrame:
    """The rows of a query whose two parameters are the service and the release, in that order."""
    return con.execute(sql, [service, release]).df()


def _category_axis(title: str, categories: list[str]) -> dict[str, Any]:
    """An x axis of escaped categories in the given order (plotly would sort or merge them)."""
    return {"title": {"text": title}, "type": "category", "categoryorder": "array", "categoryarray": categories}


def _all_environments(dr: pd.DataFrame, record_type: str) -> dict[str, Any]:
    rows = dr[(dr["record_type"] == record_type) & (dr["environment"] == "ALL")]
    return {} if rows.empty else rows.iloc[0].to_dict()


def _in_order(values: pd.Series, order: Sequence[str], always: Sequence[str]) -> list[str]:
    """``always`` and the values present, in canonical order, then unlisted values by name."""
    present = set(values.dropna())
    known = [v for v in order if v in always or v in present]
    return known + sorted(present - set(order))


def _sort_environments(df: pd.DataFrame, column: str, by: Sequence[str] = ()) -> pd.DataFrame:
    """Rows in pipeline order of ``column`` (stable: the query's order breaks ties), after ``by``."""
    df = df.assign(_env=df[column].map(lambda e: rank_in(ENVIRONMENT_ORDER, e)))
    return df.sort_values([*by, "_env", column], kind="stable").drop(columns="_env").reset_index(drop=True)


def _waiver(approver: Any, reason: Any, expires_at: Any) -> str:
    """Who approved a waiver, why and until when, in one cell; empty without a waiver."""
    if is_blank(approver):
        return ""
    until = "no expiry" if is_missing(expires_at) else f"expires {fmt_timestamp(expires_at)}"
    return f"{approver} ({until}): {'' if is_blank(reason) else reason}".removesuffix(": ")


def _median(hours: Any, n: Any, what: str) -> str:
    """' (median 1.9 h to roll back, n=1)', or nothing when no time was measured."""
    return f" (median {fmt_hours(hours)} {what}, n={fmt_count(n)})" if int_or_zero(n) else ""


def _join(values: Any) -> str:
    return "" if values is None or not len(values) else ", ".join(str(v) for v in values)


def _observed(rule: str, value: Any) -> str:
    """A finding's observed value or threshold: the RCA rule's are escape rates, the others counts."""
    if is_missing(value):
        return NOT_AVAILABLE
    return fmt_pct(value) if rule == _RCA_RULE else fmt_count(value)


def _note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def _empty(text: str) -> str:
    return f'<p class="empty">{esc(text)}</p>'
