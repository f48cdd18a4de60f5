"""Unit tests: GitHub issues, PagerDuty incidents and GitLab deployments adapters on the real samples.

Expected values were read from the sample files by hand (see
../shared/samples/README.md); the PagerDuty writer is checked by a round trip.
"""

import copy
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from pipelines.defs.ingest.adapters import github, gitlab, pagerduty
from pipelines.defs.ingest.adapters.base import ParseContext
from pipelines.policy import load_policy
from pipelines.synthetic.formats import pagerduty as pagerduty_writer
from tests.conftest import SAMPLES

ROOT = Path(__file__).resolve().parent.parent
GITHUB = SAMPLES / "github" / "issues.json"
PAGERDUTY = SAMPLES / "pagerduty" / "incidents.json"
GITLAB = SAMPLES / "deployments" / "gitlab_deployments.json"
# Hand-written in the documented shape of the PagerDuty API (its NOTICE.md).
PAGERDUTY_API = ROOT / "tests" / "fixtures" / "pagerduty_api"


def _load(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _ctx(module, path: Path = Path("x.json")) -> ParseContext:
    policy = load_policy()
    return ParseContext(path=path, policy=policy, mapping=policy.source(module.SOURCE), content_sha256="0")


def _by(rows, key):
    return {row[key]: row for row in rows}


# --------------------------------------------------------------------------- detection


def test_each_adapter_recognises_only_its_own_sample():
    docs = {github: _load(GITHUB), pagerduty: _load(PAGERDUTY), gitlab: _load(GITLAB)}
    for adapter in docs:
        assert [other for other, doc in docs.items() if adapter.matches(doc)] == [adapter]
    for adapter in docs:
        assert not adapter.matches([]) and not adapter.matches({}) and not adapter.matches("text")


# --------------------------------------------------------------------------- GitHub


def test_github_skips_pull_requests_and_keys_issues_by_repository():
    parsed = github.parse(_load(GITHUB), _ctx(github, GITHUB))
    defects = parsed.tables["defects"]
    assert parsed.notes == ["15 pull requests skipped"]
    assert len(defects) == 26
    numbers = [int(row["defect_id"].rpartition("#")[2]) for row in defects]
    assert numbers == [5, 6, 7, 10, 12, 17, 18, 20, 21, 22, 24, 25, 26, 27, 28, 29, 31, 32, 33, 34, 35, 37, 38,
                       42, 43, 44]
    assert {row["defect_id"].rpartition("#")[0] for row in defects} == {"panjf2000/ants"}
    assert {row["service"] for row in defects} == {"ants"}
    # pull requests #4, #8 and #41 carry labels too, but are no defects
    assert not {"panjf2000/ants#4", "panjf2000/ants#8", "panjf2000/ants#41"} & {r["defect_id"] for r in defects}


def test_github_issue_fields():
    defects = _by(github.parse(_load(GITHUB), _ctx(github)).tables["defects"], "defect_id")
    issue = defects["panjf2000/ants#25"]
    assert issue["title"] == "use example errors"
    assert issue["description"].startswith("./antstest.go:37:14: cannot use syncCalculateSum (type func())")
    assert issue["status"] == "closed"
    assert issue["resolution"] == "completed"
    assert issue["created_at"] == "2019-02-02T05:43:38Z"
    assert issue["resolved_at"] == "2019-02-04T09:11:52Z"
    assert issue["source_updated_at"] == "2019-02-04T09:11:52Z"
    assert issue["url"] == "https://github.com/panjf2000/ants/issues/25"
    assert issue["labels"] is None and issue["type"] is None
    assert issue["assignee"] is None  # no issue in the sample is assigned
    assert issue["reporter"] == "jiashiwen"
    assert issue["fixed_in_release"] == "v0.11.0"  # the milestone (the same on every sample issue)
    assert issue["severity"] is None and issue["environment"] is None  # left to the policy defaults
    # updated long after it was closed
    assert defects["panjf2000/ants#31"]["source_updated_at"] == "2019-10-17T03:12:19Z"
    assert defects["panjf2000/ants#31"]["description"] is None  # empty body
    # bodies keep their CRLF line breaks
    assert "\r\n" in defects["panjf2000/ants#5"]["description"]


def test_github_type_from_default_labels():
    defects = _by(github.parse(_load(GITHUB), _ctx(github)).tables["defects"], "defect_id")
    assert defects["panjf2000/ants#6"]["type"] == "Bug"
    assert defects["panjf2000/ants#6"]["labels"] == "bug"
    assert defects["panjf2000/ants#17"]["type"] == "Enhancement"
    assert defects["panjf2000/ants#5"]["type"] == "Question"
    types = [row["type"] for row in defects.values()]
    assert types.count("Bug") == 2 and types.count("Enhancement") == 6 and types.count("Question") == 3


def _issue(**changes):
    issue = copy.deepcopy(next(i for i in _load(GITHUB) if i["number"] == 6))
    issue.update(changes)
    return issue


def test_github_label_prefixes_and_resolutions():
    labels = [{"name": n} for n in ("bug", "severity: High", "env:staging", "team: core", "component:pool",
                                    "type: Regression", "version: 1.2.0")]
    rows = github.parse(
        [
            _issue(labels=labels, state="open", state_reason="reopened", closed_at=None),
            _issue(number=900, labels=[{"name": "duplicate"}], state_reason="completed"),
            _issue(number=901, labels=[], state_reason="not_planned"),
            _issue(number=902, labels=[], state_reason="duplicate"),
        ],
        _ctx(github),
    ).tables["defects"]
    first = rows[0]
    assert (first["severity"], first["environment"], first["team"], first["component"]) == (
        "High", "staging", "core", "pool")
    assert first["type"] == "Regression"  # a type: label wins over the bug label
    assert first["found_in_release"] == "1.2.0"
    assert (first["status"], first["resolution"], first["resolved_at"]) == ("open", None, None)
    assert first["labels"] == "bug;severity: High;env:staging;team: core;component:pool;type: Regression;version: 1.2.0"
    assert [r["resolution"] for r in rows[1:]] == ["duplicate", "not_planned", "duplicate"]


def test_github_user_mapping_overrides_service(tmp_path):
    policy_file = tmp_path / "p.yml"
    policy_file.write_text("sources:\n  github:\n    fields:\n      service: [repository.full_name]\n")
    policy = load_policy(policy_file)
    ctx = ParseContext(Path("x"), policy, policy.source("github"), "0")
    rows = github.parse([_issue()], ctx).tables["defects"]
    assert rows[0]["service"] == "panjf2000/ants"
    assert rows[0]["severity"] is None  # the other shipped mappings stay


# --------------------------------------------------------------------------- PagerDuty


def test_pagerduty_sample_times_from_log_entries():
    parsed = pagerduty.parse(_load(PAGERDUTY), _ctx(pagerduty, PAGERDUTY))
    incidents = _by(parsed.tables["incidents"], "incident_id")
    assert list(incidents) == ["Q3YON8WNWTZMRQ", "Q3CZAU7Q4008QD", "Q1OHFWFP3GPXOG"]

    triggered = incidents["Q3YON8WNWTZMRQ"]  # acknowledged three times, then re-triggered
    assert triggered["title"] == "Crash reported"
    assert triggered["detected_at"] == "2022-11-03T06:23:06.000000Z"
    assert triggered["acknowledged_at"] == "2022-11-03T06:23:07.000000Z"  # the first of the three
    assert triggered["resolved_at"] is None
    assert triggered["source_updated_at"] == "2022-11-03T07:02:36.000000Z"
    assert triggered["severity"] == "high"  # no priority: the urgency
    assert triggered["service"] == "DevService"

    acknowledged = incidents["Q3CZAU7Q4008QD"]
    assert acknowledged["detected_at"] == "2022-11-03T06:44:28.000000Z"
    assert acknowledged["acknowledged_at"] == "2022-11-03T06:44:37.000000Z"
    assert acknowledged["resolved_at"] is None

    resolved = incidents["Q1OHFWFP3GPXOG"]
    assert resolved["detected_at"] == "2022-11-03T06:45:36.000000Z"
    assert resolved["acknowledged_at"] == "2022-11-03T06:45:46.000000Z"
    assert resolved["resolved_at"] == "2022-11-03T06:51:44.000000Z"
    assert resolved["severity"] == "low"

    for row in incidents.values():
        assert row["environment"] is None  # the per-source default applies in staging
        assert row["impact_started_at"] is None and row["postmortem_link"] is None
        assert row["deployment_id"] is None and row["linked_defect_ids"] is None


def test_pagerduty_without_log_entries_uses_incident_fields():
    doc = _load(PAGERDUTY)
    for incident in doc["incidents"]:
        del incident["log_entries"]
    incidents = _by(pagerduty.parse(doc, _ctx(pagerduty)).tables["incidents"], "incident_id")
    # a re-triggered incident has no current acknowledgement
    assert incidents["Q3YON8WNWTZMRQ"]["acknowledged_at"] is None
    assert incidents["Q3CZAU7Q4008QD"]["acknowledged_at"] == "2022-11-03T06:44:37.000000Z"
    # resolved: acknowledgements are cleared, the last status change is the resolve
    assert incidents["Q1OHFWFP3GPXOG"]["acknowledged_at"] is None
    assert incidents["Q1OHFWFP3GPXOG"]["resolved_at"] == "2022-11-03T06:51:44.000000Z"


@pytest.mark.skipif(shutil.which("jq") is None, reason="the README's PagerDuty recipe runs jq")
def test_pagerduty_recipe_keeps_the_first_acknowledgement_of_a_resolved_incident():
    pages = [PAGERDUTY_API / "incidents-0.json", PAGERDUTY_API / "log_entries-0.json",
             PAGERDUTY_API / "log_entries-5.json"]
    merged = subprocess.run(["jq", "-s", "-f", str(ROOT / "docs" / "recipes" / "pagerduty_log_entries.jq"), *pages],
                            capture_output=True, text=True, check=True).stdout
    parsed = pagerduty.parse(json.loads(merged), _ctx(pagerduty))
    incidents = _by(parsed.tables["incidents"], "incident_id")
    # PINC0001: acknowledged 10:07:30, unacknowledged by timeout, acknowledged again 10:40, resolved 11:30
    resolved = incidents["PINC0001"]
    assert (resolved["detected_at"], resolved["acknowledged_at"], resolved["resolved_at"]) == (
        "2026-03-02T10:00:00Z", "2026-03-02T10:07:30Z", "2026-03-02T11:30:00Z")
    assert (resolved["environment"], resolved["deployment_id"]) == ("production", "dep-42")  # the expanded trigger
    assert incidents["PINC0002"]["acknowledged_at"] == "2026-03-03T08:05:00Z"
    assert parsed.notes == []


def test_pagerduty_incidents_alone_lose_a_resolved_acknowledgement_and_say_so():
    parsed = pagerduty.parse(_load(PAGERDUTY_API / "incidents-0.json"), _ctx(pagerduty))
    incidents = _by(parsed.tables["incidents"], "incident_id")
    assert incidents["PINC0001"]["acknowledged_at"] is None  # resolved: `acknowledgements` is empty
    assert incidents["PINC0002"]["acknowledged_at"] == "2026-03-03T08:05:00Z"
    assert parsed.notes == ["1 resolved incidents without their log entries: no acknowledgement time "
                            "(embed GET /log_entries as the README's PagerDuty recipe does)"]


def test_pagerduty_custom_details_from_the_embedded_trigger_entry():
    doc = _load(PAGERDUTY)
    incident = doc["incidents"][2]
    trigger = next(e for e in incident["log_entries"] if e["type"] == "trigger_log_entry")
    trigger["channel"]["details"] = {"environment": "stg", "deployment_id": "dep-7",
                                     "linked_defect_ids": ["EE-1", "EE-2"], "postmortem_link": "https://wiki/pm/6",
                                     "impact_started_at": "2022-11-03T06:40:00Z"}
    incident["priority"] = {"type": "priority_reference", "summary": "P1"}
    row = pagerduty.parse(doc, _ctx(pagerduty)).tables["incidents"][2]
    assert (row["environment"], row["deployment_id"], row["linked_defect_ids"]) == ("stg", "dep-7", "EE-1;EE-2")
    assert (row["postmortem_link"], row["impact_started_at"]) == ("https://wiki/pm/6", "2022-11-03T06:40:00Z")
    assert row["severity"] == "P1"  # the priority wins over the urgency


def _instant(text: str) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # shipped default_timezone: UTC


def test_pagerduty_writer_round_trip(tmp_path, canonical_sample):
    canonical = pd.read_csv(canonical_sample / "incidents.csv", dtype=str, keep_default_na=False)
    counts = pagerduty_writer.write({"incidents": canonical}, tmp_path)
    path = tmp_path / "pagerduty" / "incidents.json"
    assert counts == {"pagerduty/incidents.json": len(canonical)}
    first = path.read_bytes()
    pagerduty_writer.write({"incidents": canonical}, tmp_path)
    assert path.read_bytes() == first  # deterministic

    doc = json.loads(first)
    assert pagerduty.matches(doc) and not github.matches(doc) and not gitlab.matches(doc)
    rows = _by(pagerduty.parse(doc, _ctx(pagerduty, path)).tables["incidents"], "incident_id")
    assert list(rows) == list(canonical["incident_id"])
    times = ("impact_started_at", "detected_at", "acknowledged_at", "resolved_at")
    texts = ("title", "severity", "service", "environment", "deployment_id", "linked_defect_ids", "postmortem_link")
    for expected in canonical.to_dict("records"):
        got = rows[expected["incident_id"]]
        for column in texts:
            assert (got[column] or "") == expected[column], (expected["incident_id"], column)
        for column in times:
            assert _instant(got[column] or "") == _instant(expected[column]), (expected["incident_id"], column)
    # spot checks of the sample: INC-00004 detected with a +05:30 offset, INC-00013 resolved naive
    assert rows["INC-00004"]["detected_at"] == "2026-01-23T00:27:37Z"
    assert rows["INC-00013"]["resolved_at"] == "2026-03-04T01:35:46Z"
    assert rows["INC-00008"]["linked_defect_ids"] == "SRCH-261;SRCH-260"
    assert rows["INC-00010"]["resolved_at"] is None and rows["INC-00010"]["impact_started_at"] is None



def test_pagerduty_writer_pages_by_offset_with_the_same_incidents(tmp_path, canonical_sample):
    canonical = pd.read_csv(canonical_sample / "incidents.csv", dtype=str, keep_default_na=False)
    pagerduty_writer.write({"incidents": canonical}, tmp_path / "one")
    page_size = -(-len(canonical) // 3)  # three pages, the last shorter
    counts = pagerduty_writer.write({"incidents": canonical}, tmp_path / "paged", page_size=page_size)

    names = [f"pagerduty/incidents-000{n}.json" for n in (1, 2, 3)]
    assert counts == dict(zip(names, [page_size, page_size, len(canonical) - 2 * page_size], strict=True))
    pages = [json.loads((tmp_path / "paged" / name).read_text(encoding="utf-8")) for name in names]
    assert [(p["offset"], p["limit"], p["more"]) for p in pages] == [
        (0, page_size, True), (page_size, page_size, True), (2 * page_size, page_size, False)]
    one = json.loads((tmp_path / "one" / "pagerduty" / "incidents.json").read_text(encoding="utf-8"))
    assert [i for p in pages for i in p["incidents"]] == one["incidents"]


# --------------------------------------------------------------------------- GitLab


def test_gitlab_sample_deployments():
    parsed = gitlab.parse(_load(GITLAB), _ctx(gitlab, GITLAB))
    rows = parsed.tables["deployments"]
    assert [r["deployment_id"] for r in rows] == [
        "13426753", "13432654", "13432768", "13436532", "13436763", "13436778", "13436986", "13436915"]
    assert parsed.notes == []  # no rollbacks
    by_id = _by(rows, "deployment_id")
    assert {r["service"] for r in rows} == {"vdev.co"}  # project path merico-dev/ee/vdev.co

    first = by_id["13426753"]
    assert (first["status"], first["environment"], first["release"]) == ("succeeded", "staging", "master")
    assert first["started_at"] == "2019-03-13T14:17:33.559Z"  # the job's start
    assert first["finished_at"] == "2019-03-13T14:17:47.640Z"
    assert first["commit_sha"] == "add237f6852e6108ee8e0246780a54ce909c6087"
    assert first["source_updated_at"] == "2019-03-13T14:17:47.647Z"
    assert (first["segment"], first["is_hotfix"], first["rollback_of"]) == (None, None, None)
    assert "_reason" not in first

    failed = by_id["13432768"]  # its job was skipped: no job times
    assert failed["status"] == "failed"
    assert failed["started_at"] == "2019-03-13T14:55:21.182Z"  # created_at
    assert failed["finished_at"] == "2019-03-13T15:02:23.332Z"  # updated_at
    canceled = by_id["13436532"]
    assert (canceled["status"], canceled["environment"], canceled["release"]) == ("failed", "production", "deploy")

    assert by_id["13436763"]["_reason"] == "deployment is created, not finished"
    assert by_id["13436778"]["_reason"] == "deployment is running, not finished"
    assert by_id["13436986"]["_reason"] == "deployment is blocked, not finished"
    for unknown, status in (("13432654", "completed"), ("13436915", "undeployed")):
        assert by_id[unknown]["status"] == status
        assert by_id[unknown]["_reason"].startswith(f"unknown deployment status '{status}'")
    no_update = by_id["13436915"]  # iid 7 has no updated_at
    assert no_update["source_updated_at"] is None
    assert no_update["finished_at"] == "2019-03-13T15:28:32.934Z"


def _deployment(id_: int, sha: str, finished: str, status: str = "success", env: str = "production") -> dict:
    return {"id": id_, "iid": id_, "ref": f"v-{sha}", "sha": sha, "status": status, "created_at": finished,
            "updated_at": finished, "environment": {"name": env},
            "deployable": {"finished_at": finished,
                           "pipeline": {"project_id": 1, "web_url": "https://gl.example/g/shop/-/pipelines/9"}}}


def test_gitlab_adapter_leaves_rollbacks_to_staging():
    # A, B, A within one file: the adapter keeps GitLab's statuses; stg_exports__deployments infers the
    # rollback over every file of the build (unit test gitlab_rollbacks_are_inferred_across_files).
    doc = [
        _deployment(1, "aaa", "2024-01-01T10:00:00Z"),
        _deployment(3, "bbb", "2024-01-02T10:00:00Z"),
        _deployment(5, "aaa", "2024-01-02T12:00:00+01:00"),
    ]
    parsed = gitlab.parse(doc, _ctx(gitlab))
    rows = parsed.tables["deployments"]
    assert parsed.notes == []
    assert [(r["deployment_id"], r["status"], r["rollback_of"]) for r in rows] == [
        ("1", "succeeded", None), ("3", "succeeded", None), ("5", "succeeded", None)]
    assert rows[0]["service"] == "shop"


@pytest.mark.parametrize("status, expected", [("SUCCESS", "succeeded"), ("Canceled", "failed")])
def test_gitlab_status_matching_ignores_case(status, expected):
    row = gitlab.parse([_deployment(1, "a", "2024-01-01T00:00:00Z", status=status)], _ctx(gitlab))
    assert row.tables["deployments"][0]["status"] == expected
