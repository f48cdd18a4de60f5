"""The weekly build job and its schedule."""


import dagster as dg

weekly_build = dg.define_asset_job(
    "weekly_build",
    selection=dg.AssetSelection.all(),
    description="Ingest the exports, build every dbt model and test, render the reports.",
    # One writer per DuckDB file: steps run one after another in this process.
    executor_def=dg.in_process_executor,
)

weekly_schedule = dg.ScheduleDefinition(
    name="weekly_build_monday_0600_utc",
    job=weekly_build,
    cron_schedule="0 6 * * 1",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)

defs = dg.Definitions(jobs=[weekly_build], schedules=[weekly_schedule])
