"""`defectflow pull` connectors against a real server on 127.0.0.1 serving recorded API pages.

The pages are hand-written in the shapes the APIs document (GitHub REST "List repository
issues", Jira "Search for issues using JQL"); no vendor data is copied.
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import dagster as dg
import duckdb
import pytest

from pipelines import cli
from pipelines.connectors import github, jira
from pipelines.connectors.base import Connection, ConnectorError, Cursors
from pipelines.defs.ingest.adapters import github as github_adapter
from pipelines.defs.ingest.adapters import jira_json as jira_adapter
from pipelines.defs.ingest.loader import load_exports
from pipelines.policy import PolicyError, load_policy
from tests.local_http import LocalServer, Reply

TOKEN = "ghp_secretTOKENvalue123"
ISSUES = "/repos/acme/shop/issues"
FIRST = f"{ISSUES}?state=all&sort=updated&direction=asc&per_page=2"
SECOND = f"{ISSUES}?state=all&sort=updated&direction=asc&per_page=2&page=2"


def _issue(number: int, updated: str, state: str = "open") -> dict:
    return {"number": number, "html_url": f"https://github.com/acme/shop/issues/{number}",
            "title": f"Checkout fails {number}", "state": state, "labels": [{"name": "bug"}],
            "created_at": "2026-11-01T09:00:00Z", "updated_at": updated,
            "closed_at": updated if state == "closed" else None, "user": {"login": "dev"}, "body": ""}


@pytest.fixture
def connection(monkeypatch: pytest.MonkeyPatch) -> Connection:
    monkeypatch.setenv("GH_TOKEN_TEST", TOKEN)
    return Connection(base_url="", auth="token", token_env="GH_TOKEN_TEST", project="acme/shop", page_size=2)


def _pull(server: LocalServer, connection: Connection, tmp_path: Path, waits: list[float]) -> list[Path]:
    bound = Connection(**{**connection.__dict__, "base_url": server.url})
    return github.pull(bound, tmp_path / "exports", Cursors(tmp_path / "pull-state.json"), sleep=waits.append)


def test_github_pages_rate_limits_and_incremental(connection: Connection, tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    waits: list[float] = []
    with LocalServer() as server:
        page1 = [_issue(1, "2026-11-02T10:00:00Z"), _issue(2, "2026-11-03T10:00:00Z")]
        page2 = [_issue(3, "2026-11-04T10:00:00Z", "closed")]
        server.script(FIRST, Reply(429, "{}", {"Retry-After": "3"}),
                      Reply(200, json.dumps(page1), {"Link": f'<{server.url}{SECOND}>; rel="next"'}))
        server.script(SECOND, Reply(500, "{}"), Reply(200, json.dumps(page2)))
        first = _pull(server, connection, tmp_path, waits)

        since = f"{FIRST}&since=2026-11-04T10%3A00%3A00Z"
        server.script(since, Reply(200, json.dumps([_issue(3, "2026-11-04T10:00:00Z", "closed"),
                                                    _issue(2, "2026-11-05T08:00:00Z", "closed")])))
        second = _pull(server, connection, tmp_path, waits)
        seen = [request.path for request in server.received]
        auth = {request.headers["Authorization"] for request in server.received}

    assert seen == [FIRST, FIRST, SECOND, SECOND, since]
    assert waits == [3.0, 0.5]  # Retry-After, then the first backoff after the 500
    assert auth == {f"Bearer {TOKEN}"}
    assert [json.loads(path.read_text()) for path in first] == [page1, page2]
    assert [issue["number"] for issue in json.loads(second[0].read_text())] == [3, 2]
    assert all(github_adapter.matches(json.loads(path.read_text())) for path in first + second)
    assert json.loads((tmp_path / "pull-state.json").read_text()) == {"github": "2026-11-05T08:00:00Z"}
    written = "".join(path.read_text() for path in tmp_path.rglob("*") if path.is_file())
    assert TOKEN not in written and TOKEN not in caplog.text


def test_github_401_is_final_and_names_the_source(connection: Connection, tmp_path: Path) -> None:
    waits: list[float] = []
    with LocalServer() as server:
        server.script(FIRST, Reply(401, json.dumps({"message": f"Bad credentials {TOKEN}"})))
        with pytest.raises(ConnectorError) as raised:
            _pull(server, connection, tmp_path, waits)
        attempts = len(server.received)
    assert attempts == 1 and waits == []
    assert str(raised.value).startswith("github: GET ") and "HTTP 401" in str(raised.value)
    assert TOKEN not in str(raised.value)
    assert not (tmp_path / "pull-state.json").exists()


def test_github_primary_rate_limit_403_waits_for_reset(connection: Connection, tmp_path: Path) -> None:
    waits: list[float] = []
    with LocalServer() as server:
        server.script(FIRST, Reply(403, "{}", {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1"}),
                      Reply(200, json.dumps([_issue(1, "2026-11-02T10:00:00Z")])))
        written = _pull(server, connection, tmp_path, waits)
    assert waits == [0.0] and len(written) == 1  # a reset already past waits nothing


def _jira_issue(key: str, updated: str) -> dict:
    return {"id": key[-1], "key": key, "self": f"https://jira.example/rest/api/2/issue/{key}",
            "fields": {"summary": f"Crash {key}", "issuetype": {"name": "Bug"}, "updated": updated,
                       "created": "2026-11-01T09:00:00.000+0000", "status": {"name": "Open"}},
            "changelog": {"startAt": 0, "maxResults": 0, "total": 0, "histories": []}}


def _search(query: str, start_at: int) -> str:
    return "/rest/api/2/search?" + urlencode({"jql": query, "startAt": start_at, "maxResults": 2,
                                              "expand": "changelog", "fields": "*all"})


def test_jira_cloud_pages_by_start_at_then_pulls_only_updates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIRA_TOKEN_TEST", TOKEN)
    monkeypatch.setenv("JIRA_EMAIL_TEST", "lead@example.com")
    waits: list[float] = []
    everything = "(project = SHOP) ORDER BY updated ASC"
    changed = '(project = SHOP) AND updated >= "2026/11/04 10:07" ORDER BY updated ASC'
    page1 = {"startAt": 0, "maxResults": 2, "total": 3,
             "issues": [_jira_issue("SHOP-1", "2026-11-02T10:00:00.000+0000"),
                        _jira_issue("SHOP-2", "2026-11-03T10:00:00.000+0000")]}
    page2 = {"startAt": 2, "maxResults": 2, "total": 3,
             "issues": [_jira_issue("SHOP-3", "2026-11-04T11:07:31.000+0100")]}
    with LocalServer() as server:
        connection = Connection(base_url=server.url, auth="basic", token_env="JIRA_TOKEN_TEST",
                                email_env="JIRA_EMAIL_TEST", project="SHOP", page_size=2)
        cursors = Cursors(tmp_path / "pull-state.json")
        server.script(_search(everything, 0), Reply(500, "{}"), Reply(200, json.dumps(page1)))
        server.script(_search(everything, 2), Reply(429, "{}", {"Retry-After": "2"}), Reply(200, json.dumps(page2)))
        first = jira.pull(connection, tmp_path / "exports", cursors, sleep=waits.append)
        server.script(_search(changed, 0), Reply(200, json.dumps({"startAt": 0, "maxResults": 2, "total": 0,
                                                                  "issues": []})))
        second = jira.pull(connection, tmp_path / "exports", cursors, sleep=waits.append)
        seen = [request.path for request in server.received]
        auth = {request.headers["Authorization"] for request in server.received}
    assert seen == [_search(everything, 0)] * 2 + [_search(everything, 2)] * 2 + [_search(changed, 0)]
    assert waits == [0.5, 2.0]
    assert auth == {"Basic " + base64.b64encode(f"lead@example.com:{TOKEN}".encode()).decode()}
    assert [json.loads(path.read_text()) for path in first] == [page1, page2] and second == []
    assert first[0].parent == first[1].parent  # one search, one folder: the paged-export rule groups them
    assert all(jira_adapter.matches(json.loads(path.read_text())) for path in first)
    assert cursors.get("jira") == "2026/11/04 10:07"


def test_jira_data_center_401_names_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIRA_TOKEN_TEST", TOKEN)
    with LocalServer() as server:
        connection = Connection(base_url=server.url, auth="bearer", token_env="JIRA_TOKEN_TEST", project="SHOP")
        server.script(_search("(project = SHOP) ORDER BY updated ASC", 0).replace("maxResults=2", "maxResults=100"),
                      Reply(401, "{}"))
        with pytest.raises(ConnectorError, match=r"^jira: GET .* HTTP 401") as raised:
            jira.pull(connection, tmp_path / "exports", Cursors(tmp_path / "s.json"), sleep=lambda _: None)
        assert [request.headers["Authorization"] for request in server.received] == [f"Bearer {TOKEN}"]
    assert TOKEN not in str(raised.value)


def test_cli_pull_reads_the_policy_and_never_prints_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str],
                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token_file = tmp_path / "gh.token"
    token_file.write_text(TOKEN + "\n")
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    with LocalServer() as server:
        policy = tmp_path / "policy.yml"
        policy.write_text(f"sources:\n  github:\n    connection:\n      base_url: {server.url}\n      auth: token\n"
                          f"      token_file: {token_file}\n      project: acme/shop\n      page_size: 2\n")
        server.script(FIRST, Reply(200, json.dumps([_issue(7, "2026-11-02T10:00:00Z")])))
        code = cli.main(["pull", "--exports", str(tmp_path / "exports"), "--warehouse", str(warehouse),
                         "--policy", str(policy)])
        server.script(FIRST, Reply(401, json.dumps({"message": TOKEN})))
        (warehouse.parent / "warehouse.pull-state.json").unlink()
        failed = cli.main(["pull", "--exports", str(tmp_path / "exports"), "--warehouse", str(warehouse),
                           "--policy", str(policy)])
    assert (code, failed) == (0, 2)
    assert [path.name.endswith("-p001.json") for path in (tmp_path / "exports" / "github").iterdir()] == [True]
    out = capsys.readouterr()
    assert "pull failed: github: GET " in out.err and "HTTP 401 Unauthorized (check the token" in out.err
    files = "".join(path.read_text() for path in tmp_path.rglob("*") if path.is_file() and path != token_file)
    assert TOKEN not in out.out + out.err + caplog.text + files


def test_policy_connection_needs_exactly_one_token_place(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("sources:\n  jira:\n    connection:\n      base_url: https://jira.example\n")
    with pytest.raises(PolicyError, match="token_env or token_file"):
        load_policy(policy)


def test_weekly_job_pulls_before_ingest() -> None:
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    parents = {key.to_user_string() for key in graph.get(dg.AssetKey(["raw", "defects"])).parent_keys}
    assert parents == {"pull"}
    assert graph.get(dg.AssetKey(["pull"])).parent_keys == set()


def _raw_defects(exports: Path, warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse)) as con:
        load_exports(con, exports, load_policy(None), datetime(2026, 12, 1, tzinfo=UTC), policy_sha="t", git_repo=None)
        return con.execute("select * exclude (source_file, source_row) from raw.defects order by defect_id").fetchall()


def test_pulled_pages_ingest_as_the_hand_export_of_the_same_records(connection: Connection, tmp_path: Path) -> None:
    issues = [_issue(1, "2026-11-02T10:00:00Z"), _issue(2, "2026-11-03T10:00:00Z"),
              _issue(3, "2026-11-04T10:00:00Z", "closed")]
    with LocalServer() as server:
        server.script(FIRST, Reply(200, json.dumps(issues[:2]), {"Link": f'<{server.url}{SECOND}>; rel="next"'}))
        server.script(SECOND, Reply(200, json.dumps(issues[2:])))
        pulled = _pull(server, connection, tmp_path, [])
    hand = tmp_path / "hand"
    hand.mkdir()
    (hand / "issues.json").write_text(json.dumps(issues))
    by_pull = _raw_defects(tmp_path / "exports", tmp_path / "pulled.duckdb")
    assert len(pulled) == 2 and [row[0] for row in by_pull] == ["acme/shop#1", "acme/shop#2", "acme/shop#3"]
    assert by_pull == _raw_defects(hand, tmp_path / "hand.duckdb")


# The public defect marts (docs/contract.md "Public tables": facts, escape rate, detection and resolution).
DEFECT_MARTS = ("fct_defects", "release_escape_rate", "escape_rate_by_team", "escape_rate_by_component",
                "detection_resolution_by_environment", "detection_resolution_by_team",
                "detection_resolution_by_component")


def _defect_marts(exports: Path, out: Path) -> dict[str, list[tuple]]:
    """Every defect mart's rows, less the columns naming the export file (a pull and a hand export differ there)."""
    cli.run_build(exports=exports, warehouse=out / "w.duckdb", reports=out / "reports", policy=None,
                  as_of_text="2026-11-30T00:00:00Z")
    marts = {}
    with duckdb.connect(str(out / "w.duckdb"), read_only=True) as con:
        for mart in DEFECT_MARTS:
            columns = [name for (name,) in con.execute(
                "select column_name from information_schema.columns where table_schema = 'marts'"
                " and table_name = ? order by ordinal_position", [mart]).fetchall()
                if name not in ("source_file", "source_row")]
            # SQL text: identifiers only (the mart names above and their own column names).
            marts[mart] = con.execute(f'select {", ".join(columns)} from marts.{mart} order by all').fetchall()
    return marts


def _jira_bug(key: str, created: str, updated: str, priority: str, environment: str, team: str, component: str,
              moves: list[tuple[str, str, str]]) -> dict:
    """A Jira bug in version 1.0 whose status moves (at, from, to) are its changelog; resolved when it ends Done."""
    done = bool(moves) and moves[-1][2] == "Done"
    status = moves[-1][2] if moves else "Open"
    category = {"Open": "new", "In Progress": "indeterminate", "Done": "done"}[status]
    return {"id": key.split("-")[1], "key": key, "self": f"https://jira.example/rest/api/2/issue/{key}",
            "fields": {"summary": f"Crash {key}", "issuetype": {"name": "Bug"}, "project": {"key": "SHOP"},
                       "created": created, "updated": updated, "priority": {"name": priority},
                       "environment": environment, "versions": [{"name": "1.0"}], "labels": [f"team:{team}"],
                       "components": [{"name": component}],
                       "status": {"name": status, "statusCategory": {"key": category}},
                       "resolution": {"name": "Fixed"} if done else None,
                       "resolutiondate": moves[-1][0] if done else None},
            "changelog": {"startAt": 0, "maxResults": len(moves), "total": len(moves), "histories": [
                {"id": f"{key}-{n}", "created": at,
                 "items": [{"field": "status", "fieldtype": "jira", "fromString": old, "toString": new}]}
                for n, (at, old, new) in enumerate(moves)]}}


def test_pulled_jira_pages_and_an_incremental_pull_build_the_marts_of_the_hand_export(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIRA_TOKEN_TEST", TOKEN)
    shop1 = _jira_bug("SHOP-1", "2026-11-02T09:00:00.000+0000", "2026-11-03T09:00:00.000+0000", "High", "production",
                      "payments", "checkout", [("2026-11-02T12:00:00.000+0000", "Open", "In Progress"),
                                               ("2026-11-03T09:00:00.000+0000", "In Progress", "Done")])
    shop2 = _jira_bug("SHOP-2", "2026-11-02T10:00:00.000+0000", "2026-11-03T10:00:00.000+0000", "Medium", "staging",
                      "search", "search", [])
    shop3 = _jira_bug("SHOP-3", "2026-11-04T08:00:00.000+0000", "2026-11-04T11:07:31.000+0100", "Highest", "prod",
                      "payments", "checkout", [("2026-11-04T11:07:31.000+0100", "Open", "Done")])
    # After the first pull SHOP-2 is fixed; SHOP-3, updated in the cursor's minute, comes again unchanged.
    shop2_fixed = _jira_bug("SHOP-2", "2026-11-02T10:00:00.000+0000", "2026-11-05T10:00:00.000+0000", "Medium",
                            "staging", "search", "search", [("2026-11-05T10:00:00.000+0000", "Open", "Done")])
    everything = "(project = SHOP) ORDER BY updated ASC"
    changed = '(project = SHOP) AND updated >= "2026/11/04 10:07" ORDER BY updated ASC'
    with LocalServer() as server:
        connection = Connection(base_url=server.url, auth="bearer", token_env="JIRA_TOKEN_TEST", project="SHOP",
                                page_size=2)
        cursors = Cursors(tmp_path / "pull-state.json")
        server.script(_search(everything, 0), Reply(200, json.dumps(
            {"startAt": 0, "maxResults": 2, "total": 3, "issues": [shop1, shop2]})))
        server.script(_search(everything, 2), Reply(200, json.dumps(
            {"startAt": 2, "maxResults": 2, "total": 3, "issues": [shop3]})))
        first = jira.pull(connection, tmp_path / "exports", cursors, sleep=lambda _: None)
        server.script(_search(changed, 0), Reply(200, json.dumps(
            {"startAt": 0, "maxResults": 2, "total": 2, "issues": [shop3, shop2_fixed]})))
        second = jira.pull(connection, tmp_path / "exports", cursors, sleep=lambda _: None)
        jql_sent = [parse_qs(urlsplit(request.path).query)["jql"][0] for request in server.received]
    # Only the issues updated since the first pull's newest minute are asked for again.
    assert jql_sent == [everything, everything, changed]
    assert (len(first), len(second)) == (2, 1) and cursors.get("jira") == "2026/11/05 10:00"
    # The hand export: the search a user saves today from /rest/api/2/search?expand=changelog, one file.
    hand = tmp_path / "hand" / "jira"
    hand.mkdir(parents=True)
    (hand / "search.json").write_text(json.dumps({"startAt": 0, "maxResults": 50, "total": 3,
                                                  "issues": [shop1, shop2_fixed, shop3]}))

    defects, rates = _pulled_and_hand_built_alike(tmp_path)
    # Time to resolve, created -> resolved: 24 h; 3 days (fixed after the first pull, seen by the second);
    # 08:00 -> 10:07:31 UTC (11:07:31+01:00) = 7651 s = 2.1253 h. Priorities map High S2, Medium S3, Highest S1.
    assert defects == [("SHOP-1", "resolved", "S2", "production", "1.0", "payments", "checkout", 24.0),
                       ("SHOP-2", "resolved", "S3", "staging", "1.0", "search", "search", 72.0),
                       ("SHOP-3", "resolved", "S1", "production", "1.0", "payments", "checkout", 2.1253)]
    # Release 1.0: SHOP-2 found in staging (pre-release), SHOP-1 and SHOP-3 in production (escaped): 2 / 3.
    assert rates == [("ALL", "ALL", 1, 2, 0.6667), ("SHOP", "1.0", 1, 2, 0.6667), ("SHOP", "ALL", 1, 2, 0.6667)]


def _pulled_and_hand_built_alike(tmp_path: Path) -> tuple[list, list]:
    """Builds the pulled files (tmp_path/exports) and the hand export (tmp_path/hand); every defect
    mart must be the same (and not empty). Returns the pulled build's defects and escape rates."""
    pulled = _defect_marts(tmp_path / "exports", tmp_path / "pulled")
    by_hand = _defect_marts(tmp_path / "hand", tmp_path / "by_hand")
    assert all(pulled[mart] for mart in DEFECT_MARTS)
    for mart in DEFECT_MARTS:
        assert pulled[mart] == by_hand[mart], mart
    with duckdb.connect(str(tmp_path / "pulled" / "w.duckdb"), read_only=True) as con:
        defects = con.execute("select defect_id, status, severity, environment, found_in_release, team, component,"
                              " round(ttr_hours, 4) from marts.fct_defects order by defect_id").fetchall()
        rates = con.execute("select service, release, pre_release_defects, escaped_defects, round(escape_rate, 4)"
                            " from marts.release_escape_rate order by all").fetchall()
    return defects, rates


def _gh_bug(number: int, updated: str, severity: str, environment: str, closed: bool = False) -> dict:
    """An issue of release 2.0 whose severity and environment are labels (the policy maps their prefixes)."""
    labels = ["bug", f"severity: {severity}", f"env: {environment}", "version: 2.0", "team: web", "component: cart"]
    return {**_issue(number, updated, "closed" if closed else "open"), "labels": [{"name": name} for name in labels],
            "state_reason": "completed" if closed else None}


def test_pulled_github_pages_and_an_incremental_pull_build_the_marts_of_the_hand_export(
        connection: Connection, tmp_path: Path) -> None:
    one, two = _gh_bug(1, "2026-11-02T10:00:00Z", "high", "production"), _gh_bug(2, "2026-11-03T09:00:00Z", "low",
                                                                                   "staging", closed=True)
    three = _gh_bug(3, "2026-11-04T10:00:00Z", "critical", "production", closed=True)
    one_closed = _gh_bug(1, "2026-11-06T09:00:00Z", "high", "production", closed=True)  # after the first pull
    since = f"{FIRST}&since=2026-11-04T10%3A00%3A00Z"
    with LocalServer() as server:
        server.script(FIRST, Reply(200, json.dumps([one, two]), {"Link": f'<{server.url}{SECOND}>; rel="next"'}))
        server.script(SECOND, Reply(200, json.dumps([three])))
        first = _pull(server, connection, tmp_path, [])
        server.script(since, Reply(200, json.dumps([three, one_closed])))
        second = _pull(server, connection, tmp_path, [])
        seen = [request.path for request in server.received]
    assert seen == [FIRST, SECOND, since] and (len(first), len(second)) == (2, 1)
    hand = tmp_path / "hand" / "github"
    hand.mkdir(parents=True)
    (hand / "issues.json").write_text(json.dumps([one_closed, two, three]))  # GET .../issues?state=all, saved

    defects, rates = _pulled_and_hand_built_alike(tmp_path)
    # Created 1 Nov 09:00; closed 6 Nov 09:00 (seen by the incremental pull), 3 Nov 09:00, 4 Nov 10:00:
    # 120 h, 48 h, 73 h. Labels map severity high S2, low S4, critical S1.
    assert defects == [("acme/shop#1", "closed", "S2", "production", "2.0", "web", "cart", 120.0),
                       ("acme/shop#2", "closed", "S4", "staging", "2.0", "web", "cart", 48.0),
                       ("acme/shop#3", "closed", "S1", "production", "2.0", "web", "cart", 73.0)]
    # Release 2.0 of shop: #2 found in staging (pre-release), #1 and #3 in production (escaped): 2 / 3.
    assert rates == [("ALL", "ALL", 1, 2, 0.6667), ("shop", "2.0", 1, 2, 0.6667), ("shop", "ALL", 1, 2, 0.6667)]
