"""Planted secrets, addresses and name variants in every free-text column of the exports: none
reaches a mart, the audit or history tables, or a rendered report (one real build)."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.delivery.macros import render
from pipelines.pseudonyms import KEY_BYTES, KEY_ENV, PseudonymKeyError, ensure_key
from pipelines.warehouse import environment_variable
from tests.conftest import TINY, TINY_AS_OF

# Hand-written fakes, one per detector; each must vanish wherever it was planted.
PLANTED = {
    "ipv6_short": "2001:db8::8a2e:370:7334",
    "ipv6_link_local": "fe80::1",
    "github_pat": "github_pat_11AAAAAAA0abcdefghijklmnop_qrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghij",
    "ghp": "ghp_R4nd0mT0k3nV4lu3F0rT3st1ngOnly0000",
    "aws_secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzzzKEY",
    "basic_auth": "dXNlcjpodW50ZXIy",
    "pem_body": "MIIEowIBAAKCAQEAplantedkeybody",
    "slack_hook": "T0PLANTED/B0PLANTED/abcdefghijklmnopqrstuvwx",
    "openai": "sk-proj-Pl4nt3dK3yF0rM4sk1ngT3sts000",
    "google": "AIzaSyPl4nt3dK3yF0rM4sk1ngT3sts00000000",  # AIza and 35 characters
    "npm": "npm_Pl4nt3dT0k3nF0rM4sk1ngT3sts000000000",
    "url_password": "hunter2pass",
    "email": "olga.mensah@example.org",
    "ipv4": "192.0.2.77",
    "name": "Olga Mensah",
    "name_dotted": "olga.mensah",
    "name_reversed": "Mensah, Olga",
}
P = PLANTED
PEM = f"-----BEGIN RSA PRIVATE KEY-----\n{P['pem_body']}\n-----END RSA PRIVATE KEY-----"


def _csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return out.getvalue()


DESCRIPTION = (f"Login failed for {P['name_dotted']} from {P['ipv6_short']} "
               f"with Authorization: Basic {P['basic_auth']}")
MASKED_DESCRIPTION = "Login failed for [person] from [ip] with Authorization: Basic [secret]"
PLANTED_FILES = {
    "planted_defects.csv": _csv(
        ["defect_id", "title", "description", "severity", "status", "service", "environment", "created_at",
         "assignee", "reporter", "labels", "url", "rca_link", "stack_trace", "deferral_rationale"],
        [["P-1", f"Crash seen by {P['name_reversed']} on {P['ipv6_link_local']}", DESCRIPTION, "Major", "Open",
          "pay", "production", "2026-03-10T10:00:00Z", P["name"], "Kofi Boateng",
          f"team-a;{P['name_reversed']};{P['ghp']}",
          f"https://ci:{P['url_password']}@tracker.example.com/browse/P-1",
          f"https://wiki.example.com/rca?token={P['npm']}",
          f"{PEM}\naws_secret_access_key={P['aws_secret']}",
          f"Deferred: key {P['openai']} and {P['google']} rotate first"]],
    ),
    "planted_incidents.csv": _csv(
        ["incident_id", "title", "severity", "service", "detected_at", "postmortem_link"],
        [["PI-1", f"Outage reported by {P['email']} from {P['ipv4']}", "Sev2", "pay", "2026-03-11T10:00:00Z",
          f"https://hooks.slack.com/services/{P['slack_hook']}"]],
    ),
    "planted_releases.csv": _csv(
        ["service", "release", "rca_link"],
        [["pay", "9.0", f"https://wiki.example.com/{P['name_dotted']}/{P['github_pat']}"]],
    ),
    "planted_commits.csv": _csv(
        ["sha", "branch", "committed_at", "author", "message"],
        [["abc1234", "main", "2026-03-09T10:00:00Z", P["name"], f"Fix P-1, thanks {P['name_reversed']}"]],
    ),
    "planted_junit.xml": (
        '<?xml version="1.0"?><testsuites><testsuite name="suite of olga.mensah" tests="1" '
        'timestamp="2026-03-12T10:00:00"><testcase classname="tests.olga.mensah" '
        f'name="Olga Mensah can log in from {P["ipv6_link_local"]}" time="0.1">'
        f'<failure message="token {P["ghp"]} expired">at login ({P["ipv4"]})</failure>'
        "</testcase></testsuite></testsuites>"
    ),
}


@pytest.fixture(scope="module")
def planted_build(tmp_path_factory):
    from pipelines.cli import run_build

    out = tmp_path_factory.mktemp("planted")
    exports = out / "exports"
    shutil.copytree(TINY, exports)
    for name, text in PLANTED_FILES.items():
        (exports / name).write_text(text, encoding="utf-8")
    key = out / "installation" / "pseudonym.key"
    with environment_variable(KEY_ENV, str(key)):
        result = run_build(exports=exports, warehouse=out / "w.duckdb", reports=out / "reports", policy=None,
                           as_of_text=TINY_AS_OF)
    return result, key


def _text_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_schema in ('marts', 'audit', 'history') and data_type = 'VARCHAR' order by all"
    ).fetchall()


@pytest.mark.slow
def test_no_planted_value_reaches_any_text_column_or_report(planted_build):
    result, key = planted_build
    needles = [*PLANTED.values(), key.read_bytes().hex()]
    leaks = []
    with duckdb.connect(str(result.warehouse), read_only=True) as con:
        columns = _text_columns(con)
        assert len(columns) > 100  # the scan sees the whole warehouse, not an empty one
        for schema, table, column in columns:
            # identifiers from information_schema, quoted; the needles are bound
            found = con.execute(
                f'select distinct u.needle from "{schema}"."{table}", unnest(?::varchar[]) as u(needle) '
                f'where contains(lower("{column}"), lower(u.needle))', [needles],
            ).fetchall()
            leaks += [(f"{schema}.{table}.{column}", needle) for (needle,) in found]
    pages = list(Path(result.reports[0]).parent.glob("*.html"))
    assert len(pages) >= 2
    leaks += [(page.name, needle) for page in pages for needle in needles
              if needle.lower() in page.read_text(encoding="utf-8").lower()]
    assert leaks == []


@pytest.mark.slow
def test_every_free_text_column_is_masked_to_the_hand_computed_value(planted_build):
    result, _ = planted_build
    with duckdb.connect(str(result.warehouse), read_only=True) as con:
        defect = con.execute(
            "select title, description, labels, url, rca_link, stack_trace, deferral_rationale "
            "from marts.fct_defects where defect_id = 'P-1'").fetchone()
        incident = con.execute("select title, postmortem_link from marts.fct_incidents where incident_id = 'PI-1'"
                               ).fetchone()
        test = con.execute("select suite, classname, name, message from marts.fct_test_cases "
                           "where source_file like '%planted_junit.xml'").fetchone()
    assert defect == (
        "Crash seen by [person] on [ip]",
        MASKED_DESCRIPTION,
        "team-a;[person];[secret]",
        "https://[secret]@tracker.example.com/browse/P-1",
        "https://wiki.example.com/rca?token=[secret]",
        "[secret]\naws_secret_access_key=[secret]",
        "Deferred: key [secret] and [secret] rotate first",
    )
    assert incident == ("Outage reported by [email] from [ip]", "[secret]")
    assert test == ("suite of [person]", "tests.[person]", "[person] can log in from [ip]", "token [secret] expired")


@pytest.mark.slow
def test_person_key_is_the_hmac_of_the_name_under_the_installation_key(planted_build):
    result, key = planted_build
    secret = key.read_bytes()
    assert len(secret) == KEY_BYTES and key.stat().st_mode & 0o777 == 0o600
    expected = "person-" + hmac.new(secret, b"olga mensah", hashlib.sha256).hexdigest()[:10]
    unsalted = "person-" + hashlib.md5(b"olga mensah").hexdigest()[:10]
    with duckdb.connect(str(result.warehouse), read_only=True) as con:
        (assignee,) = con.execute("select assignee_key from marts.fct_defects where defect_id = 'P-1'").fetchone()
    assert (assignee, assignee == unsalted) == (expected, False)


# --- the detectors one by one, without a build ---------------------------------------------------------------

MASKED = [
    ("host 2001:db8::8a2e:370:7334 down", "host [ip] down"),
    ("link-local fe80::1%eth0 up", "link-local [ip] up"),
    ("loopback ::1 only", "loopback [ip] only"),
    ("full 2001:0db8:85a3:0000:0000:8a2e:0370:7334", "full [ip]"),
    ("mapped ::ffff:192.0.2.1 here", "mapped [ip] here"),
    ("prefix 2001:db8:: routed", "prefix [ip] routed"),
    ("at Foo::bar in std::vector, 10:30:45, MAC 00:1a:2b:3c:4d:5e", "at Foo::bar in std::vector, 10:30:45, MAC 00:1a:2b:3c:4d:5e"),
    ("Authorization: Bearer abc.def.ghi", "Authorization: Bearer [secret]"),
    ("client_secret: s3cr3t, next", "client_secret: [secret], next"),
    ("xoxb-1234567890-abcdefghij posted", "[secret] posted"),
    ("AWS AKIAIOSFODNN7EXAMPLE", "AWS [secret]"),
    ("hook https://discord.com/api/webhooks/123/abcDEF_ghi done", "hook [secret] done"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk (truncated", "[secret]"),
]


@pytest.mark.parametrize("text, masked", MASKED, ids=[m[0][:24] for m in MASKED])
def test_mask_text_detector(text, masked):
    sql = render("select {{ mask_text('t') }} from (select ? as t)")
    assert duckdb.connect().execute(sql, [text]).fetchone()[0] == masked


def test_a_key_file_of_the_wrong_size_is_refused_not_replaced(tmp_path, monkeypatch):
    key = tmp_path / "pseudonym.key"
    monkeypatch.setenv(KEY_ENV, str(key))
    assert ensure_key() == key and len(key.read_bytes()) == KEY_BYTES
    first = key.read_bytes()
    assert ensure_key() == key and key.read_bytes() == first  # created once, then kept
    key.write_bytes(b"short")
    with pytest.raises(PseudonymKeyError, match="holds 5 bytes, not 64"):
        ensure_key()
    assert key.read_bytes() == b"short"
