"""`defectflow defects-from-tests` and `defectflow sync` on a warehouse built in the test.

The warehouse holds five defects of service `pay` and `web`, with stack traces, and one earlier CI
run. A failing CI run of `pay` then has six failures: one covered by an open defect (seen again),
two sharing a fingerprint, one whose fingerprint only an open defect of another service has, one
with a message and no trace, one with neither. Fingerprints are worked out by hand from
docs/metrics.md "Stack fingerprint": the root cause's type and its top three in-app frames
(module + function), innermost first, MD5, first 16 hex digits.
"""

import csv
import hashlib
import json
import logging

import pytest

from pipelines.cli import main
from pipelines.defs.ingest.canonical import DEFECTS
from pipelines.defs.ingest.detect import CanonicalCsv, detect, scan
from tests.conftest import ROOT, modelled_warehouse
from tests.local_http import LocalServer, Reply

AS_OF = "2026-04-01T00:00:00Z"
BUILD = "https://ci.example.com/pay/builds/812"
TOKEN = "jira-pat-5b6c7d8e9f-SECRET"


def fingerprint(signature: str) -> str:
    return hashlib.md5(signature.encode()).hexdigest()[:16]


TIMEOUT = """java.sql.SQLTimeoutException: Query timed out after {ms} ms
\tat org.postgresql.jdbc.PgStatement.executeQuery(PgStatement.java:224)
\tat com.acme.pay.LedgerRepository.find(LedgerRepository.java:{line})
\tat com.acme.pay.RefundService.refund(RefundService.java:31)
\tat com.acme.pay.RefundController.post(RefundController.java:19)
\tat com.acme.pay.RefundIT.refundsCard(RefundIT.java:44)"""
NPE = """java.lang.NullPointerException: card is null for ops@acme.example.com
\tat com.acme.pay.CardValidator.check(CardValidator.java:{line})
\tat com.acme.pay.PaymentService.authorize(PaymentService.java:88)
\tat com.acme.pay.PaymentController.pay(PaymentController.java:17)
\tat com.acme.pay.CardIT.{test}(CardIT.java:23)
\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)"""
MONEY = """java.lang.IllegalStateException: no currency for {code}
\tat com.acme.shared.Money.format(Money.java:{line})
\tat com.acme.shared.Money.round(Money.java:12)
\tat com.acme.shared.Currency.lookup(Currency.java:7)
\tat com.acme.{caller}(Caller.java:3)"""

FP_TIMEOUT = fingerprint("java.sql.SQLTimeoutException|com.acme.pay.LedgerRepository.find"
                         "|com.acme.pay.RefundService.refund|com.acme.pay.RefundController.post")
FP_NPE = fingerprint("java.lang.NullPointerException|com.acme.pay.CardValidator.check"
                     "|com.acme.pay.PaymentService.authorize|com.acme.pay.PaymentController.pay")
FP_MONEY = fingerprint("java.lang.IllegalStateException|com.acme.shared.Money.format"
                       "|com.acme.shared.Money.round|com.acme.shared.Currency.lookup")
# No frame and no error type: `|` and the masked message, lower-cased, numbers gone, blanks collapsed.
FP_EXPORT = fingerprint("|export for [person] timed out after s (token=[secret]")

DEFECTS_ROWS = [
    # id, title, severity, status, resolution, service, environment, created_at, resolved_at, assignee,
    # users_affected, has_workaround, duplicate_of, stack_trace
    ["PAY-1", "Refund times out on the ledger lookup", "S2", "Open", "", "pay", "staging", "2026-03-01T00:00:00Z",
     "", "Priya Raman", "", "", "", TIMEOUT.format(ms=30000, line=55)],
    ["PAY-2", "Expired card accepted", "S3", "Resolved", "Fixed", "pay", "staging", "2026-03-02T00:00:00Z",
     "2026-03-04T00:00:00Z", "", "", "", "", NPE.format(line=40, test="old")],
    ["WEB-3", "Receipt shows no currency", "S3", "Open", "", "web", "production", "2026-03-30T00:00:00Z", "",
     "", "", "true", "", MONEY.format(code="XTS", line=41, caller="web.ReceiptPage.render")],
    ["PAY-4", "Payouts stall after midnight", "S1", "Open", "", "pay", "production", "2026-03-31T12:00:00Z", "",
     "", "999", "", "", ""],
    ["PAY-5", "Refund times out on the ledger lookup again", "S2", "Closed", "Duplicate", "pay", "staging",
     "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z", "", "", "", "PAY-1", TIMEOUT.format(ms=30000, line=55)],
]


def junit_case(classname: str, name: str, outcome: str = "") -> str:
    return f'    <testcase classname="{classname}" name="{name}" time="0.2">{outcome}</testcase>\n'


def junit(timestamp: str, cases: list[str]) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="pay integration tests">\n'
            f'  <testsuite name="pay-it" timestamp="{timestamp}" tests="{len(cases)}">\n'
            '    <properties><property name="commit" value="9f1c2e7"/></properties>\n'
            + "".join(cases) + "  </testsuite>\n</testsuites>\n")


def failure(message: str, text: str = "", tag: str = "failure") -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;")
    return f'<{tag} message="{message}">{escaped}</{tag}>' if message or text else f"<{tag}/>"


FAILING_RUN = junit("2026-04-02T09:15:00", [
    junit_case("com.acme.pay.RefundIT", "refundsCard",
               failure("Query timed out after 29000 ms", TIMEOUT.format(ms=29000, line=57))),
    junit_case("com.acme.pay.CardIT", "rejectsExpired",
               failure("card is null", NPE.format(line=41, test="rejectsExpired"))),
    junit_case("com.acme.pay.CardIT", "rejectsStolen",
               failure("card is null", NPE.format(line=43, test="rejectsStolen"))),
    junit_case("com.acme.pay.CardIT", "acceptsValid"),
    junit_case("com.acme.pay.ReceiptIT", "formatsEuro",
               failure("no currency for EURX", MONEY.format(code="EURX", line=44, caller="pay.ReceiptIT.formatsEuro"),
                       tag="error")),
    junit_case("com.acme.pay.ExportIT", "exportsLedger",
               failure("Export for Priya Raman timed out after 30 s (token=s3cr3t)")),
    junit_case("com.acme.pay.ExportIT", "exportsEmpty", failure("")),
    junit_case("com.acme.pay.ExportIT", "exportsCsv", "<skipped/>"),
    junit_case("com.acme.pay.HealthIT", "ping"),
])

# The candidate with two failures, exactly as each format writes it.
NPE_DESCRIPTION = f"""CI run: {BUILD}
Environment: ci
Service: pay
Commit: 9f1c2e7

Failing tests (2 failures):
* com.acme.pay.CardIT.rejectsExpired
* com.acme.pay.CardIT.rejectsStolen

Log excerpt (masked):
{{noformat}}
java.lang.NullPointerException: card is null for [email]
\tat com.acme.pay.CardValidator.check(CardValidator.java:41)
\tat com.acme.pay.PaymentService.authorize(PaymentService.java:88)
\tat com.acme.pay.PaymentController.pay(PaymentController.java:17)
\tat com.acme.pay.CardIT.rejectsExpired(CardIT.java:23)
\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)
{{noformat}}

Stack fingerprint: {FP_NPE} (first seen in {BUILD}; 0 earlier failure(s) in the warehouse)"""
NPE_TRACE = NPE.format(line=41, test="rejectsExpired").replace("ops@acme.example.com", "[email]")
NPE_SUMMARY = "[pay] card is null (2 failing tests)"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    exports = tmp_path_factory.mktemp("tracker-exports")
    with (exports / "defects.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["defect_id", "title", "severity", "status", "resolution", "service", "environment",
                         "created_at", "resolved_at", "assignee", "users_affected", "has_workaround",
                         "duplicate_of", "stack_trace"])
        writer.writerows(DEFECTS_ROWS)
    # An earlier CI run already failed on the shared Money fault.
    (exports / "earlier-run.xml").write_text(junit("2026-03-20T08:00:00", [junit_case(
        "com.acme.pay.ReceiptIT", "formatsEuro",
        failure("no currency for EURX", MONEY.format(code="EURX", line=40, caller="pay.ReceiptIT.formatsEuro")))]))
    return modelled_warehouse(exports, tmp_path_factory.mktemp("tracker-warehouse"), None, AS_OF).warehouse


@pytest.fixture
def failing_run(tmp_path):
    path = tmp_path / "junit" / "TEST-pay-it.xml"
    path.parent.mkdir()
    path.write_text(FAILING_RUN, encoding="utf-8")
    return path


def dft(warehouse, junit_path, out, *extra):
    return main(["defects-from-tests", "--junit", str(junit_path), "--environment", "CI", "--build-url", BUILD,
                 "--service", "pay", "--warehouse", str(warehouse), "--out", str(out), *extra])


def test_a_failing_run_gives_one_candidate_per_fingerprint_and_a_seen_again_record(warehouse, failing_run,
                                                                                   tmp_path, capsys):
    out = tmp_path / "out"
    assert dft(warehouse, failing_run.parent, out) == 1  # a folder stands for its XML files
    summary = json.loads((out / "summary.json").read_text())
    assert [(c["fingerprint"], c["failures"], c["tests"], c["defect_ids"], c["earlier_failures"])
            for c in summary["candidates"]] == [
        (FP_NPE, 2, ["com.acme.pay.CardIT.rejectsExpired", "com.acme.pay.CardIT.rejectsStolen"], [], 0),
        *sorted([(FP_MONEY, 1, ["com.acme.pay.ReceiptIT.formatsEuro"], [], 1),  # WEB-3 is another service's
                 (FP_EXPORT, 1, ["com.acme.pay.ExportIT.exportsLedger"], [], 0)]),
    ]
    assert [(s["fingerprint"], s["failures"], s["defect_ids"], s["cluster_ids"]) for s in summary["seen_again"]] == [
        (FP_TIMEOUT, 1, ["PAY-1"], ["PAY-1"])]  # PAY-5 (its closed duplicate) is not open
    assert summary["unfingerprinted_failures"] == 1  # exportsEmpty: neither message nor trace
    assert summary["deliveries"] == []
    assert capsys.readouterr().out.splitlines()[0] == f"3 new defect candidate(s), 1 seen again (files in {out})"

    with (out / "seen-again.csv").open(newline="", encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == [
            ["fingerprint", "defect_ids", "cluster_ids", "environment", "service", "build_url", "commit_sha",
             "failures", "tests", "seen_at"],
            [FP_TIMEOUT, "PAY-1", "PAY-1", "ci", "pay", BUILD, "9f1c2e7", "1", "com.acme.pay.RefundIT.refundsCard",
             "2026-04-02T09:15:00"]]


def test_the_three_formats_of_one_candidate(warehouse, failing_run, tmp_path):
    out = tmp_path / "out"
    dft(warehouse, failing_run, out)
    labels = ["defectflow", "ci-failure", f"defectflow-fp-{FP_NPE}"]
    assert json.loads((out / "jira-create" / f"{FP_NPE}.json").read_text()) == {"fields": {
        "project": {"key": "DEF"}, "issuetype": {"name": "Bug"}, "summary": NPE_SUMMARY,
        "description": NPE_DESCRIPTION, "environment": "ci", "labels": labels}}
    assert sorted(p.stem for p in (out / "jira-create").iterdir()) == sorted([FP_NPE, FP_MONEY, FP_EXPORT])

    with (out / "jira-import.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["Summary", "Issue Type", "Environment", "Description", "Fingerprint", "Labels", "Labels",
                       "Labels"]
    assert rows[1] == [NPE_SUMMARY, "Bug", "ci", NPE_DESCRIPTION, FP_NPE, *labels]
    assert len(rows) == 4

    with (out / "defects.csv").open(newline="", encoding="utf-8") as handle:
        canonical = list(csv.DictReader(handle))
    assert canonical[0] == {**dict.fromkeys(DEFECTS.column_names, ""),
                            "defect_id": f"CI-{FP_NPE}", "title": NPE_SUMMARY, "description": NPE_DESCRIPTION,
                            "severity": "S3", "status": "new", "type": "bug", "service": "pay", "environment": "ci",
                            "created_at": "2026-04-02T09:15:00", "stack_trace": NPE_TRACE,
                            "labels": ";".join(labels), "url": BUILD, "reporter": "defectflow"}
    # The ingest reads it back as canonical defects.
    assert detect(out / "defects.csv", scan(out / "defects.csv"), 1 << 20).entity.name == "defects"
    assert isinstance(detect(out / "defects.csv", scan(out / "defects.csv"), 1 << 20), CanonicalCsv)


def test_the_log_excerpt_is_masked_like_the_marts(warehouse, failing_run, tmp_path):
    out = tmp_path / "out"
    dft(warehouse, failing_run, out)
    export = json.loads((out / "jira-create" / f"{FP_EXPORT}.json").read_text())["fields"]
    assert export["summary"] == "[pay] Export for [person] timed out after 30 s (token=[secret] (1 failing test)"
    everything = "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    for personal in ("Priya Raman", "s3cr3t", "ops@acme.example.com"):
        assert personal not in everything


def test_a_run_whose_failures_open_defects_all_cover_exits_0(warehouse, tmp_path):
    path = tmp_path / "covered.xml"
    path.write_text(junit("2026-04-02T10:00:00", [
        junit_case("com.acme.pay.RefundIT", "refundsCard", failure("t", TIMEOUT.format(ms=1, line=60))),
        junit_case("com.acme.pay.HealthIT", "ping")]))
    assert dft(warehouse, path, tmp_path / "out") == 0
    assert (tmp_path / "out" / "jira-import.csv").read_text().count("\n") == 1  # the header only
    assert list((tmp_path / "out" / "jira-create").iterdir()) == []


@pytest.mark.parametrize(("args", "message"), [
    (["--environment", "moon"], "defects-from-tests error: --environment 'moon' is not an environment"),
    (["--junit", "missing.xml"], "defects-from-tests error: --junit missing.xml: no such file or folder"),
    (["--junit", "tests/fixtures/tiny/defects.csv"],
     "defects-from-tests error: tests/fixtures/tiny/defects.csv is not a JUnit XML report: a canonical defects CSV"),
    (["--junit", "pyproject.toml"], "pyproject.toml is not a JUnit XML report: invalid JSON at line 1"),
])
def test_bad_input_exits_2_and_says_why(warehouse, failing_run, tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(ROOT)
    argv = {"--junit": str(failing_run), "--environment": "CI", **dict(zip(args[::2], args[1::2]))}
    assert main(["defects-from-tests", *[x for kv in argv.items() for x in kv], "--build-url", BUILD,
                 "--warehouse", str(warehouse), "--out", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err


def test_post_sends_each_candidate_once_idempotent_by_fingerprint(warehouse, failing_run, tmp_path, monkeypatch,
                                                                  capsys, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("JIRA_TOKEN", TOKEN)
    out = tmp_path / "out"
    with LocalServer() as server:
        server.script("/rest/api/2/issue", Reply(503, echo_headers=True), Reply(201, '{"key": "DEF-1"}'),
                      Reply(201, '{"key": "DEF-2"}'), Reply(201, '{"key": "DEF-3"}'))
        assert dft(warehouse, failing_run, out, "--post", server.url + "/rest/api/2/issue") == 1
    sent = server.requests_to("/rest/api/2/issue")
    fingerprints = [FP_NPE, *sorted([FP_MONEY, FP_EXPORT])]
    assert [r.headers["Idempotency-Key"] for r in sent] == [FP_NPE, *fingerprints]  # the 503 retried
    assert {r.headers["Authorization"] for r in sent} == {f"Bearer {TOKEN}"}
    assert sent[1].json() == json.loads((out / "jira-create" / f"{FP_NPE}.json").read_text())
    deliveries = json.loads((out / "summary.json").read_text())["deliveries"]
    assert [(d["status"], d["attempts"], d["body"]) for d in deliveries] == [
        (201, 2, '{"key": "DEF-1"}'), (201, 1, '{"key": "DEF-2"}'), (201, 1, '{"key": "DEF-3"}')]
    captured = capsys.readouterr()
    for text in (captured.out, captured.err, caplog.text, *(p.read_text() for p in out.rglob("*") if p.is_file())):
        assert TOKEN not in text


def test_a_rejected_post_is_not_retried_and_exits_2(warehouse, failing_run, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JIRA_TOKEN", TOKEN)
    with LocalServer() as server:
        server.script("/issue", Reply(400, '{"errors": {"project": "project is required"}}'))
        assert dft(warehouse, failing_run, tmp_path / "out", "--post", server.url + "/issue") == 2
    assert len(server.received) == 3  # one attempt per candidate
    assert ('HTTP 400 Bad Request after 1 attempt(s): {"errors": {"project": "project is required"}}'
            in capsys.readouterr().err)


def test_post_without_the_token_exits_2_naming_the_variable(warehouse, failing_run, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MY_JIRA", raising=False)
    assert dft(warehouse, failing_run, tmp_path / "out", "--post", "http://127.0.0.1:9/x", "--token-env",
               "MY_JIRA") == 2
    assert capsys.readouterr().err == ("defects-from-tests error: environment variable MY_JIRA is not set or empty; "
                                       "it must hold the API token\n")


SYNC_POLICY = """tracker:
  fields: {cluster_id: customfield_101, duplicate_candidates: customfield_102, priority_score: customfield_103,
           sla_breached: customfield_104}
"""


def sync_lines(text: str) -> dict[str, dict]:
    return {line["key"]: line for line in map(json.loads, text.splitlines())}


def test_sync_dry_run_prints_one_update_per_open_defect(warehouse, tmp_path, capsys):
    policy = tmp_path / "policy.yml"
    policy.write_text(SYNC_POLICY)
    assert main(["sync", "--warehouse", str(warehouse), "--policy", str(policy)]) == 0
    captured = capsys.readouterr()
    lines = sync_lines(captured.out)
    assert sorted(lines) == ["PAY-1", "PAY-4", "WEB-3"]  # PAY-2 and PAY-5 are closed
    # priority = 100 * (0.40 sev + 0.20 rec + 0.25 users + 0.15 no workaround); SLA S1 24 h, S2 72 h, S3 336 h
    assert lines["PAY-1"] == {"key": "PAY-1", "method": "PUT", "path": "/rest/api/2/issue/PAY-1", "body": {"fields": {
        # PAY-5: the same trace, service and environment and nearly the same title (above 0.75)
        "customfield_101": "PAY-1", "customfield_102": "PAY-5", "customfield_103": 41.4,  # S2: 40 * 0.66 + 15
        "customfield_104": {"value": "Yes"}}}}  # open 744 h > 72 h
    assert lines["WEB-3"]["body"]["fields"] == {"customfield_101": "WEB-3", "customfield_102": "",
                                                "customfield_103": 13.2,  # S3 with a workaround: 40 * 0.33
                                                "customfield_104": {"value": "No"}}  # 48 h < 336 h
    assert lines["PAY-4"]["body"]["fields"]["customfield_103"] == 67.5  # S1, 999 users: 40 + 25 * 3/6 + 15
    assert captured.err == "sync: 3 update(s) printed (dry run)\n"
    assert main(["sync", "--warehouse", str(warehouse), "--policy", str(policy), "--all", "--service", "pay",
                 "--out", str(tmp_path / "sync.jsonl")]) == 0
    assert sorted(sync_lines((tmp_path / "sync.jsonl").read_text())) == ["PAY-1", "PAY-2", "PAY-4", "PAY-5"]


def test_sync_post_puts_each_update_with_retries_and_no_token_in_output(warehouse, tmp_path, monkeypatch, capsys,
                                                                        caplog):
    caplog.set_level(logging.DEBUG)
    policy = tmp_path / "policy.yml"
    policy.write_text("tracker:\n  auth_scheme: Basic\n  fields: {priority_score: customfield_103}\n")
    monkeypatch.setenv("JIRA_TOKEN", TOKEN)
    with LocalServer() as server:
        server.script("/rest/api/2/issue/PAY-1", Reply(502), Reply(204, ""))
        server.script("/rest/api/2/issue/PAY-4", Reply(404, '{"errorMessages": ["Issue does not exist"]}'))
        assert main(["sync", "--warehouse", str(warehouse), "--policy", str(policy), "--post", server.url]) == 1
    assert [(r.method, r.path, r.json()) for r in server.received] == [
        ("PUT", "/rest/api/2/issue/PAY-1", {"fields": {"customfield_103": 41.4}}),
        ("PUT", "/rest/api/2/issue/PAY-1", {"fields": {"customfield_103": 41.4}}),
        ("PUT", "/rest/api/2/issue/PAY-4", {"fields": {"customfield_103": 67.5}}),
        ("PUT", "/rest/api/2/issue/WEB-3", {"fields": {"customfield_103": 13.2}})]
    assert {r.headers["Authorization"] for r in server.received} == {f"Basic {TOKEN}"}
    captured = capsys.readouterr()
    assert captured.err.endswith("sync: 3 update(s) sent to " + server.url + ", 1 not delivered\n")
    assert "/rest/api/2/issue/PAY-4: HTTP 404 Not Found after 1 attempt(s)" in captured.err
    for text in (captured.out, captured.err, caplog.text):
        assert TOKEN not in text


def test_sync_without_mapped_fields_exits_2(warehouse, capsys):
    assert main(["sync", "--warehouse", str(warehouse)]) == 2
    assert capsys.readouterr().err.startswith("sync error: the policy maps no computed field to a Jira field")
