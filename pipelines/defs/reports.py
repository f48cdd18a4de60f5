"""Report notebooks as assets: executed headless, rendered to self-contained HTML, and an index.

One multi-asset renders every report of a build so the index lists exactly
what this build wrote (an earlier `defectflow report` in the same as-of folder
is not "of this build"). Each report is its own asset, downstream of the marts
its notebook reads (docs/reports.md).
"""

import logging
from collections.abc import Iterator

import dagster as dg

from pipelines import progress
from pipelines.defs.warehouse import Warehouse
from pipelines.reporting import REPORTS, IndexEntry, post_release, postmortem, render_report, write_index
from pipelines.reporting.queries import open_warehouse
from pipelines.reporting.render import kernel_session
from pipelines.settings import BuildSettings

log = logging.getLogger("defectflow")

#: Post-release reports for the releases first in production this many days before the as-of.
POST_RELEASE_DAYS = 7
#: At most this many post-release reports per build, for the releases with the most escapes; the
#: index names the others and how to render one (a large organisation ships hundreds a week).
POST_RELEASE_LIMIT = 20
#: The post-mortem is for the worst release first in production this many days before the as-of.
POSTMORTEM_DAYS = 28

_BY_NAME = {report.name: report for report in REPORTS}


def _spec(name: str) -> dg.AssetSpec:
    report = _BY_NAME[name]
    return dg.AssetSpec(
        key=["reports", report.notebook],
        deps=[["marts", table] for table in report.tables] + [["history", table] for table in report.history],
        group_name="reports",
        kinds={"jupyter", "html"},
        description=report.title,
    )


INDEX_KEY = dg.AssetKey(["reports", "index"])


@dg.multi_asset(
    specs=[
        _spec("executive"),
        _spec("post_release"),
        _spec("postmortem"),
        _spec("clusters"),
        dg.AssetSpec(
            key=INDEX_KEY,
            deps=[["reports", report.notebook] for report in REPORTS],
            group_name="reports",
            kinds={"html"},
            description="The page linking every report of the build",
        ),
    ],
    name="reports",
)
def reports(build: BuildSettings, warehouse: Warehouse) -> Iterator[dg.MaterializeResult]:
    """The briefing; a post-release report per release first in production in the last
    week; a post-mortem for the worst recent release; the cluster explorer; the index page of
    them all."""
    with open_warehouse(warehouse.file, required=()) as con:
        recent = post_release.recent_releases(con, POST_RELEASE_DAYS, worst_first=True)
        worst = postmortem.worst_recent_release(con, POSTMORTEM_DAYS)
    recent, unrendered = recent[:POST_RELEASE_LIMIT], recent[POST_RELEASE_LIMIT:]

    staged = warehouse.staged_reports(build.reports())  # published with the warehouse, or not at all
    entries: list[IndexEntry] = []
    total = 2 + len(recent) + bool(worst)  # the briefing, the post-release reports, the post-mortem, clusters
    progress.advance("reports", 0, total)

    def render(name: str, params: dict[str, str], subject: str) -> list[str]:
        report = _BY_NAME[name]
        with progress.stage(f"report {name}"):
            path = render_report(report, params, warehouse.file, staged, kernel)
        log.debug("  report %s", path)
        entries.append(IndexEntry(report.title, subject, path))
        progress.advance("reports", len(entries), total)
        return [str(warehouse.published_path(path))]

    def rendered(name: str, paths: list[str]) -> dg.MaterializeResult:
        return dg.MaterializeResult(asset_key=_spec(name).key, metadata={"paths": dg.MetadataValue.json(paths)})

    with kernel_session() as kernel:
        yield rendered("executive", render("executive", {}, "all services"))
        yield rendered(
            "post_release",
            [p for s, r in recent for p in render("post_release", {"service": s, "release": r}, f"{s} {r}")],
        )
        yield rendered("postmortem", render("postmortem", {"service": worst[0], "release": worst[1]},
                                            f"{worst[0]} {worst[1]}") if worst else [])
        yield rendered("clusters", render("clusters", {}, "engineers: the largest cluster and its top defect"))

    notes = []
    if not recent:
        notes.append(f"No release was first deployed to production in the {POST_RELEASE_DAYS} days before the as-of.")
    if unrendered:
        notes.append(
            f"{len(unrendered)} more releases were first deployed to production in the {POST_RELEASE_DAYS} days "
            f"before the as-of; this build rendered the {POST_RELEASE_LIMIT} with the most escapes. Render any other "
            "with `defectflow report post_release --param service=SERVICE --param release=RELEASE`: "
            + ", ".join(f"{service} {release}" for service, release in unrendered) + "."
        )
    if not worst:
        notes.append(f"No release first in production in the {POSTMORTEM_DAYS} days before the as-of has an escape.")
    intro = (
        f"The weekly briefing; a post-release report for every release first deployed to production in the "
        f"{POST_RELEASE_DAYS} days before the as-of; the post-mortem gap analysis of the worst release first in "
        f"production in the {POSTMORTEM_DAYS} days before it; the cluster explorer. All open offline."
    )
    index = write_index(entries, intro, notes)
    log.debug("  index  %s", index)
    yield dg.MaterializeResult(
        asset_key=INDEX_KEY,
        metadata={
            "path": dg.MetadataValue.path(str(warehouse.published_path(index))),
            "reports": dg.MetadataValue.json([str(warehouse.published_path(e.path)) for e in entries]),
        },
    )


defs = dg.Definitions(assets=[reports])
