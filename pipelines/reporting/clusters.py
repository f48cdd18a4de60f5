"""The cluster explorer (the layout is notebooks/clusters.ipynb; docs/reports/clusters.md).

An engineer's questions about duplicate clusters: which are the largest, which
grow fastest, which matter most (priority score), what one cluster's members
have in common and where they differ, how often problems come back week by
week, and which defects look like a given one.

Everything is read from ``marts.defect_clusters``, ``marts.duplicate_candidates``
and ``marts.fct_defects`` (docs/metrics.md, Duplicates, clusters, recurrence);
this module counts and orders their rows and never recomputes a cluster or a
score. The query functions take the connection and plain values and return
DataFrames or figures, so in JupyterLab they can be called on their own
(``clusters.cluster_members(con, "PAY-345")``). Values reach SQL as bound
parameters; text reaches the page through ``fragments.html_table`` /
``fragments.esc`` or ``charts.plot_text``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import plotly.graph_objects as go

from pipelines.reporting.catalog import Parameter, Report, ReportParameterError, check_as_of, suggest
from pipelines.reporting.charts import CHART_TEMPLATE, annotate_empty, plot_text
from pipelines.reporting.formatting import NOT_AVAILABLE, fmt_count, fmt_date, fmt_flag, is_missing
from pipelines.reporting.fragments import Card, cards_html, esc, html_table, shorten
from pipelines.reporting.queries import natural_key
from pipelines.warehouse import DEFAULT_WAREHOUSE, PROJECT_ROOT, WAREHOUSE_ENV

TITLE = "Cluster explorer"

#: ``marts`` tables the report reads; a warehouse without one is refused before rendering.
TABLES: tuple[str, ...] = ("build_metadata", "fct_defects", "defect_clusters", "duplicate_candidates")

#: "Fastest-growing" compares the members created in this many weeks before the as-of with the rest.
GROWTH_WEEKS = 4
#: Rows in each list of clusters.
LIST_LIMIT = 10
#: Members listed on the page; a larger cluster says how many more there are.
MEMBER_ROWS = 100
#: Member ids written beside each value of a field that differs.
IDS_PER_VALUE = 5

NO_CLUSTERS = "No cluster of two or more defects."
MISSING_VALUE = "(none)"

#: The fields compared between a cluster's members: (column of fct_defects, label).
COMPARED_FIELDS: tuple[tuple[str, str], ...] = (
    ("service", "Service"),
    ("component", "Component"),
    ("team", "Team"),
    ("environment", "Environment"),
    ("severity", "Severity"),
    ("type", "Type"),
    ("found_in_release", "Found in release"),
    ("attributed_release", "Attributed release"),
    ("fixed_in_release", "Fixed in release"),
    ("stack_fingerprint", "Stack fingerprint"),
    ("status", "Status"),
    ("resolution", "Resolution"),
)

# A cluster's representative: its open defect with the highest priority (the one to work on
# first), else its highest-priority member; ties by id.
_TOP_MEMBER_ORDER = "d.is_open desc, d.priority_score desc nulls last, d.defect_id"
# How a cluster formed (defect_clusters.cluster_method), in words that fit a narrow column.
_METHOD_LABELS = {"explicit_link": "link", "similarity": "similarity", "explicit_link+similarity": "both"}
_RECURRENCE_COLOUR = "#d62728"
_OTHER_COLOUR = "#b8bec8"
_UNIT_TICKS_UP_TO = 6


# ---------------------------------------------------------------- the warehouse and the selection


def warehouse_file(path: str | Path | None = None) -> Path:
    """The warehouse the notebook opens: ``path``, else ``$DEFECTFLOW_WAREHOUSE``, else
    data/warehouse.duckdb. A relative path is read from the project root.

    JupyterLab starts a notebook's kernel in the notebook's folder (notebooks/), not
    where ``jupyter lab`` was started, so reading a relative path from the current
    directory, as the CLI does, would look in the wrong place.
    """
    chosen = Path(path or os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE).expanduser()
    return chosen if chosen.is_absolute() else PROJECT_ROOT / chosen


@dataclass(frozen=True)
class Selection:
    """What the page opens: one cluster, one defect to find look-alikes of, the growth window.

    ``cluster`` and ``defect`` are None only in a warehouse without defects.
    """

    cluster: str | None
    defect: str | None
    weeks: int

    @property
    def cluster_label(self) -> str:
        """The cluster as a chart names it."""
        return "no cluster" if self.cluster is None else f"cluster {self.cluster}"

    @property
    def subtitle(self) -> str:
        if self.cluster is None:
            return "no defects"
        return f"cluster {self.cluster} · similar to {self.defect} · growth over {self.weeks} weeks"


def select(
    con: duckdb.DuckDBPyConnection,
    cluster: str | None = None,
    defect: str | None = None,
    weeks: int | str = GROWTH_WEEKS,
) -> Selection:
    """Check the notebook's parameters and fill in the defaults: the largest cluster (any
    member's id names its cluster) and that cluster's top defect.

    An unknown id is a ``ReportParameterError`` naming the nearest known ones.
    """
    chosen = cluster_of(con, cluster) if _given(cluster) else default_cluster(con)
    target = known_defect(con, defect) if _given(defect) else default_defect(con, chosen)
    return Selection(cluster=chosen, defect=target, weeks=check_weeks(weeks))


def cluster_of(con: duckdb.DuckDBPyConnection, value: str) -> str:
    """The cluster of ``value``, a cluster id or the id of any defect in it."""
    value = str(value).strip()
    row = con.execute("select cluster_id from marts.defect_clusters where defect_id = ?", [value]).fetchone()
    if row is None:
        raise suggest(value, _ids(con, "select defect_id from marts.defect_clusters"), "cluster or defect")
    return str(row[0])


def known_defect(con: duckdb.DuckDBPyConnection, value: str) -> str:
    """``value`` when the warehouse holds a defect of that id."""
    value = str(value).strip()
    if con.execute("select 1 from marts.fct_defects where defect_id = ?", [value]).fetchone() is None:
        raise suggest(value, _ids(con, "select defect_id from marts.fct_defects"), "defect")
    return value


def check_weeks(value: int | str) -> int:
    """The growth window: a whole number of weeks, at least 1."""
    try:
        weeks = int(str(value).strip())
    except ValueError:
        weeks = 0
    if weeks < 1:
        raise ReportParameterError(f"weeks must be a whole number of weeks, at least 1, got {value!r}")
    return weeks


def default_cluster(con: duckdb.DuckDBPyConnection) -> str | None:
    """The largest cluster (ties: the smallest id); a singleton when no defect has a duplicate."""
    row = con.execute(
        "select cluster_id from marts.defect_clusters order by cluster_size desc, cluster_id limit 1"
    ).fetchone()
    return None if row is None else str(row[0])


def default_defect(con: duckdb.DuckDBPyConnection, cluster: str | None) -> str | None:
    """The cluster's top defect: open first, then the highest priority score, then the id."""
    row = con.execute(
        f"""
        select d.defect_id
        from marts.defect_clusters as c
        inner join marts.fct_defects as d on d.defect_id = c.defect_id
        where c.cluster_id = ?
        order by {_TOP_MEMBER_ORDER}
        limit 1
        """,
        [cluster],
    ).fetchone()
    return None if row is None else str(row[0])


# ---------------------------------------------------------------- clusters


@dataclass(frozen=True)
class Overview:
    """The headline counts over every cluster of two or more defects."""

    clusters: int
    similarity_clusters: int
    clustered_defects: int
    largest: int
    largest_id: str | None
    recurrences: int
    recent: int
    pairs_above_threshold: int


def overview(con: duckdb.DuckDBPyConnection, weeks: int = GROWTH_WEEKS,
             summary: pd.DataFrame | None = None) -> Overview:
    """Clusters of two or more defects and how many had a similarity link, the defects in
    them, the largest, recurrences (every defect), clustered defects created in the last
    ``weeks`` weeks, and the candidate pairs at or above the duplicate threshold (each
    pair once, whichever side ranks it). ``summary``: ``cluster_summary(con, weeks)`` if the
    caller has it (at a million defects it takes seconds)."""
    summary = _summary(con, weeks, summary)
    largest = _by_size(summary).head(1)
    row = con.execute(
        """
        select (select count(*) from marts.defect_clusters where is_recurrence),
               (select count(distinct (least(defect_id, candidate_id), greatest(defect_id, candidate_id)))
                from marts.duplicate_candidates where above_threshold)
        """
    ).fetchone()
    assert row is not None  # a select without from always returns one row
    recurrences, pairs = row
    return Overview(
        clusters=len(summary),
        similarity_clusters=int(summary["cluster_method"].str.contains("similarity").sum()),
        clustered_defects=int(summary["defects"].sum()),
        largest=int(largest["defects"].iloc[0]) if len(largest) else 0,
        largest_id=str(largest["cluster_id"].iloc[0]) if len(largest) else None,
        recurrences=int(recurrences),
        recent=int(summary["recent"].sum()),
        pairs_above_threshold=int(pairs),
    )


def cluster_summary(con: duckdb.DuckDBPyConnection, weeks: int = GROWTH_WEEKS) -> pd.DataFrame:
    """One row per cluster of two or more defects, by cluster id.

    Columns: cluster_id, defects (its size, duplicates included), cluster_method,
    open_defects, recurrences, recent (members created in the ``weeks`` weeks
    before the as-of: after ``as_of - 7 * weeks`` days), earlier (the others),
    first_created, last_created, services, priority_score (the highest among its
    open members; NULL when none is open), top_defect and top_title (its open
    member with the highest priority score, else its highest-priority member).
    """
    return con.execute(
        f"""
        with since as (
            select as_of - to_days(cast(7 * $weeks as integer)) as since from marts.build_metadata
        ),
        members as (
            select c.cluster_id, c.cluster_size, c.cluster_method, c.is_recurrence, c.created_at, c.service,
                   d.defect_id, d.title, d.is_open, d.priority_score,
                   row_number() over (partition by c.cluster_id order by {_TOP_MEMBER_ORDER}) as top_rank
            from marts.defect_clusters as c
            inner join marts.fct_defects as d on d.defect_id = c.defect_id
            where c.cluster_size >= 2
        )
        select m.cluster_id,
               any_value(m.cluster_size) as defects,
               any_value(m.cluster_method) as cluster_method,
               count(*) filter (where m.is_open) as open_defects,
               count(*) filter (where m.is_recurrence) as recurrences,
               count(*) filter (where m.created_at > s.since) as recent,
               count(*) filter (where m.created_at <= s.since) as earlier,
               min(m.created_at) as first_created,
               max(m.created_at) as last_created,
               string_agg(distinct m.service, ', ' order by m.service) as services,
               max(m.priority_score) filter (where m.is_open) as priority_score,
               any_value(m.defect_id) filter (where m.top_rank = 1) as top_defect,
               any_value(m.title) filter (where m.top_rank = 1) as top_title
        from members as m
        cross join since as s
        group by m.cluster_id
        order by m.cluster_id
        """,
        {"weeks": check_weeks(weeks)},
    ).df()


def largest_clusters(
    con: duckdb.DuckDBPyConnection, limit: int = LIST_LIMIT, weeks: int = GROWTH_WEEKS,
    summary: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The ``limit`` largest clusters (rows of ``cluster_summary``); ties: the smallest id."""
    return _first(_by_size(_summary(con, weeks, summary)), limit)


def fastest_growing_clusters(
    con: duckdb.DuckDBPyConnection, weeks: int = GROWTH_WEEKS, limit: int = LIST_LIMIT,
    summary: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Clusters with members created in the last ``weeks`` weeks: most new members first,
    then fewest earlier ones (the larger relative growth), then id."""
    summary = _summary(con, weeks, summary)
    growing = summary[summary["recent"] > 0]
    return _first(growing.sort_values(["recent", "earlier", "cluster_id"], ascending=[False, True, True]), limit)


def top_clusters_by_priority(
    con: duckdb.DuckDBPyConnection, limit: int = LIST_LIMIT, weeks: int = GROWTH_WEEKS,
    summary: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Clusters by the highest priority score among their open defects (none open: last),
    then size, then id: the order of the executive briefing's top clusters."""
    ranked = _summary(con, weeks, summary).sort_values(
        ["priority_score", "defects", "cluster_id"], ascending=[False, False, True], na_position="last"
    )
    return _first(ranked, limit)


# ---------------------------------------------------------------- one cluster, one defect

# The defect columns a member or a looked-up defect is shown with.
_DEFECT_COLUMNS = """
    c.cluster_id, c.cluster_size, d.defect_id, d.created_at, d.title, d.service, d.component, d.team,
    d.environment, d.severity, d.type, d.found_in_release, d.attributed_release, d.fixed_in_release,
    d.stack_fingerprint, d.status, d.resolution, d.is_open, c.is_recurrence, c.recurrence_of,
    d.resolved_at, d.priority_score
"""


def cluster_members(con: duckdb.DuckDBPyConnection, cluster_id: str | None) -> pd.DataFrame:
    """The defects of one cluster, oldest first, with the fields ``COMPARED_FIELDS`` names,
    its recurrence flags, title, dates and priority score."""
    return _defects(con, "c.cluster_id", cluster_id)


def defect_details(con: duckdb.DuckDBPyConnection, defect_id: str | None) -> pd.DataFrame:
    """One defect (no row when unknown) with the columns of ``cluster_members``."""
    return _defects(con, "d.defect_id", defect_id)


def _defects(con: duckdb.DuckDBPyConnection, key: str, value: str | None) -> pd.DataFrame:
    """The defects whose ``key`` (a column name of this module, never input) equals ``value``."""
    return con.execute(
        f"""
        select {_DEFECT_COLUMNS}
        from marts.defect_clusters as c
        inner join marts.fct_defects as d on d.defect_id = c.defect_id
        where {key} = ?
        order by d.created_at, d.defect_id
        """,
        [value],
    ).df()


def field_differences(members: pd.DataFrame) -> pd.DataFrame:
    """For each field of ``COMPARED_FIELDS``: how many distinct values the members have
    (a missing value counts as one, shown ``(none)``) and which members have each.

    Columns: field (its label), column, distinct, differs (distinct > 1), values: a
    list of (value, member ids) pairs, the most common value first (ties in natural order:
    release 3.9.0 before 3.10.0).
    """
    rows = []
    for column, label in COMPARED_FIELDS:
        groups: dict[str, list[str]] = {}
        for value, defect_id in zip(members[column], members["defect_id"], strict=True):
            groups.setdefault(MISSING_VALUE if is_missing(value) else str(value), []).append(str(defect_id))
        values = sorted(groups.items(), key=lambda item: (-len(item[1]), natural_key(item[0])))
        rows.append(
            {"field": label, "column": column, "distinct": len(values), "differs": len(values) > 1, "values": values}
        )
    return pd.DataFrame(rows, columns=["field", "column", "distinct", "differs", "values"])


def similar_defects(con: duckdb.DuckDBPyConnection, defect_id: str | None) -> pd.DataFrame:
    """The defect's duplicate candidates by rank, with each candidate's title, service,
    status and cluster, and whether that is the defect's own cluster."""
    return con.execute(
        """
        select s.rank, s.candidate_id, d.title, d.service, d.status, s.score, s.reasons, s.above_threshold,
               k.cluster_id as candidate_cluster, k.cluster_id = own.cluster_id as same_cluster
        from marts.duplicate_candidates as s
        left join marts.fct_defects as d on d.defect_id = s.candidate_id
        left join marts.defect_clusters as k on k.defect_id = s.candidate_id
        left join marts.defect_clusters as own on own.defect_id = s.defect_id
        where s.defect_id = ?
        order by s.rank, s.candidate_id
        """,
        [defect_id],
    ).df()


def weekly_recurrences(con: duckdb.DuckDBPyConnection, cluster_id: str | None = None) -> pd.DataFrame:
    """Defects created per ISO week and how many of them are recurrences, for one cluster or
    (``cluster_id`` None) every defect, duplicates included.

    Every week from the first report's to the as-of's is a row, weeks without a report
    as 0. Columns: week_start (the Monday, a date), defects, recurrences.
    """
    return con.execute(
        """
        with scoped as (
            select cast(date_trunc('week', created_at) as date) as week_start, is_recurrence
            from marts.defect_clusters
            where $cluster is null or cluster_id = $cluster
        ),
        span as (
            select min(week_start) as first_week,
                   cast(date_trunc('week', (select as_of from marts.build_metadata)) as date) as last_week
            from scoped
        ),
        weeks as (
            select cast(unnest(generate_series(first_week, last_week, interval 7 day)) as date) as week_start
            from span
        )
        select w.week_start, count(s.week_start) as defects, count(*) filter (where s.is_recurrence) as recurrences
        from weeks as w
        left join scoped as s on s.week_start = w.week_start
        group by w.week_start
        order by w.week_start
        """,
        {"cluster": cluster_id},
    ).df()


# ---------------------------------------------------------------- charts


def recurrence_chart(weekly: pd.DataFrame, scope: str) -> go.Figure:
    """Reports per week, stacked: recurrences (red) under the other reports (grey).

    Takes the frame from ``weekly_recurrences``; ``scope`` names what it counts
    (e.g. "every defect", "cluster PAY-345") in the title.
    """
    weeks = list(weekly["week_start"])
    others = weekly["defects"] - weekly["recurrences"]
    hover = [[fmt_count(r), fmt_count(d)] for r, d in zip(weekly["recurrences"], weekly["defects"], strict=True)]
    fig = go.Figure()
    for name, counts, colour in (
        ("Recurrences", weekly["recurrences"], _RECURRENCE_COLOUR),
        ("Other reports", others, _OTHER_COLOUR),
    ):
        fig.add_trace(
            go.Bar(
                name=plot_text(name),
                x=weeks,
                y=[int(v) for v in counts],
                marker_color=colour,
                customdata=hover,
                hovertemplate="Week of %{x|%Y-%m-%d}: %{customdata[0]} recurrence(s) of %{customdata[1]} "
                "report(s)<extra></extra>",
            )
        )
    fig.update_layout(
        template=CHART_TEMPLATE,
        barmode="stack",
        height=300,
        title={
            "text": plot_text(f"Reports per week, {scope}"),
            "subtitle": {"text": "ISO weeks (UTC); red: recurrences"},
        },
        xaxis={"type": "date"},
        # whole numbers only: plotly would tick a cluster's counts of 1 and 2 at 0.5 steps
        yaxis={
            "title": {"text": "Defects reported"},
            "rangemode": "tozero",
            "tickformat": ",d",
            "dtick": 1 if weekly.empty or weekly["defects"].max() <= _UNIT_TICKS_UP_TO else None,
        },
        legend={"orientation": "h", "yref": "container", "y": 0.0, "yanchor": "bottom"},
        margin={"t": 70, "b": 80},
    )
    if weekly.empty:
        annotate_empty(fig, "No defect reported.")
    return fig


# ---------------------------------------------------------------- display


def overview_cards(ov: Overview, weeks: int) -> str:
    """The headline cards."""
    similarity = f"{fmt_count(ov.similarity_clusters)} with a similarity link"
    return cards_html(
        [
            Card("Clusters", fmt_count(ov.clusters), f"of 2+ defects · {similarity}"),
            Card("Defects in clusters", fmt_count(ov.clustered_defects), "duplicates included"),
            Card(
                "Largest cluster",
                fmt_count(ov.largest),
                f"defects in {ov.largest_id}" if ov.largest_id else "no cluster of two or more defects",
            ),
            Card("Recurrences", fmt_count(ov.recurrences), "reports of a problem already fixed"),
            Card("New in clusters", fmt_count(ov.recent), f"defects created in the {weeks} weeks before the as-of"),
            Card("Pairs above threshold", fmt_count(ov.pairs_above_threshold), "duplicate candidates, each pair once"),
        ],
        columns=3,
    )


def clusters_frame(summary: pd.DataFrame) -> pd.DataFrame:
    """Display frame of rows of ``cluster_summary``: the same columns in every list (*New*: the
    members created in the growth window the summary was read with)."""
    return pd.DataFrame(
        {
            "Cluster": summary["cluster_id"],
            "Size": summary["defects"].map(fmt_count),
            "Open": summary["open_defects"].map(fmt_count),
            "Recur.": summary["recurrences"].map(fmt_count),
            "New": summary["recent"].map(fmt_count),
            "Priority": summary["priority_score"].map(_fmt_priority),
            "Linked by": summary["cluster_method"].map(_fmt_method),
            "Services": summary["services"],
            "Latest": summary["last_created"].map(fmt_date),
            "Top defect": [_titled(i, t) for i, t in zip(summary["top_defect"], summary["top_title"], strict=True)],
        }
    )


def members_html(members: pd.DataFrame, cluster: str | None) -> str:
    """The members table (the first ``MEMBER_ROWS``, with a note of how many more)."""
    shown = members.head(MEMBER_ROWS)
    frame = pd.DataFrame(
        {
            "Defect": shown["defect_id"],
            "Created": shown["created_at"].map(fmt_date),
            "Title": shown["title"].map(lambda v: shorten(v, 60)),
            "Service": shown["service"],
            "Environment": shown["environment"],
            "Severity": shown["severity"],
            "Found in": shown["found_in_release"],
            "Status": [_fmt_status(s, r) for s, r in zip(shown["status"], shown["resolution"], strict=True)],
            "Stack fingerprint": shown["stack_fingerprint"].map(lambda v: "no stack trace" if is_missing(v) else v),
            "Recurrence of": shown["recurrence_of"].map(lambda v: "" if is_missing(v) else v),
            "Priority": shown["priority_score"].map(_fmt_priority),
        }
    )
    caption = f"Cluster {cluster}: {fmt_count(len(members))} defect(s)"
    table = html_table(frame, caption=caption, empty="No defect in the warehouse.")
    rest = len(members) - len(shown)
    if rest <= 0:
        return table
    return table + (
        f'<p class="note">…and {esc(fmt_count(rest))} more: in JupyterLab, '
        f"<code>clusters.cluster_members(con, {esc(repr(cluster))})</code> lists them all.</p>"
    )


def differences_html(differences: pd.DataFrame) -> str:
    """The fields whose values differ between the members, with which members have each value,
    then one line with the fields every member shares; nothing for a cluster without members."""
    if not differences["distinct"].any():
        return ""
    return html_table(
        differences_frame(differences),
        caption="Where the members differ",
        empty="Every compared field has one value in this cluster.",
    ) + _shared_fields_note(differences)


def differences_frame(differences: pd.DataFrame) -> pd.DataFrame:
    """Display frame of the fields whose values differ between the members."""
    differ = differences[differences["differs"]]
    return pd.DataFrame(
        {
            "Field": differ["field"],
            "Values": differ["distinct"].map(fmt_count),
            "Members per value": differ["values"].map(_fmt_values),
        }
    )


def _shared_fields_note(differences: pd.DataFrame) -> str:
    same = differences[differences["distinct"] == 1]
    if same.empty:
        return '<p class="note">No field has the same value in every member.</p>'
    items = " · ".join(f"{field} {values[0][0]}" for field, values in zip(same["field"], same["values"], strict=True))
    return f'<p class="note">Same in every member: {esc(items)}.</p>'


def defect_heading(details: pd.DataFrame) -> str:
    """The looked-up defect: id, title, service and cluster."""
    if details.empty:
        return '<p class="empty">No defect in the warehouse.</p>'
    d = details.iloc[0]
    size = int(d["cluster_size"])
    cluster = "alone in its cluster" if size == 1 else f"cluster {d['cluster_id']} of {fmt_count(size)}"
    return (
        f'<p><strong>{esc(d["defect_id"])}</strong> {esc(d["title"])} · {esc(d["service"])} · '
        f"{esc(_fmt_status(d['status'], d['resolution']))} · {esc(cluster)}</p>"
    )


def similar_frame(similar: pd.DataFrame) -> pd.DataFrame:
    """Display frame of a defect's duplicate candidates."""
    return pd.DataFrame(
        {
            "Rank": similar["rank"].map(fmt_count),
            "Candidate": similar["candidate_id"],
            "Title": similar["title"].map(lambda v: shorten(v, 60)),
            "Service": similar["service"],
            "Status": similar["status"],
            "Score": similar["score"].map(lambda v: NOT_AVAILABLE if is_missing(v) else f"{v:.3f}"),
            "Above threshold": similar["above_threshold"].map(fmt_flag),
            "Cluster": [
                f"same ({c})" if same else c
                for c, same in zip(similar["candidate_cluster"], similar["same_cluster"].fillna(False), strict=True)
            ],
            "Reasons": similar["reasons"],
        }
    )


def no_candidates(defect: str | None) -> str:
    """Why the look-alike table is empty."""
    return f"No duplicate candidate was found for {defect}." if defect else "No defect in the warehouse."


# ---------------------------------------------------------------- helpers


def _given(value: Any) -> bool:
    return not is_missing(value) and str(value).strip() != ""


def _ids(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    return [str(r[0]) for r in con.execute(sql).fetchall()]


def _summary(con: duckdb.DuckDBPyConnection, weeks: int, summary: pd.DataFrame | None) -> pd.DataFrame:
    """The caller's ``cluster_summary`` of ``weeks``, else a new one."""
    return cluster_summary(con, weeks) if summary is None else summary


def _by_size(summary: pd.DataFrame) -> pd.DataFrame:
    return summary.sort_values(["defects", "cluster_id"], ascending=[False, True])


def _first(df: pd.DataFrame, limit: int) -> pd.DataFrame:
    return df.head(limit).reset_index(drop=True)


def _fmt_priority(value: Any) -> str:
    return NOT_AVAILABLE if is_missing(value) else f"{value:.0f}"


def _fmt_method(value: Any) -> str:
    return _METHOD_LABELS.get(value, "" if is_missing(value) else str(value))


def _fmt_status(status: Any, resolution: Any) -> str:
    return str(status) if is_missing(resolution) else f"{status} ({resolution})"


def _fmt_values(values: list[tuple[str, list[str]]]) -> str:
    """'payments × 3 (A-1, A-2, A-3) · checkout × 1 (A-4)', at most ``IDS_PER_VALUE`` ids each."""
    parts = []
    for value, ids in values:
        listed = ", ".join(ids[:IDS_PER_VALUE])
        more = f" +{fmt_count(len(ids) - IDS_PER_VALUE)} more" if len(ids) > IDS_PER_VALUE else ""
        parts.append(f"{value} × {fmt_count(len(ids))} ({listed}{more})")
    return " · ".join(parts)


def _titled(defect_id: Any, title: Any) -> str:
    return f"{defect_id} {shorten(title, 40)}"


# ---------------------------------------------------------------- parameters


def _validate(con: duckdb.DuckDBPyConnection, given: dict[str, str]) -> dict[str, Any]:
    """Check the ids and the window; an id left out stays None and the notebook picks the default."""
    cluster = given.get("cluster")
    defect = given.get("defect")
    return {
        "cluster": cluster_of(con, cluster) if _given(cluster) else None,
        "defect": known_defect(con, defect) if _given(defect) else None,
        "weeks": check_weeks(given.get("weeks") or GROWTH_WEEKS),
        "as_of": check_as_of(given.get("as_of")),
    }


def _stem(params: dict[str, Any]) -> str:
    return "clusters" if params.get("cluster") is None else f"clusters_{params['cluster']}"


REPORT = Report(
    name="clusters",
    aliases=("cluster-explorer",),
    notebook="clusters",
    title=TITLE,
    parameters=(
        Parameter("cluster", "a cluster id, or the id of any defect in it (default: the largest cluster)"),
        Parameter("defect", "the defect to list look-alikes of (default: the top open defect of the cluster)"),
        Parameter("weeks", f"the growth window of the fastest-growing clusters (default: {GROWTH_WEEKS})"),
        Parameter("as_of", "the as-of the reader expects (the report warns when the warehouse's differs)"),
    ),
    validate=_validate,
    tables=TABLES,
    stem=_stem,
)
