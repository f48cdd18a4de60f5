"""`defectflow notify` on a warehouse built for real, against webhooks on 127.0.0.1.

By hand (the exports below, as of 2026-03-31; docs/metrics.md, Notifications).
What runs at the as-of:
- pay: staging 1.1; production fleet 1.0 with 1.1 in its canary -> 1.1 active (canary);
- web: dev 1.9 (behind production), production 2.0, staging 2.1 (ahead) -> 2.1 active;
- api: 3.1 went to production and was rolled back to 3.0; staging runs 3.1 -> 3.1 active,
  3.0 (production's fleet only) is not.
Defects: N1 (S1 pay 1.1, new), N2 (S2 web 2.1, in_progress), N7 (S2 pay 1.1, resolved) and
N8 (S1 api 3.1, new) notify. Not: N3 (S3), N4 (api 3.0, fully in production), N5 (web 1.9,
behind production), N6 (duplicate of N1).
"""

import hashlib
import json
import logging
import shutil
import socket
from pathlib import Path

import duckdb
import pytest

from pipelines.delivery import notify
from pipelines.policy import Notify, PolicyError, load_policy
from pipelines.warehouse import writer_lock
from tests.local_http import LocalServer, Reply

AS_OF = "2026-03-31"
AS_OF_TEXT = "2026-03-31T23:59:59.999999Z"
TOKEN = "hook-tok-7c1d-SECRET"
TOKEN_ENV = "DEFECTFLOW_TEST_NOTIFY_TOKEN"

RELEASES = """service,release,planned_release_at
pay,1.0,2026-03-02T00:00:00Z
pay,1.1,2026-03-12T00:00:00Z
web,1.9,2026-02-20T00:00:00Z
web,2.0,2026-03-01T00:00:00Z
web,2.1,2026-03-20T00:00:00Z
api,3.0,2026-03-03T00:00:00Z
api,3.1,2026-03-10T00:00:00Z
"""

DEPLOYMENTS = """deployment_id,service,release,environment,segment,started_at,finished_at,status,rollback_of
p1,pay,1.0,staging,full,2026-03-01T00:00:00Z,2026-03-01T01:00:00Z,succeeded,
p2,pay,1.0,production,full,2026-03-02T00:00:00Z,2026-03-02T01:00:00Z,succeeded,
p3,pay,1.1,staging,full,2026-03-10T00:00:00Z,2026-03-10T01:00:00Z,succeeded,
p4,pay,1.1,production,canary,2026-03-12T00:00:00Z,2026-03-12T01:00:00Z,succeeded,
w1,web,1.9,dev,full,2026-02-19T00:00:00Z,2026-02-19T01:00:00Z,succeeded,
w2,web,1.9,production,full,2026-02-20T00:00:00Z,2026-02-20T01:00:00Z,succeeded,
w3,web,2.0,production,full,2026-03-01T00:00:00Z,2026-03-01T01:00:00Z,succeeded,
w4,web,2.1,staging,full,2026-03-15T00:00:00Z,2026-03-15T01:00:00Z,succeeded,
a1,api,3.0,staging,full,2026-03-02T00:00:00Z,2026-03-02T01:00:00Z,succeeded,
a2,api,3.0,production,full,2026-03-03T00:00:00Z,2026-03-03T01:00:00Z,succeeded,
a3,api,3.1,staging,full,2026-03-08T00:00:00Z,2026-03-08T01:00:00Z,succeeded,
a4,api,3.1,production,full,2026-03-10T00:00:00Z,2026-03-10T01:00:00Z,rolled_back,
a5,api,3.0,production,full,2026-03-10T05:00:00Z,2026-03-10T06:00:00Z,succeeded,a4
"""

DEFECTS = """defect_id,title,severity,status,resolution,service,environment,found_in_release,created_at,resolved_at,duplicate_of,url
N1,Checkout crash for bob@example.com <b>&</b>,S1,new,,pay,production,1.1,2026-03-13T00:00:00Z,,,https://tracker.example.com/browse/N1
N2,Search slow,S2,in_progress,,web,staging,2.1,2026-03-16T00:00:00Z,,,https://tracker.example.com/browse/N2
N3,Typo on receipt,S3,new,,pay,production,1.1,2026-03-13T00:00:00Z,,,
N4,API timeout,S1,new,,api,production,3.0,2026-03-05T00:00:00Z,,,
N5,Old web bug,S1,new,,web,dev,1.9,2026-02-25T00:00:00Z,,,
N6,Checkout crash again,S1,closed,duplicate,pay,production,1.1,2026-03-14T00:00:00Z,2026-03-14T05:00:00Z,N1,
N7,Refund rounding,S2,resolved,fixed,pay,staging,1.1,2026-03-11T00:00:00Z,2026-03-12T00:00:00Z,,
N8,Login loops after upgrade,S1,new,,api,staging,3.1,2026-03-09T00:00:00Z,,,
"""

PENDING = [  # (defect, state): the order notify sends in, per webhook (severity, then id)
    ("N1", "new"), ("N8", "new"), ("N2", "in_progress"), ("N7", "resolved"),
]


def _write_exports(folder: Path, defects: str = DEFECTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("releases.csv", RELEASES), ("deployments.csv", DEPLOYMENTS), ("defects.csv", defects)):
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _build(exports: Path, warehouse: Path) -> None:
    from pipelines.cli import run_build

    run_build(exports=exports, warehouse=warehouse, reports=warehouse.parent / "reports", policy=None,
              as_of_text=AS_OF)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("notify")
    _build(_write_exports(out / "exports"), out / "w.duckdb")
    return out / "w.duckdb"


@pytest.fixture
def warehouse(built, tmp_path) -> Path:
    """A copy of the module's warehouse: each test starts with nothing sent."""
    return Path(shutil.copyfile(built, tmp_path / "w.duckdb"))


@pytest.fixture
def server():
    with LocalServer() as running:
        yield running


@pytest.fixture
def token(monkeypatch) -> str:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return TOKEN


def _settings(server: LocalServer, **extra) -> Notify:
    return Notify.model_validate({
        "webhooks": [
            {"name": "releases-slack", "url": server.url + "/slack", "format": "slack"},
            {"name": "pager", "url": server.url + "/json", "format": "json", "token_env": TOKEN_ENV},
        ],
        **extra,
    })


class Waits(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _send(warehouse: Path, settings: Notify, capsys) -> tuple[int, str, Waits]:
    waits = Waits()
    code = notify.run(warehouse, settings, dry=False, sleep=waits)
    captured = capsys.readouterr()
    return code, captured.out + captured.err, waits


def _recorded(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select webhook, defect_id, state, delivered, http_status, attempts "
                           "from history.notifications order by notified_at").fetchall()


def _sent(server: LocalServer, path: str) -> list[tuple[str, str]]:
    """(defect, state) of each message the path received; Slack's text reads `S1 defect N1 (new) in ...`."""
    bodies = [r.json() for r in server.requests_to(path)]
    if path == "/slack":
        return [(b["text"].split(" ")[2], b["text"].split("(")[1].split(")")[0]) for b in bodies]
    return [(b["defect_id"], b["state"]) for b in bodies]


def test_pending_is_the_active_streams_notifying_defects(warehouse, server):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        items = notify.pending(con, _settings(server), notify._as_of(con))
    assert [(i.webhook.name, i.notice.defect_id, i.notice.state, i.notice.release, i.notice.rollout)
            for i in items] == [
        ("releases-slack", "N1", "new", "1.1", (("staging", "full"), ("production", "canary"))),
        ("releases-slack", "N8", "new", "3.1", (("staging", "full"),)),
        ("releases-slack", "N2", "in_progress", "2.1", (("staging", "full"),)),
        ("releases-slack", "N7", "resolved", "1.1", (("staging", "full"), ("production", "canary"))),
        ("pager", "N1", "new", "1.1", (("staging", "full"), ("production", "canary"))),
        ("pager", "N8", "new", "3.1", (("staging", "full"),)),
        ("pager", "N2", "in_progress", "2.1", (("staging", "full"),)),
        ("pager", "N7", "resolved", "1.1", (("staging", "full"), ("production", "canary"))),
    ]


def test_one_message_per_defect_and_state_then_nothing(warehouse, server, token, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    code, output, _ = _send(warehouse, _settings(server), capsys)
    assert code == notify.EXIT_SENT
    assert _sent(server, "/slack") == PENDING
    assert _sent(server, "/json") == PENDING
    first_slack, first_json = server.requests_to("/slack")[0], server.requests_to("/json")[0]
    # the title comes masked from the marts; Slack's control characters are escaped
    assert first_slack.json() == {
        "text": "S1 defect N1 (new) in pay 1.1, rolling out: staging, production (canary): "
                "Checkout crash for [email] &lt;b&gt;&amp;&lt;/b&gt;",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text":
                "*S1* <https://tracker.example.com/browse/N1|N1> is *new*: "
                "Checkout crash for [email] &lt;b&gt;&amp;&lt;/b&gt;"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text":
                f"pay 1.1 · rolling out: staging, production (canary) · as of {AS_OF_TEXT}"}]},
        ],
    }
    assert first_json.json() == {
        "type": "defectflow.defect_notification", "version": 1,
        "defect_id": "N1", "severity": "S1", "state": "new", "title": "Checkout crash for [email] <b>&</b>",
        "service": "pay", "release": "1.1", "environments": ["staging", "production"],
        "rollout": [{"environment": "staging", "segment": "full"}, {"environment": "production", "segment": "canary"}],
        "url": "https://tracker.example.com/browse/N1", "as_of": AS_OF_TEXT,
    }
    assert "bob@example.com" not in json.dumps([r.body for r in server.received])
    assert first_json.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "Authorization" not in first_slack.headers
    assert first_json.headers["Idempotency-Key"] == hashlib.sha256(b"defectflow-notify\0pager\0N1\0new").hexdigest()
    assert "sent to releases-slack: S1 N1 (new) pay 1.1 [staging, production (canary)]" in output
    assert "8 message(s) sent, 0 failed" in output
    assert sorted(_recorded(warehouse)) == sorted(
        (hook, defect, state, True, 200, 1) for hook in ("releases-slack", "pager") for defect, state in PENDING)

    code, output, _ = _send(warehouse, _settings(server), capsys)
    assert code == notify.EXIT_SENT
    assert len(server.received) == 8
    assert "0 message(s) sent, 0 failed" in output
    assert TOKEN not in output + caplog.text


def test_state_change_after_a_rebuild_sends_again(warehouse, server, token, capsys, tmp_path):
    assert _send(warehouse, _settings(server), capsys)[0] == notify.EXIT_SENT
    resolved = DEFECTS.replace("N2,Search slow,S2,in_progress,,web,staging,2.1,2026-03-16T00:00:00Z,,",
                               "N2,Search slow,S2,resolved,fixed,web,staging,2.1,2026-03-16T00:00:00Z,"
                               "2026-03-20T00:00:00Z,")
    assert resolved != DEFECTS
    _build(_write_exports(tmp_path / "exports", resolved), warehouse)
    assert len(_recorded(warehouse)) == 8  # the build's copy-and-swap kept what was sent

    code, output, _ = _send(warehouse, _settings(server), capsys)
    assert code == notify.EXIT_SENT
    assert _sent(server, "/slack") == [*PENDING, ("N2", "resolved")]
    assert _sent(server, "/json") == [*PENDING, ("N2", "resolved")]
    assert "2 message(s) sent, 0 failed" in output


def test_5xx_is_retried(warehouse, server, token, capsys, caplog):
    server.script("/slack", Reply(503), Reply(502), Reply(200))
    code, _, waits = _send(warehouse, _settings(server), capsys)
    assert code == notify.EXIT_SENT
    # the retry warnings name the webhook, not its URL (a Slack webhook's URL is its secret)
    assert "POST [webhook releases-slack]: attempt 1/4 failed (HTTP 503 Service Unavailable)" in caplog.text
    assert server.url not in caplog.text
    assert waits == [0.5, 1.0]
    assert len(server.requests_to("/slack")) == 4 + 2
    # the first message took three attempts, the others one
    assert [r for r in _recorded(warehouse) if r[0] == "releases-slack"] == [
        ("releases-slack", defect, state, True, 200, 3 if defect == "N1" else 1) for defect, state in PENDING]


def test_a_failing_webhook_exits_1_and_the_next_run_retries_it(warehouse, server, token, capsys, caplog):
    server.script("/json", Reply(500, f"echo {TOKEN}"))
    code, output, waits = _send(warehouse, _settings(server), capsys)
    assert code == notify.EXIT_DELIVERY_FAILED
    assert len(server.requests_to("/json")) == 4 * 4  # every message, four attempts each
    assert waits == [0.5, 1.0, 2.0] * 4
    assert ("NOT sent to pager: S1 N1 (new) pay 1.1 [staging, production (canary)]: "
            "HTTP 500 Internal Server Error after 4 attempt(s); the next run retries") in output
    assert "4 message(s) sent, 4 failed" in output
    assert [r for r in _recorded(warehouse) if r[0] == "pager"] == [
        ("pager", defect, state, False, 500, 4) for defect, state in PENDING]
    assert TOKEN not in output + caplog.text

    server.script("/json", Reply(200))
    code, output, _ = _send(warehouse, _settings(server), capsys)
    assert code == notify.EXIT_SENT
    assert len(server.requests_to("/slack")) == 4
    assert _sent(server, "/json")[16:] == PENDING
    assert "4 message(s) sent, 0 failed" in output


def test_dry_run_prints_and_records_nothing(warehouse, server, token, capsys, tmp_path):
    from pipelines.cli import main

    policy = tmp_path / "policy.yml"
    policy.write_text(
        "notify:\n  severities: [S1]\n  webhooks:\n"
        f"    - {{name: pager, url: '{server.url}/json', format: json, token_env: {TOKEN_ENV}}}\n",
        encoding="utf-8")
    assert main(["notify", "--dry-run", "--warehouse", str(warehouse), "--policy", str(policy)]) == 0
    out = capsys.readouterr().out
    assert "would send to pager: S1 N1 (new) pay 1.1 [staging, production (canary)]" in out
    assert "would send to pager: S1 N8 (new) api 3.1 [staging]" in out
    assert '"defect_id": "N8"' in out and "N2" not in out
    assert "2 message(s) would be sent; nothing was sent or recorded (--dry-run)" in out
    assert server.received == [] and TOKEN not in out
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from duckdb_tables() where schema_name = 'history' "
                           "and table_name = 'notifications'").fetchone() == (0,)


def test_unset_token_or_busy_warehouse_is_an_error_and_sends_nothing(warehouse, server, capsys, monkeypatch,
                                                                     caplog):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert notify.run(warehouse, _settings(server), dry=False) == notify.EXIT_ERROR
    assert f"webhook pager: environment variable {TOKEN_ENV} is not set or empty" in caplog.text

    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with writer_lock(warehouse, holder="a build, "):
        assert notify.run(warehouse, _settings(server), dry=False) == notify.EXIT_ERROR
    assert "run it after the build" in caplog.text
    assert server.received == []


def test_policy_rejects_ambiguous_webhooks(tmp_path):
    policy = tmp_path / "policy.yml"
    policy.write_text("notify:\n  webhooks:\n"
                      "    - {name: a, url: 'https://x.test/h', url_env: HOOK, format: slack}\n"
                      "    - {name: a, url: 'ftp://x.test/h', format: json}\n", encoding="utf-8")
    with pytest.raises(PolicyError) as error:
        load_policy(policy)
    assert "notify.webhooks.0: give exactly one of url and url_env" in str(error.value)
    assert "notify.webhooks.1: url must start with http:// or https://" in str(error.value)


def test_slack_link_keeps_a_pipe_in_the_url_inside_the_link():
    notice = notify.Notice("D-1", "S2", "new", "a <script>", "https://t.example/a|b?x=1&y=2", "pay", "2.0",
                           (("production", "canary"),), None)
    assert notify._slack_link(notice) == "<https://t.example/a%7Cb?x=1&amp;y=2|D-1>"


def test_a_webhook_url_from_the_environment_is_never_shown(warehouse, capsys, caplog, monkeypatch):
    with socket.socket() as closed:  # a port nothing listens on: every attempt is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("DEFECTFLOW_TEST_SLACK_URL", f"http://127.0.0.1:{port}/services/T01/B02/hookSECRET")
    settings = Notify.model_validate({"severities": ["S1"], "webhooks": [
        {"name": "releases-slack", "url_env": "DEFECTFLOW_TEST_SLACK_URL", "format": "slack"}]})
    code, output, waits = _send(warehouse, settings, capsys)
    assert code == notify.EXIT_DELIVERY_FAILED
    assert waits == [0.5, 1.0, 2.0] * 2
    assert "NOT sent to releases-slack: S1 N1 (new) pay 1.1 [staging, production (canary)]: ConnectionError" in output
    with duckdb.connect(str(warehouse), read_only=True) as con:
        errors = [e for (e,) in con.execute("select error from history.notifications").fetchall()]
    assert len(errors) == 2 and all("[webhook releases-slack]" in e for e in errors)
    assert "hookSECRET" not in output + caplog.text + "".join(errors)
