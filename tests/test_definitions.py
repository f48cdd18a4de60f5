"""The Dagster code location loads, and its asset graph is what reviewers expect."""

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def defs():
    from pipelines.cli import parse_dbt_project

    parse_dbt_project()
    from pipelines.definitions import defs

    return defs


def test_definitions_load(defs):
    job = defs.resolve_job_def("weekly_build")
    assert job.name == "weekly_build"
    schedule = defs.resolve_schedule_def("weekly_build_monday_0600_utc")
    assert schedule.cron_schedule == "0 6 * * 1"
    assert schedule.execution_timezone == "UTC"
    assert schedule.default_status.value == "STOPPED"
    sensor = defs.resolve_sensor_def("exports_folder_sensor")  # what `dagster dev` shows
    assert sensor.job_name == "weekly_build" and sensor.default_status.value == "STOPPED"


def test_asset_graph_snapshot(defs):
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    for expected in [
        "raw/defects", "raw/load_report", "raw/quarantine", "staging/stg_exports__defects",
        "intermediate/int_defects", "marts/release_escape_rate",
        "marts/detection_resolution_by_environment", "marts/fct_defects", "marts/fct_incidents",
        "marts/fct_deployments", "reports/executive_briefing",
        "raw/policy_statuses", "staging/stg_policy__statuses", "staging/stg_policy__environments",
        "staging/stg_policy__severities", "staging/stg_policy__postmortem_severities",
        "intermediate/int_defect_status_transitions", "audit/unmapped_values",
    ]:
        assert expected in keys, expected
    assert "raw/unmapped_values" not in keys  # the audit model replaced the ingest's table
    audit_parents = {k.to_user_string() for k in graph.get(defs_key("audit/unmapped_values")).parent_keys}
    assert audit_parents == {
        "staging/stg_exports__defects", "staging/stg_exports__defect_status_history",
        "staging/stg_exports__incidents", "staging/stg_exports__deployments", "staging/stg_policy__settings",
    }
    parents = {k.to_user_string() for k in graph.get(defs_key("marts/release_escape_rate")).parent_keys}
    assert parents == {
        "intermediate/int_defects", "intermediate/int_incidents", "intermediate/int_incident_defect_links",
        "staging/stg_exports__releases", "staging/stg_policy__settings",
    }
    # Each report is downstream of exactly the tables its notebook reads, all built by the job;
    # the index follows every report.
    from pipelines.reporting import REPORTS

    for report in REPORTS:
        report_parents = {k.to_user_string() for k in graph.get(defs_key(f"reports/{report.notebook}")).parent_keys}
        expected = {f"marts/{t}" for t in report.tables} | {f"history/{t}" for t in report.history}
        assert report_parents == expected, report.name
        assert expected <= keys, report.name
    index_parents = {k.to_user_string() for k in graph.get(defs_key("reports/index")).parent_keys}
    assert index_parents == {f"reports/{r.notebook}" for r in REPORTS}
    checks = {c.name for c in graph.asset_check_keys}
    assert "rows_read_equal_loaded_plus_quarantined" in checks


def test_one_check_layer_per_concern(defs):
    """GX suites on the raw tables and on the one mart dbt does not build; dbt tests on the marts,
    singular ones included."""
    checks = {(c.asset_key.to_user_string(), c.name) for c in defs.resolve_asset_graph().asset_check_keys}
    assert {check for check in checks if check[1].startswith("gx_")} == {
        *((f"raw/{table}", f"gx_{table}") for table in (
            "defects", "defect_status_history", "deployments", "incidents", "releases", "commits", "waivers",
            "defect_links", "test_cases", "coverage", "key_mappings")),
        ("marts/deploy_recurrence_correlation", "gx_deploy_recurrence_correlation"),
    }
    assert {
        ("marts/release_escape_rate", "release_escape_rate_row_rules"),
        ("marts/fct_defects", "unique_fct_defects_defect_id"),
        ("marts/fct_defects", "fct_defects_row_rules"),
        ("marts/fct_defects", "fct_defects_row_rules_warn"),
        ("marts/cumulative_flow", "cumulative_flow_row_rules"),
        ("marts/defect_clusters", "assert_defect_clusters_consistent"),
        ("marts/rollback_hotfix_summary", "assert_rollback_hotfix_summary_reconciles"),
    } <= checks


def defs_key(path):
    import dagster as dg

    return dg.AssetKey(path.split("/"))
