"""The exports-folder sensor asks for a build exactly when the folder's files change."""

import os

import dagster as dg

from pipelines.defs.sensors import exports_folder_sensor


def _evaluate(cursor):
    context = dg.build_sensor_context(cursor=cursor)
    result = exports_folder_sensor(context)
    return result, context.cursor


def test_sensor_requests_a_build_only_for_new_or_changed_files(tmp_path, monkeypatch):
    monkeypatch.setenv("DEFECTFLOW_EXPORTS", str(tmp_path))
    (tmp_path / "defects.csv").write_text("defect_id,title,created_at\nA-1,t,2026-01-01T00:00:00Z\n")

    first, cursor = _evaluate(None)
    assert isinstance(first, dg.RunRequest)

    again, same_cursor = _evaluate(cursor)
    assert isinstance(again, dg.SkipReason) and same_cursor == cursor

    (tmp_path / "incidents.csv").write_text("incident_id,detected_at\nI-1,2026-01-02T00:00:00Z\n")
    added, cursor_after_add = _evaluate(cursor)
    assert isinstance(added, dg.RunRequest) and cursor_after_add != cursor

    stat = (tmp_path / "defects.csv").stat()
    os.utime(tmp_path / "defects.csv", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    touched, _ = _evaluate(cursor_after_add)
    assert isinstance(touched, dg.RunRequest)


def test_sensor_skips_a_missing_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("DEFECTFLOW_EXPORTS", str(tmp_path / "absent"))
    result, _ = _evaluate(None)
    assert isinstance(result, dg.SkipReason) and "does not exist" in result.skip_message


def test_sensor_is_off_by_default_and_starts_the_weekly_build():
    assert exports_folder_sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert exports_folder_sensor.job_name == "weekly_build"
