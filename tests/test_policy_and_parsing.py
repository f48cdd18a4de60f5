"""Unit tests: policy validation and mapping, as-of and timestamp parsing."""

from datetime import UTC, datetime

import duckdb
import pytest

from pipelines.defs.ingest.rules import MACROS
from pipelines.policy import PolicyError, load_policy, match_key, vocabulary_tables
from pipelines.settings import AsOfError, parse_as_of


def test_shipped_policy_maps_the_settled_vocabulary():
    names = {(v, match_key(n)): c for v, n, c in load_policy().vocabulary_names()}
    for raw, canonical in [("Blocker", "S1"), ("SEV-1", "S1"), ("P2", "S2"), ("Normal", "S3"), ("Trivial", "S4")]:
        assert names[("severity", match_key(raw))] == canonical
    for raw, canonical in [("prd", "production"), ("live", "production"), ("UAT", "staging"), ("qa", "test")]:
        assert names[("environment", match_key(raw))] == canonical
    assert names[("status", match_key("In Progress"))] == "in_progress"
    assert names[("resolution", match_key("Won't Fix"))] == "wont_fix"


def test_vocabulary_tables_list_each_canonical_value_once():
    tables = vocabulary_tables()
    assert tables.environments == [
        ("dev", 1, True), ("ci", 2, True), ("test", 3, True), ("staging", 4, True), ("production", 5, False),
    ]
    assert tables.statuses == [
        ("new", True), ("triaged", True), ("in_progress", True), ("resolved", False), ("closed", False),
        ("deferred", True),
    ]
    assert tables.severities == [("S1", 1, 1.0), ("S2", 2, 0.66), ("S3", 3, 0.33), ("S4", 4, 0.0)]


def test_postmortem_severities_default_and_override(tmp_path):
    assert load_policy().postmortem_severities == ["S1", "S2"]
    own = tmp_path / "p.yml"
    own.write_text("postmortem_severities: [S1]\n")
    assert load_policy(own).postmortem_severities == ["S1"]
    own.write_text("postmortem_severities: [P1]\n")
    with pytest.raises(PolicyError, match=r"postmortem_severities\.0"):
        load_policy(own)


def test_bad_policy_names_key_path_and_reason(tmp_path):
    bad = tmp_path / "p.yml"
    bad.write_text("attribution_windw_hours: 3\ngates:\n  production:\n    blocking_severities: [S9]\n")
    with pytest.raises(PolicyError) as err:
        load_policy(bad)
    text = str(err.value)
    assert "attribution_windw_hours: unknown key" in text
    assert "gates.production.blocking_severities.0" in text


def test_ambiguous_vocabulary_is_rejected(tmp_path):
    bad = tmp_path / "p.yml"
    bad.write_text("severities:\n  S1: [Urgent]\n  S2: [urgent]\n")
    with pytest.raises(PolicyError, match="listed under both"):
        load_policy(bad)


def test_weights_must_sum_to_one(tmp_path):
    bad = tmp_path / "p.yml"
    bad.write_text("priority_weights: {severity: 0.5}\n")
    with pytest.raises(PolicyError, match="sum to 1"):
        load_policy(bad)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-06-30", datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2026-06-30T12:00:00", datetime(2026, 6, 30, 12, tzinfo=UTC)),
        ("2026-06-30T12:00:00+02:00", datetime(2026, 6, 30, 10, tzinfo=UTC)),
        ("2026-06-30T12:00:00Z", datetime(2026, 6, 30, 12, tzinfo=UTC)),
    ],
)
def test_as_of_parsing(text, expected):
    assert parse_as_of(text) == expected


def test_bad_as_of_is_a_clear_error():
    with pytest.raises(AsOfError, match="neither a date"):
        parse_as_of("last tuesday")


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("set TimeZone = 'UTC'")
    c.execute(MACROS)
    yield c
    c.close()


@pytest.mark.parametrize(
    "raw, tz, expected_utc",
    [
        ("2026-03-02T10:15:00+02:00", "UTC", "2026-03-02 08:15:00+00"),
        ("2026-03-02T10:15:00Z", "Europe/Berlin", "2026-03-02 10:15:00+00"),
        ("2026-03-02 10:15:00", "UTC", "2026-03-02 10:15:00+00"),
        # naive in the policy zone: Berlin is UTC+1 in winter
        ("2026-03-02 10:15:00", "Europe/Berlin", "2026-03-02 09:15:00+00"),
        # ambiguous wall time (DST fold, 01:30 happens twice): the earlier instant (EDT, UTC-4)
        ("2026-11-01 01:30:00", "America/New_York", "2026-11-01 05:30:00+00"),
        ("2026-03-02", "UTC", "2026-03-02 00:00:00+00"),
    ],
)
def test_timestamp_parsing(con, raw, tz, expected_utc):
    value = con.execute("select df_ts(?, ?)::varchar", [raw, tz]).fetchone()[0]
    assert value == expected_utc


def test_nonexistent_local_time_is_detected(con):
    # 02:30 on 2026-03-08 does not exist in New York (clocks jump 02:00 -> 03:00)
    assert con.execute("select df_ts_gap('2026-03-08 02:30:00', 'America/New_York')").fetchone()[0] is True
    assert con.execute("select df_ts_gap('2026-03-08 03:30:00', 'America/New_York')").fetchone()[0] is False


def test_shipped_policy_shows_the_code_defaults_for_every_source():
    from pipelines.policy import SOURCE_DEFAULTS, SourceMapping

    policy = load_policy()
    for name, default in SOURCE_DEFAULTS.items():
        assert policy.source(name) == SourceMapping.model_validate(default), name


def test_shipped_policy_shows_the_code_default_coverage_exclusions():
    from pipelines.policy import DEFAULT_COVERAGE_EXCLUDE

    assert load_policy().coverage_exclude == list(DEFAULT_COVERAGE_EXCLUDE)


@pytest.mark.parametrize(("glob", "path", "matches"), [
    ("services/payments/**", "services/payments/api/charge.py", True),
    ("services/payments/**", "services/pay/charge.py", False),
    ("src/*.py", "src/app/main.py", False),  # `*` stays within a folder
    ("*.py", "deep/in/tree/x.py", True),  # no folder part: the file name anywhere
    ("**/test_*.py", "test_x.py", True),
    ("**/*Test.java", "a/b/src/test/FooTest.java", True),
    ("a.b/c?.txt", "axb/c1.txt", False),  # `.` is literal
])
def test_path_globs_become_anchored_regexes(glob, path, matches):
    import re

    from pipelines.policy import glob_regex

    assert bool(re.fullmatch(glob_regex(glob), path)) is matches


def test_a_user_policy_overrides_one_field_mapping_and_keeps_the_rest(tmp_path):
    path = tmp_path / "p.yml"
    path.write_text(
        "sources:\n  jira:\n    fields:\n      environment: [customfield_10042]\n"
        "    default_environment: null\n", encoding="utf-8")
    policy = load_policy(path)
    jira = policy.source("jira")
    assert jira.fields["environment"] == ["customfield_10042"]
    assert jira.fields["found_in_release"] == ["versions"]  # untouched default
    assert jira.default_environment is None
    # keys the file leaves out keep the shipped values, vocabularies included
    names = {(v, match_key(n)): c for _, v, n, c in policy.vocabulary_rows()}
    assert names[("environment", "prod")] == "production"


def test_an_unknown_source_or_mapping_key_fails_with_its_path(tmp_path):
    path = tmp_path / "p.yml"
    path.write_text("sources:\n  jirra:\n    fields: {}\n  github:\n    feilds: {}\n", encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    message = str(info.value)
    assert "sources.jirra" in message and "sources.github.feilds" in message


def test_source_vocabularies_win_for_that_source_only():
    policy = load_policy()
    rows = {(s, v, n): c for s, v, n, c in policy.vocabulary_rows()}
    assert rows[("jira", "resolution", "完成")] == "fixed"
    assert ("*", "resolution", "完成") not in rows
    assert rows[("*", "status_category", "indeterminate")] == "in_progress"
