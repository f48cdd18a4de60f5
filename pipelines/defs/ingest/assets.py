"""The ingest step as a Dagster multi-asset: every `raw` table dbt reads."""


import dagster as dg

from pipelines import progress
from pipelines.defs.ingest.canonical import ENTITIES
from pipelines.defs.ingest.loader import load_exports
from pipelines.defs.ingest.manifest import policy_fingerprint
from pipelines.defs.warehouse import Warehouse
from pipelines.policy import SHIPPED_POLICY, load_policy
from pipelines.printable import printable
from pipelines.settings import BuildSettings
from pipelines.warehouse import own_files

RAW_TABLES = [*ENTITIES, "build_info", "policy_settings", "policy_vocabulary", "policy_sources", "policy_sla",
              "policy_priority_weights", "policy_gate_rules", "policy_gate_settings", "policy_waivers",
              "policy_production_branches", "policy_components", "policy_coverage_exclude",
              "policy_environments", "policy_statuses", "policy_severities", "policy_postmortem_severities"]
BOOKKEEPING = ["load_report", "quarantine", "ingested_files"]
INVARIANT_CHECK = "rows_read_equal_loaded_plus_quarantined"
EMPTY_CHECK = "rows_loaded_from_exports"
# Table names come from the fixed lists above, never from input.
COUNT_SQL = {name: "select count(*) from raw." + name for name in RAW_TABLES + BOOKKEEPING}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["raw", name], group_name="raw", kinds={"duckdb", "python"}, deps=[["pull"]],
                     description=f"raw.{name}: loaded from the exports folder")
        for name in RAW_TABLES + BOOKKEEPING
    ],
    check_specs=[
        dg.AssetCheckSpec(
            INVARIANT_CHECK,
            asset=["raw", "load_report"],
            blocking=True,
            description="Per file: rows read = rows loaded + rows quarantined, "
                        "and the raw tables hold exactly those rows.",
        ),
        dg.AssetCheckSpec(
            EMPTY_CHECK,
            asset=["raw", "load_report"],
            blocking=True,
            description="Exports that were read (or a previous build's that are gone) gave at least one row: "
                        "a build that would publish an empty warehouse in place of data stops, unless "
                        "`--allow-empty`.",
        ),
    ],
)
def raw_exports(context: dg.AssetExecutionContext, build: BuildSettings, warehouse: Warehouse):
    """Load every file of the exports folder into `raw`, quarantining bad rows."""
    policy_file = build.policy() or SHIPPED_POLICY
    policy = load_policy(policy_file)
    as_of = build.as_of_instant()
    with progress.stage("ingest"), warehouse.connect() as con:
        summary = load_exports(
            con, build.exports(), policy, as_of,
            policy_sha=policy_fingerprint(policy_file.read_text(encoding="utf-8")),
            git_repo=build.git(), own_files=own_files(warehouse.live_file()),
        )
        failures = invariant_failures(con)
        counts = {name: con.execute(COUNT_SQL[name]).fetchall()[0][0] for name in RAW_TABLES + BOOKKEEPING}
    for name in RAW_TABLES + BOOKKEEPING:
        metadata: dict[str, object] = {"dagster/row_count": counts[name]}
        if name == "load_report":
            metadata.update(
                files=len(summary.files),
                rejected_files=len(summary.rejected_files),
                rows_loaded=summary.rows_loaded,
                rows_quarantined=summary.rows_quarantined,
                files_reread=len(summary.reread),
                files_removed=len(summary.removed),
                as_of=as_of.isoformat(),
                load_summary=dg.MetadataValue.md(summary_markdown(summary)),
            )
        yield dg.MaterializeResult(asset_key=["raw", name], metadata=metadata)
    yield dg.AssetCheckResult(
        check_name=INVARIANT_CHECK,
        asset_key=["raw", "load_report"],
        passed=not failures,
        metadata={"violations": dg.MetadataValue.json(failures)},
    )
    emptied = None if build.allow_empty or sum(counts[name] for name in ENTITIES) else empty_build_reason(summary)
    yield dg.AssetCheckResult(
        check_name=EMPTY_CHECK,
        asset_key=["raw", "load_report"],
        passed=emptied is None,
        metadata={} if emptied is None else {"failures": dg.MetadataValue.text(emptied)},
    )


def empty_build_reason(summary) -> str | None:
    """Why a build that loaded no row must not replace the warehouse, or None when nothing was
    there to load (an empty exports folder builds an empty warehouse, as a first build may)."""
    read = [f for f in summary.files if f.status != "skipped"]
    if not read and not summary.removed:
        return None
    rejected = summary.rejected_files
    lines = [f"  0 rows loaded from {len(read)} export file(s): {len(rejected)} rejected, "
             f"{summary.rows_quarantined} row(s) quarantined"
             + (f", {len(summary.removed)} file(s) of the last build gone from the folder" if summary.removed else "")]
    lines += [f"  {printable(f.source_file)}: {printable(f.message)}" for f in rejected[:3]]
    lines.append("  the previous warehouse and reports are kept; fix the exports or the policy, "
                 "or build with --allow-empty to publish an empty warehouse")
    return "\n".join(lines)


def summary_markdown(summary) -> str:
    """The load summary as a table for the Dagster UI: per file and entity."""
    lines = ["| file | format | entity | status | read | loaded | quarantined | note |",
             "|---|---|---|---|---:|---:|---:|---|"]
    for f in summary.files:
        note = f.message.replace("|", "/")[:200]
        lines.append(f"| {f.source_file} | {f.format} | {f.entity or '-'} | {f.status} | {f.rows_read} | "
                     f"{f.rows_loaded} | {f.rows_quarantined} | {note} |")
    return "\n".join(lines)


def invariant_failures(con) -> list[dict[str, object]]:
    """Files where read != loaded + quarantined, or the tables disagree with the report."""
    # SQL text: table names from the fixed entity list only.
    parts = [
        "select source_file, count(*) as n from raw.quarantine group by 1",
        *(f"select source_file, count(*) as n from raw.{name} group by 1" for name in ENTITIES),
    ]
    rows = con.execute(
        f"""
        with stored as ({" union all ".join(parts)}),
        per_file as (select source_file, sum(n) as stored from stored group by 1),
        reported as (
            select source_file, sum(rows_read) as rows_read, sum(rows_loaded) as rows_loaded,
                sum(rows_quarantined) as rows_quarantined
            from raw.load_report group by 1
        )
        select r.source_file, r.rows_read, r.rows_loaded, r.rows_quarantined, coalesce(p.stored, 0)
        from reported as r
        left join per_file as p using (source_file)
        where r.rows_read <> r.rows_loaded + r.rows_quarantined
           or coalesce(p.stored, 0) <> r.rows_loaded + r.rows_quarantined
        order by 1
        """
    ).fetchall()
    return [
        {"file": f, "read": read, "loaded": loaded, "quarantined": quarantined, "stored": stored}
        for f, read, loaded, quarantined, stored in rows
    ]


defs = dg.Definitions(assets=[raw_exports])
