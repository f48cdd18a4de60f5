"""PagerDuty and GitLab connectors against a real server on 127.0.0.1 serving recorded API pages.

The pages are hand-written in the shapes the APIs document (PagerDuty REST "List incidents",
"List log entries for an incident", "Get an incident"; GitLab "List project deployments");
no vendor data is copied.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import dagster as dg
import duckdb
import pytest

from pipelines.connectors import gitlab, pagerduty
from pipelines.connectors.base import Connection, ConnectorError, Cursors
from pipelines.defs.ingest.adapters import gitlab as gitlab_adapter
from pipelines.defs.ingest.adapters import pagerduty as pagerduty_adapter
from pipelines.defs.ingest.loader import load_exports
from pipelines.policy import load_policy
from tests.local_http import LocalServer, Reply

TOKEN = "pdSECRETtoken_9f8e7d"


def _incidents(offset: int, window: dict[str, str]) -> str:
    return "/incidents?" + urlencode({"limit": 2, "offset": offset, "total": "false",
                                      "sort_by": "created_at:asc", **window})


def _log(incident_id: str, offset: int = 0) -> str:
    return f"/incidents/{incident_id}/log_entries?limit=2&offset={offset}&total=false"


def _incident(incident_id: str, status: str, created: str, updated: str) -> dict:
    return {"id": incident_id, "type": "incident", "incident_number": int(incident_id[1:]),
            "title": f"Checkout down {incident_id}", "status": status, "created_at": created,
            "updated_at": updated, "urgency": "high", "service": {"id": "PSVC", "summary": "checkout"},
            "acknowledgements": [], "first_trigger_log_entry": {"id": f"T{incident_id}", "type": "trigger_log_entry_reference"}}


def _entry(incident_id: str, kind: str, at: str, number: int) -> dict:
    return {"id": f"{kind[0].upper()}{incident_id}{number}", "type": f"{kind}_log_entry", "created_at": at,
            "incident": {"id": incident_id, "type": "incident_reference"}}


def _page(key: str, items: list[dict], more: bool, offset: int = 0) -> str:
    return json.dumps({key: items, "limit": 2, "offset": offset, "more": more, "total": None})


@pytest.fixture
def pd_connection(monkeypatch: pytest.MonkeyPatch) -> Connection:
    monkeypatch.setenv("PD_TOKEN_TEST", TOKEN)
    return Connection(base_url="", auth="token", token_env="PD_TOKEN_TEST", page_size=2)


def _pd_pull(server: LocalServer, connection: Connection, tmp_path: Path, waits: list[float],
             now: datetime) -> list[Path]:
    bound = Connection(**{**connection.__dict__, "base_url": server.url})
    return pagerduty.pull(bound, tmp_path / "exports", Cursors(tmp_path / "pull-state.json"),
                          sleep=waits.append, now=lambda: now)


def _raw(exports: Path, warehouse: Path, table: str, columns: str) -> list[tuple]:
    with duckdb.connect(str(warehouse)) as con:
        load_exports(con, exports, load_policy(None), datetime(2026, 12, 1, tzinfo=UTC), policy_sha="t", git_repo=None)
        # SQL text: identifiers only (the test's own table and column names).
        return con.execute(f"select {columns} from raw.{table} order by 1").fetchall()


P1 = _incident("P1", "resolved", "2026-11-02T10:00:00Z", "2026-11-02T10:30:00Z")
P2 = _incident("P2", "triggered", "2026-11-03T11:00:00Z", "2026-11-03T11:00:00Z")
P3 = _incident("P3", "acknowledged", "2026-11-04T12:00:00Z", "2026-11-04T12:10:00Z")
P4 = _incident("P4", "resolved", "2026-11-06T08:00:00Z", "2026-11-06T09:00:00Z")
LOGS = {
    "P1": [_entry("P1", "trigger", "2026-11-02T10:00:00Z", 1), _entry("P1", "acknowledge", "2026-11-02T10:05:00Z", 2),
           _entry("P1", "resolve", "2026-11-02T10:30:00Z", 3)],
    "P2": [_entry("P2", "trigger", "2026-11-03T11:00:00Z", 1)],
    "P3": [_entry("P3", "trigger", "2026-11-04T12:00:00Z", 1), _entry("P3", "acknowledge", "2026-11-04T12:10:00Z", 2)],
}
# After the first pull: P2 was acknowledged then resolved, P3 resolved, P4 is new.
LATER = {
    "P2": [*LOGS["P2"], _entry("P2", "acknowledge", "2026-11-06T07:00:00Z", 2),
           _entry("P2", "resolve", "2026-11-06T07:30:00Z", 3)],
    "P3": [*LOGS["P3"], _entry("P3", "resolve", "2026-11-06T10:00:00Z", 3)],
    "P4": [_entry("P4", "trigger", "2026-11-06T08:00:00Z", 1), _entry("P4", "acknowledge", "2026-11-06T08:20:00Z", 2),
           _entry("P4", "resolve", "2026-11-06T09:00:00Z", 3)],
}


def _script_logs(server: LocalServer, logs: dict[str, list[dict]]) -> None:
    for incident_id, entries in logs.items():
        server.script(_log(incident_id), Reply(200, _page("log_entries", entries[:2], len(entries) > 2)))
        if len(entries) > 2:
            server.script(_log(incident_id, 2), Reply(200, _page("log_entries", entries[2:], False, 2)))


def test_pagerduty_pages_log_entries_rate_limits_and_incremental(pd_connection: Connection, tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    waits: list[float] = []
    everything = {"date_range": "all"}
    window = {"since": "2026-11-06T00:00:00Z", "until": "2026-11-07T00:00:00Z"}
    with LocalServer() as server:
        server.script(_incidents(0, everything), Reply(429, "{}", {"Retry-After": "2"}),
                      Reply(200, _page("incidents", [P1, P2], True)))
        server.script(_incidents(2, everything), Reply(200, _page("incidents", [P3], False, 2)))
        _script_logs(server, LOGS)
        server.script(_log("P1"), Reply(500, json.dumps({"error": TOKEN})),
                      Reply(200, _page("log_entries", LOGS["P1"][:2], True)))
        first = _pd_pull(server, pd_connection, tmp_path, waits, datetime(2026, 11, 6, tzinfo=UTC))
        first_requests = [request.path for request in server.received]
        state_after_first = json.loads((tmp_path / "pull-state.json").read_text())["pagerduty"]

        server.received.clear()
        server.script(_incidents(0, window), Reply(200, _page("incidents", [P4], False)))
        server.script("/incidents/P2", Reply(200, json.dumps({"incident": {**P2, "status": "resolved",
                                                                           "updated_at": "2026-11-06T07:30:00Z"}})))
        server.script("/incidents/P3", Reply(200, json.dumps({"incident": {**P3, "status": "resolved",
                                                                           "updated_at": "2026-11-06T10:00:00Z"}})))
        _script_logs(server, LATER)
        second = _pd_pull(server, pd_connection, tmp_path, waits, datetime(2026, 11, 7, tzinfo=UTC))
        second_requests = [request.path for request in server.received]
        auth = {request.headers["Authorization"] for request in server.received}

    assert first_requests == [_incidents(0, everything)] * 2 + [_log("P1")] * 2 + [_log("P1", 2), _log("P2"),
                              _incidents(2, everything), _log("P3")]
    assert waits == [2.0, 0.5]  # Retry-After, then the first backoff after the 500
    assert json.loads(state_after_first) == {"until": "2026-11-06T00:00:00Z", "open": ["P2", "P3"]}
    # Only the new window and the two incidents open at the first pull: P1 is not fetched again.
    assert second_requests == [_incidents(0, window), _log("P4"), _log("P4", 2), "/incidents/P2", "/incidents/P3",
                               _log("P2"), _log("P2", 2), _log("P3"), _log("P3", 2)]
    assert auth == {f"Token token={TOKEN}"}
    pages = [json.loads(path.read_text()) for path in first + second]
    assert [[incident["id"] for incident in page["incidents"]] for page in pages] == [["P1", "P2"], ["P3"], ["P4"],
                                                                                       ["P2", "P3"]]
    assert pages[0]["incidents"][0]["log_entries"] == LOGS["P1"]
    assert all(pagerduty_adapter.matches(page) for page in pages)
    assert json.loads(json.loads((tmp_path / "pull-state.json").read_text())["pagerduty"]) == {
        "until": "2026-11-07T00:00:00Z", "open": []}
    # The ingested incidents: first acknowledgement and resolution from the log; the copy fetched again
    # is the newer one (staging keeps the newest `source_updated_at` per incident).
    rows = _raw(tmp_path / "exports", tmp_path / "w.duckdb", "incidents",
                "incident_id, source_updated_at::varchar, acknowledged_at::varchar, resolved_at::varchar")
    assert [tuple(value and value[:16] for value in row) for row in sorted(rows)] == [
        ("P1", "2026-11-02 10:30", "2026-11-02 10:05", "2026-11-02 10:30"),
        ("P2", "2026-11-03 11:00", None, None), ("P2", "2026-11-06 07:30", "2026-11-06 07:00", "2026-11-06 07:30"),
        ("P3", "2026-11-04 12:10", "2026-11-04 12:10", None),
        ("P3", "2026-11-06 10:00", "2026-11-04 12:10", "2026-11-06 10:00"),
        ("P4", "2026-11-06 09:00", "2026-11-06 08:20", "2026-11-06 09:00")]
    written = "".join(path.read_text() for path in [*(tmp_path / "exports").rglob("*"), tmp_path / "pull-state.json"]
                      if path.is_file())
    assert TOKEN not in written and TOKEN not in caplog.text


def test_pagerduty_401_is_final_and_names_the_source(pd_connection: Connection, tmp_path: Path) -> None:
    waits: list[float] = []
    with LocalServer() as server:
        server.script(_incidents(0, {"date_range": "all"}),
                      Reply(401, json.dumps({"error": {"message": f"Unauthorized {TOKEN}", "code": 2006}})))
        with pytest.raises(ConnectorError) as raised:
            _pd_pull(server, pd_connection, tmp_path, waits, datetime(2026, 11, 6, tzinfo=UTC))
        attempts = len(server.received)
    assert attempts == 1 and waits == []
    assert str(raised.value).startswith("pagerduty: GET ") and "HTTP 401" in str(raised.value)
    assert "check the token" in str(raised.value) and TOKEN not in str(raised.value)
    assert not (tmp_path / "pull-state.json").exists()


GL_TOKEN = "glpat-SECRETgitlab1234"
DEPLOYMENTS = "/projects/acme%2Fshop/deployments?order_by=updated_at&sort=asc&per_page=2"


def _deployment(number: int, sha: str, finished: str, status: str = "success") -> dict:
    return {"id": 100 + number, "iid": number, "ref": "main", "sha": sha, "status": status,
            "created_at": finished.replace(":30:", ":20:"), "updated_at": finished,
            "user": {"id": 1, "username": "deployer"},
            "environment": {"id": 9, "name": "production", "external_url": "https://shop.example"},
            "deployable": {"id": 500 + number, "status": status, "started_at": finished.replace(":30:", ":25:"),
                           "finished_at": finished, "web_url": f"https://gitlab.example/acme/shop/-/jobs/{500 + number}",
                           "pipeline": {"id": 700 + number, "project_id": 42, "sha": sha, "ref": "main",
                                        "status": status,
                                        "web_url": f"https://gitlab.example/acme/shop/-/pipelines/{700 + number}"}}}


def _gl_pull(server: LocalServer, tmp_path: Path, waits: list[float]) -> list[Path]:
    connection = Connection(base_url=server.url, auth="bearer", token_env="GL_TOKEN_TEST", project="acme/shop",
                            page_size=2)
    return gitlab.pull(connection, tmp_path / "exports", Cursors(tmp_path / "pull-state.json"), sleep=waits.append)


def test_gitlab_pages_rate_limits_and_incremental(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("GL_TOKEN_TEST", GL_TOKEN)
    waits: list[float] = []
    # A, B, then A again: a rollback of B, whose pages are written as one file.
    d1, d2 = _deployment(1, "aaa111", "2026-11-02T10:30:00.000Z"), _deployment(2, "bbb222", "2026-11-03T10:30:00.000Z")
    d3 = _deployment(3, "aaa111", "2026-11-04T10:30:00.000Z")
    changed = f"{DEPLOYMENTS}&updated_after=2026-11-04T10%3A30%3A00.000Z"
    with LocalServer() as server:
        server.script(DEPLOYMENTS, Reply(429, "[]", {"Retry-After": "1"}),
                      Reply(200, json.dumps([d1, d2]), {"X-Next-Page": "2", "X-Page": "1"}))
        server.script(f"{DEPLOYMENTS}&page=2", Reply(502, "[]"),
                      Reply(200, json.dumps([d3]), {"X-Next-Page": "", "X-Page": "2"}))
        first = _gl_pull(server, tmp_path, waits)
        d4 = _deployment(4, "ccc333", "2026-11-05T10:30:00.000Z", "failed")
        server.script(changed, Reply(200, json.dumps([d4]), {"X-Next-Page": ""}))
        second = _gl_pull(server, tmp_path, waits)
        seen = [request.path for request in server.received]
        auth = {request.headers["Authorization"] for request in server.received}
    assert seen == [DEPLOYMENTS] * 2 + [f"{DEPLOYMENTS}&page=2"] * 2 + [changed]
    assert waits == [1.0, 0.5]
    assert auth == {f"Bearer {GL_TOKEN}"}
    assert [json.loads(path.read_text()) for path in first + second] == [[d1, d2, d3], [d4]]
    assert all(gitlab_adapter.matches(json.loads(path.read_text())) for path in first + second)
    assert json.loads((tmp_path / "pull-state.json").read_text()) == {"gitlab": "2026-11-05T10:30:00.000Z"}
    # Raw keeps GitLab's statuses: staging infers the rollback (test_gitlab_rollback_split_across_two_pulls).
    rows = _raw(tmp_path / "exports", tmp_path / "w.duckdb", "deployments", "deployment_id, status, rollback_of")
    assert rows == [("101", "succeeded", None), ("102", "succeeded", None), ("103", "succeeded", None),
                    ("104", "failed", None)]
    written = "".join(path.read_text() for path in [*(tmp_path / "exports").rglob("*"), tmp_path / "pull-state.json"]
                      if path.is_file())
    assert GL_TOKEN not in written and GL_TOKEN not in caplog.text


def test_gitlab_401_is_final_and_names_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GL_TOKEN_TEST", GL_TOKEN)
    waits: list[float] = []
    with LocalServer() as server:
        server.script(DEPLOYMENTS, Reply(401, json.dumps({"message": "401 Unauthorized"})))
        with pytest.raises(ConnectorError, match=r"^gitlab: GET .* HTTP 401") as raised:
            _gl_pull(server, tmp_path, waits)
        attempts = len(server.received)
    assert attempts == 1 and waits == [] and GL_TOKEN not in str(raised.value)
    assert not (tmp_path / "pull-state.json").exists()


def _materialize_pull(tmp_path: Path, policy_text: str, **resources: object) -> dg.ExecuteInProcessResult:
    from pipelines.defs import pull as pull_defs
    from pipelines.defs.warehouse import Warehouse
    from pipelines.settings import BuildSettings

    policy = tmp_path / "policy.yml"
    policy.write_text(policy_text)
    build = BuildSettings(exports_dir=str(tmp_path / "exports"), policy_path=str(policy))
    defaults = {name: cls() for name, cls in pull_defs.CONNECTOR_RESOURCES.items()}
    return dg.materialize([pull_defs.pull], resources={
        **defaults, "build": build, "warehouse": Warehouse(path=str(tmp_path / "wh" / "w.duckdb")), **resources})


def test_dagster_resource_overrides_the_policy_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.defs.pull import GitLabConnector

    monkeypatch.setenv("GL_TOKEN_TEST", GL_TOKEN)
    # The policy points at a host that does not exist and a variable that is unset: only the resource's
    # base URL and token place can make this pull work.
    policy = ("sources:\n  gitlab:\n    connection:\n      base_url: http://gitlab.invalid/api/v4\n"
              "      token_env: GL_UNSET_TEST\n      project: acme/shop\n      page_size: 2\n")
    with LocalServer() as server:
        server.script(DEPLOYMENTS, Reply(200, json.dumps([_deployment(1, "aaa111", "2026-11-02T10:30:00.000Z")])))
        result = _materialize_pull(tmp_path, policy,
                                   gitlab_connector=GitLabConnector(base_url=server.url, token_env="GL_TOKEN_TEST"))
        sent = [(request.path, request.headers["Authorization"]) for request in server.received]
    metadata = result.asset_materializations_for_node("pull")[0].metadata
    assert sent == [(DEPLOYMENTS, f"Bearer {GL_TOKEN}")]
    assert metadata["gitlab"].value == 1 and metadata["pages"].value == 1
    assert [path.name.startswith("gitlab-deployments-") for path in (tmp_path / "exports" / "gitlab").iterdir()] == [
        True]


def test_dagster_resource_alone_does_not_turn_a_pull_on(tmp_path: Path) -> None:
    from pipelines.defs.pull import PagerDutyConnector

    result = _materialize_pull(tmp_path, "sources: {}\n",
                               pagerduty_connector=PagerDutyConnector(base_url="http://127.0.0.1:9"))
    assert result.asset_materializations_for_node("pull")[0].metadata["pages"].value == 0
    assert not (tmp_path / "exports").exists()


def _marts(exports: Path, out: Path) -> dict[str, list[tuple]]:
    from pipelines.cli import run_build

    run_build(exports=exports, warehouse=out / "w.duckdb", reports=out / "reports", policy=None,
              as_of_text="2026-11-30T00:00:00Z")
    with duckdb.connect(str(out / "w.duckdb"), read_only=True) as con:
        return {
            "change_failure_rate": con.execute(
                "select service, week_start::varchar, production_deployments, failed_deployments,"
                " round(change_failure_rate, 4) from marts.change_failure_rate order by 1, 2 nulls last").fetchall(),
            "incidents": con.execute(
                "select incident_id, service, environment, acknowledged_at::varchar, resolved_at::varchar, is_open,"
                " round(tta_hours, 4), round(ttr_hours, 4) from marts.fct_incidents order by incident_id").fetchall(),
            "deployments": con.execute(
                "select * exclude (source_file, source_row) from marts.fct_deployments order by deployment_id"
            ).fetchall(),
        }


def test_pulled_files_build_the_marts_of_the_hand_export(pd_connection: Connection, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GL_TOKEN_TEST", GL_TOKEN)
    incidents = [P1, P2, P3]
    deployments = [_deployment(1, "aaa111", "2026-11-02T10:30:00.000Z"),
                   _deployment(2, "bbb222", "2026-11-03T10:30:00.000Z"),
                   _deployment(3, "aaa111", "2026-11-04T10:30:00.000Z")]
    everything = {"date_range": "all"}
    with LocalServer() as server:
        server.script(_incidents(0, everything), Reply(200, _page("incidents", incidents[:2], True)))
        server.script(_incidents(2, everything), Reply(200, _page("incidents", incidents[2:], False, 2)))
        _script_logs(server, LOGS)
        server.script(DEPLOYMENTS, Reply(200, json.dumps(deployments[:2]), {"X-Next-Page": "2"}))
        server.script(f"{DEPLOYMENTS}&page=2", Reply(200, json.dumps(deployments[2:]), {"X-Next-Page": ""}))
        _pd_pull(server, pd_connection, tmp_path, [], datetime(2026, 11, 6, tzinfo=UTC))
        _gl_pull(server, tmp_path, [])
    # The hand export: one GET /incidents page with the log embedded (the README's jq recipe), one deployments array.
    hand = tmp_path / "hand"
    (hand / "pagerduty").mkdir(parents=True)
    (hand / "gitlab").mkdir()
    (hand / "pagerduty" / "incidents.json").write_text(json.dumps(
        {"incidents": [{**incident, "log_entries": LOGS[incident["id"]]} for incident in incidents]}))
    (hand / "gitlab" / "deployments.json").write_text(json.dumps(deployments))

    pulled = _marts(tmp_path / "exports", tmp_path / "pulled")
    by_hand = _marts(hand, tmp_path / "by_hand")
    # MTTA/MTTR worked out from the log: P1 acknowledged 5 min and resolved 30 min after its trigger;
    # P3 acknowledged after 10 min and still open; P2 neither.
    assert [(row[0], row[6], row[7], row[5]) for row in pulled["incidents"]] == [
        ("P1", 0.0833, 0.5, False), ("P2", None, None, True), ("P3", 0.1667, None, True)]
    assert pulled == by_hand
    # fct_deployments without source_file/row: deployment_id is column 0, status 8, rollback_of 11.
    assert [(row[0], row[8], row[11]) for row in pulled["deployments"]] == [
        ("101", "succeeded", None), ("102", "rolled_back", None), ("103", "succeeded", "102")]


def test_gitlab_rollback_split_across_two_pulls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GL_TOKEN_TEST", GL_TOKEN)
    # aaa, bbb, then aaa again a week later: 103 rolls 102 back. The split pull sees 101 and 102 first;
    # 103 comes only in the next, incremental pull (a second file), as it would after a weekly build.
    d1, d2 = _deployment(1, "aaa111", "2026-11-02T10:30:00.000Z"), _deployment(2, "bbb222", "2026-11-03T10:30:00.000Z")
    d3 = _deployment(3, "aaa111", "2026-11-10T10:30:00.000Z")
    changed = f"{DEPLOYMENTS}&updated_after=2026-11-03T10%3A30%3A00.000Z"
    split, whole = tmp_path / "split", tmp_path / "whole"
    with LocalServer() as server:
        server.script(DEPLOYMENTS, Reply(200, json.dumps([d1, d2]), {"X-Next-Page": ""}))
        first = _gl_pull(server, split, [])
        server.script(changed, Reply(200, json.dumps([d3]), {"X-Next-Page": ""}))
        second = _gl_pull(server, split, [])
        server.script(DEPLOYMENTS, Reply(200, json.dumps([d1, d2, d3]), {"X-Next-Page": ""}))
        one = _gl_pull(server, whole, [])
        seen = [request.path for request in server.received]
    assert seen == [DEPLOYMENTS, changed, DEPLOYMENTS]
    assert [len(json.loads(path.read_text())) for path in first + second + one] == [2, 1, 3]

    by_two = _marts(split / "exports", split / "build")
    by_one = _marts(whole / "exports", whole / "build")
    # fct_deployments without source_file/row: deployment_id is column 0, status 8, served 9, rollback_of 11.
    assert [(row[0], row[8], row[9], row[11]) for row in by_two["deployments"]] == [
        ("101", "succeeded", True, None), ("102", "rolled_back", True, None), ("103", "succeeded", True, "102")]
    # Change failure rate of shop: week of Mon 2 Nov served 101 and 102, 102 failed (rolled back): 1/2;
    # week of 9 Nov served 103 and none failed: 0/1; all weeks: 1 failed of 3 served = 0.3333.
    assert by_two["change_failure_rate"] == [("shop", "2026-11-02", 2, 1, 0.5), ("shop", "2026-11-09", 1, 0, 0.0),
                                             ("shop", None, 3, 1, 0.3333)]
    assert by_two["deployments"] == by_one["deployments"]
    assert by_two["change_failure_rate"] == by_one["change_failure_rate"]
