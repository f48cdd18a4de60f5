"""Jira adapters (REST JSON, CSV export, duplicate-pair CSV) and the Jira vendor writer.

Expected values were read from the sample files (see ../shared/samples/README.md);
person names are compared with the value read from the file, never spelled out.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipelines.defs.ingest.adapters import duplicate_links_csv, jira_csv, jira_json
from pipelines.defs.ingest.adapters.base import ParseContext
from pipelines.policy import load_policy
from pipelines.synthetic import generate
from pipelines.synthetic.formats import jira as jira_writer
from tests.conftest import SAMPLES

JIRA = SAMPLES / "jira"
POLICY = load_policy()


def _parse(adapter, path: Path, doc=None):
    if doc is None:
        text = path.read_text(encoding="utf-8")
        doc = json.loads(text) if adapter.KIND == "json" else text
    ctx = ParseContext(path=path, policy=POLICY, mapping=POLICY.source(adapter.SOURCE), content_sha256="")
    return adapter.parse(doc, ctx)


def _by_key(rows: list[dict], key: str = "defect_id") -> dict[str, dict]:
    return {row[key]: row for row in rows}


# --------------------------------------------------------------------------- jira json: changelog sample


@pytest.fixture(scope="module")
def changelog_sample():
    path = JIRA / "jira_search_changelog.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    return raw, _parse(jira_json, path, raw)


def test_search_response_is_recognised_and_others_are_not():
    assert jira_json.matches(json.loads((JIRA / "jira_search_changelog.json").read_text(encoding="utf-8")))
    assert jira_json.matches(json.loads((JIRA / "jira_issue_links.json").read_text(encoding="utf-8"))["issues"])
    assert not jira_json.matches(json.loads((SAMPLES / "github" / "issues.json").read_text(encoding="utf-8")))
    assert not jira_json.matches(json.loads((SAMPLES / "pagerduty" / "incidents.json").read_text(encoding="utf-8")))
    assert jira_json.matches({"startAt": 0, "maxResults": 50, "total": 0, "issues": []})
    assert not jira_json.matches({"issues": []})


def test_one_defect_per_issue_with_raw_values(changelog_sample):
    raw, parsed = changelog_sample
    defects = parsed.tables["defects"]
    assert len(defects) == 33
    assert [d["defect_id"] for d in defects][:3] == ["EE-1", "EE-2", "EE-3"]
    assert defects[-1]["defect_id"] == "K5-4"
    ee1 = _by_key(defects)["EE-1"]
    assert ee1["title"].endswith("四个排序图：测试/注释覆盖度、复用度、模块性")
    assert ee1["status"] == "已完成"
    assert ee1["status_category"] == "new"  # EE-1's own status object says so
    assert ee1["resolution"] == "完成"
    assert ee1["type"] == "故事"
    assert ee1["severity"] == "Medium"  # no Severity field: priority
    assert ee1["service"] == "EE"  # no Service field: project key
    assert ee1["labels"] == "frontEnd;Saas"
    assert ee1["fixed_in_release"] == "v2.7.0"
    assert ee1["found_in_release"] is None and ee1["description"] is None and ee1["environment"] is None
    assert ee1["created_at"] == "2020-06-12T08:13:13.360+08:00"
    assert ee1["resolved_at"] == "2020-06-19T14:31:18.495+08:00"
    assert ee1["source_updated_at"] == "2021-03-28T16:06:08.713+08:00"
    assert ee1["url"] == "https://merico.atlassian.net/browse/EE-1"
    assert ee1["assignee"] == raw["issues"][0]["fields"]["assignee"]["displayName"]
    assert ee1["reporter"] == raw["issues"][0]["fields"]["reporter"]["displayName"]
    k52 = _by_key(defects)["K5-2"]
    assert (k52["service"], k52["status"], k52["resolution"], k52["resolved_at"]) == ("K5", "To Do", None, None)
    assert sum(d["resolution"] == "Won't Do" for d in defects) == 5
    assert parsed.notes == []


def test_status_history_from_changelog_in_time_order(changelog_sample):
    raw, parsed = changelog_sample
    history = parsed.tables["defect_status_history"]
    assert len(history) == 165  # of 714 changelog items, 165 are status changes
    ee1 = [(h["changed_at"], h["from_status"], h["to_status"]) for h in history if h["defect_id"] == "EE-1"]
    assert ee1 == [  # the file lists them newest first
        ("2020-06-12T09:45:24.493+08:00", "Inbox", "Ready for Dev"),
        ("2020-06-12T11:38:39.785+08:00", "Ready for Dev", "In Development"),
        ("2020-06-12T14:22:49.352+08:00", "In Progress", "Open"),
        ("2020-06-19T14:31:18.526+08:00", "Open", "Closed"),
        ("2021-03-28T16:06:08.715+08:00", "Closed", "已完成"),
    ]
    author = raw["issues"][0]["changelog"]["histories"][1]["author"]["displayName"]
    assert {h["actor"] for h in history if h["defect_id"] == "EE-1"} == {author}
    for key in {h["defect_id"] for h in history}:
        times = [pd.Timestamp(h["changed_at"]) for h in history if h["defect_id"] == key]
        assert times == sorted(times)


def test_status_categories_come_from_status_objects_in_the_file(changelog_sample):
    _, parsed = changelog_sample
    category = {}
    for h in parsed.tables["defect_status_history"]:
        category[h["to_status"]] = h["to_status_category"]
        category[h["from_status"]] = h["from_status_category"]
    # 已完成 appears 69 times as done and 10 times as new: the majority wins.
    assert category["已完成"] == "done"
    assert category["To Do"] == "new"
    # No issue, subtask or parent currently has these: unknown.
    assert category["Closed"] is None and category["Open"] is None and category["Inbox"] is None


# --------------------------------------------------------------------------- jira json: links sample


@pytest.fixture(scope="module")
def links_sample():
    return _parse(jira_json, JIRA / "jira_issue_links.json")


def test_duplicate_of_only_where_this_issue_duplicates_the_other(links_sample):
    defects = links_sample.tables["defects"]
    assert len(defects) == 22
    duplicates = {d["defect_id"]: d["duplicate_of"] for d in defects if d["duplicate_of"]}
    # -11 "duplicates" -5 (outward) and "is duplicated by" IP8CUD168-35305 (inward: not its original);
    # -5 "is duplicated by" -11; -14 "duplicates" an issue outside the result set.
    assert duplicates == {"DZFNK0168-11": "DZFNK0168-5", "DZFNK0168-14": "IP8CUD168-35288"}
    first = _by_key(defects)["DZFNK0168-1"]
    assert first["url"] == "http://3.81.151.94:8080/browse/DZFNK0168-1"
    assert first["created_at"] == "2023-05-29T03:57:06.000+00:00"
    assert (first["type"], first["status"], first["status_category"]) == ("Bug", "To Do", "new")
    assert first["service"] == "DZFNK0168"
    assert links_sample.tables["defect_status_history"] == []  # its changelogs hold only link changes


def test_every_issue_link_phrased_from_its_own_side(links_sample):
    links = links_sample.tables["defect_links"]
    assert len(links) == 16
    as_tuples = {(link["defect_id"], link["linked_defect_id"], link["link_type"]) for link in links}
    assert {
        ("DZFNK0168-1", "DZFNK0168-5", "is blocked by"),
        ("DZFNK0168-5", "DZFNK0168-1", "blocks"),
        ("DZFNK0168-5", "DZFNK0168-11", "is duplicated by"),
        ("DZFNK0168-11", "DZFNK0168-5", "duplicates"),
        ("DZFNK0168-4", "DZFNK0168-11", "clones"),
        ("DZFNK0168-19", "DZFNK0168-21", "relates to"),
        ("DZFNK0168-20", "IP8CUD168-35406", "is blocked by"),
    } <= as_tuples
    keys = {d["defect_id"] for d in links_sample.tables["defects"]}
    assert sum(link["linked_defect_id"] not in keys for link in links) == 6  # kept


def test_names_map_display_names_and_v3_rich_text():
    response = {
        "startAt": 0, "maxResults": 1, "total": 1,
        "names": {"customfield_10200": "Service", "customfield_10201": "Users affected"},
        "issues": [{
            "key": "PAY-1", "self": "https://jira.example.com/jira/rest/api/3/issue/1",
            "fields": {
                "summary": "Refund fails", "customfield_10200": {"value": "payments-api"},
                "customfield_10201": 12.0, "priority": {"name": "High"},
                "description": {"type": "doc", "version": 1, "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": "Line one"}]},
                    {"type": "paragraph", "content": [{"type": "text", "text": "Line two"}]},
                ]},
                "assignee": {"name": "jdoe", "displayName": "J. Doe"},
                "labels": ["env:prod", "segment:canary"],
                "created": "2024-01-02T03:04:05.000-0500",
            },
        }],
    }
    (defect,) = _parse(jira_json, Path("x.json"), response).tables["defects"]
    assert defect["service"] == "payments-api"
    assert defect["users_affected"] == "12"
    assert defect["description"] == "Line one\nLine two"
    assert defect["assignee"] == "J. Doe"
    assert (defect["environment"], defect["segment"]) == ("prod", "canary")
    assert defect["created_at"] == "2024-01-02T03:04:05.000-05:00"
    assert defect["url"] == "https://jira.example.com/jira/browse/PAY-1"


def test_notes_for_a_partial_page_without_changelog():
    page = {"startAt": 0, "maxResults": 1, "total": 3, "issues": [{"key": "A-1", "fields": {"summary": "x"}}]}
    notes = _parse(jira_json, Path("x.json"), page).notes
    assert any("1-1 of 3" in note for note in notes)
    assert any("expand=changelog" in note for note in notes)


# --------------------------------------------------------------------------- jira csv


@pytest.fixture(scope="module")
def hadoop():
    return _parse(jira_csv, JIRA / "hadoop_bugs.csv")


def test_jira_csv_is_recognised_by_its_header():
    assert jira_csv.matches((JIRA / "hadoop_bugs.csv").read_text(encoding="utf-8"))
    assert not jira_csv.matches((JIRA / "hadoop_duplicates.csv").read_text(encoding="utf-8"))
    assert not jira_csv.matches("defect_id,title,created_at\nD1,x,2026-01-01\n")


def test_hadoop_export_rows_and_values(hadoop):
    rows = hadoop.tables["defects"]
    assert len(rows) == 2503
    first = rows[0]
    assert first["defect_id"] == "13404344"  # no Issue key column: the Issue id
    assert first["title"] == "JAR in conflict with timestamp check causes AM errors"
    assert (first["status"], first["severity"], first["resolution"]) == ("Resolved", "Blocker", "Duplicate")
    assert first["created_at"] == "2021-09-30T17:20:00"
    assert first["resolved_at"] == "2022-07-20T20:51:00"
    assert first["found_in_release"] == "2.9.2"
    assert first["description"].startswith("After an init action pulls down a new JAR")
    assert "\n" in first["description"]  # multi-line quoted cell
    open_issue = _by_key(rows)["13401382"]
    assert (open_issue["status"], open_issue["severity"]) == ("Open", "Critical")
    assert open_issue["resolution"] is None and open_issue["resolved_at"] is None
    assert open_issue["created_at"] == "2021-09-15T12:43:00"
    assert {r["severity"] for r in rows} == {"Blocker", "Critical", "Major", "Minor", "Trivial"}
    assert sum(r["resolved_at"] is None for r in rows) == 770
    assert sum(r["resolution"] == "Duplicate" for r in rows) == 151
    assert any("service" in note for note in hadoop.notes)  # the export has no project column


def test_repeated_columns_and_date_variants():
    text = (
        "Summary,Issue key,Issue id,Issue Type,Status,Priority,Labels,Labels,Labels,Component/s,Component/s,"
        "Created,Resolved,Updated,Outward issue link (Duplicate),Project key\r\n"
        'Crash on save,PAY-7,1007,Bug,Done,P2,,backend,env:prod,ledger,invoice,'
        '30/Sep/2021 5:20 PM,01/Oct/21 9:05 AM,02/Oct/21 00:00,PAY-3,PAY\r\n'
        '"Two\r\nlines",PAY-8,1008,Bug,Open,P3,,,,,,07/Jan/22 08:00,,,,PAY\r\n'
    )
    assert jira_csv.matches(text)
    first, second = _parse(jira_csv, Path("x.csv"), text).tables["defects"]
    assert first["defect_id"] == "PAY-7"  # the key wins over the id
    assert first["labels"] == "backend;env:prod"
    assert first["environment"] == "prod"
    assert first["component"] == "ledger"
    assert first["created_at"] == "2021-09-30T17:20:00"
    assert first["resolved_at"] == "2021-10-01T09:05:00"
    assert first["source_updated_at"] == "2021-10-02T00:00:00"
    assert first["duplicate_of"] == "PAY-3"
    assert first["service"] == "PAY"
    assert second["title"] == "Two\r\nlines"
    assert second["labels"] is None and second["resolved_at"] is None


# --------------------------------------------------------------------------- duplicate pairs csv


def test_duplicate_pairs_become_links():
    path = JIRA / "hadoop_duplicates.csv"
    assert duplicate_links_csv.matches(path.read_text(encoding="utf-8"))
    assert not duplicate_links_csv.matches((JIRA / "hadoop_bugs.csv").read_text(encoding="utf-8"))
    parsed = _parse(duplicate_links_csv, path)
    links = parsed.tables["defect_links"]
    assert len(links) == 127  # 126 rows, one cell holds two ids
    assert links[0] == {"defect_id": "13478452", "linked_defect_id": "13478269", "link_type": "duplicates"}
    two = [link["defect_id"] for link in links if link["linked_defect_id"] == "13438913"]
    assert two == ["13547000", "13396667"]
    assert parsed.notes == ["127 duplicate links from 126 rows"]


# --------------------------------------------------------------------------- vendor writer round trip


@pytest.fixture(scope="module")
def canonical(tmp_path_factory):
    out = tmp_path_factory.mktemp("canonical")
    generate(out, scale=1, seed=42)
    read = lambda name: pd.read_csv(out / name, dtype=str, keep_default_na=False)  # noqa: E731
    return {"defects": read("defects.csv"), "defect_status_history": read("defect_status_history.csv")}


def _instants(values: pd.Series) -> list:
    """UTC instants; text without an offset is the generator's UTC wall time."""
    parsed = pd.to_datetime(values.replace("", None), format="ISO8601", utc=True)
    return [None if pd.isna(v) else v for v in parsed]


def test_writer_round_trip_gives_back_every_canonical_value(canonical, tmp_path):
    counts = jira_writer.write(canonical, tmp_path)
    defects, history = canonical["defects"], canonical["defect_status_history"]
    assert counts == {"jira/issues.json": len(defects)}
    path = tmp_path / "jira" / "issues.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert jira_json.matches(doc)
    parsed = _parse(jira_json, path, doc)

    got = pd.DataFrame(parsed.tables["defects"]).fillna("")
    assert len(got) == len(defects)
    for column in defects.columns:
        if column in ("created_at", "resolved_at"):
            assert _instants(got[column]) == _instants(defects[column]), column
        elif column == "has_workaround":  # a Yes/No select in Jira
            assert got[column].tolist() == defects[column].map({"true": "Yes", "false": "No", "": ""}).tolist()
        else:
            assert got[column].tolist() == defects[column].tolist(), column

    got_history = pd.DataFrame(parsed.tables["defect_status_history"]).fillna("")
    columns = ["defect_id", "from_status", "to_status", "actor"]
    assert got_history[columns].values.tolist() == history[columns].values.tolist()
    assert _instants(got_history["changed_at"]) == _instants(history["changed_at"])

    n_duplicates = int((defects["duplicate_of"] != "").sum())
    assert len(parsed.tables["defect_links"]) == 2 * n_duplicates  # both sides of each link
    assert parsed.notes == []


def test_writer_keeps_offsets_in_jira_form_and_lists_history_newest_first(canonical, tmp_path):
    jira_writer.write(canonical, tmp_path)
    doc = json.loads((tmp_path / "jira" / "issues.json").read_text(encoding="utf-8"))
    defects = canonical["defects"]
    with_offset = defects[defects["created_at"].str.contains(r"[+-]\d\d:\d\d$")].iloc[0]
    issue = next(i for i in doc["issues"] if i["key"] == with_offset["defect_id"])
    created = with_offset["created_at"]  # e.g. 2026-01-15T07:39:07+01:00 -> 2026-01-15T07:39:07.000+0100
    assert issue["fields"]["created"] == created[:19] + ".000" + created[19:].replace(":", "")
    for issue in doc["issues"]:
        created = [pd.Timestamp(h["created"]) for h in issue["changelog"]["histories"]]
        assert created == sorted(created, reverse=True)
    assert doc["names"]["customfield_10100"] == "Service"


def test_writer_is_deterministic(canonical, tmp_path):
    jira_writer.write(canonical, tmp_path / "a")
    jira_writer.write(canonical, tmp_path / "b")
    written = [(tmp_path / run / "jira" / "issues.json").read_bytes() for run in ("a", "b")]
    assert written[0] == written[1]



def test_writer_pages_a_large_search_like_the_api(canonical, tmp_path):
    one = jira_writer.write(canonical, tmp_path / "one")
    total = len(canonical["defects"])
    counts = jira_writer.write(canonical, tmp_path / "paged", page_size=total // 2 + 1)  # two pages

    assert one == {"jira/issues.json": total}
    assert counts == {"jira/issues-0001.json": total // 2 + 1, "jira/issues-0002.json": total - total // 2 - 1}
    pages = [json.loads((tmp_path / "paged" / name).read_text(encoding="utf-8")) for name in counts]
    assert [(p["startAt"], p["maxResults"], p["total"]) for p in pages] == [
        (0, total // 2 + 1, total), (total // 2 + 1, total - total // 2 - 1, total)]
    whole = json.loads((tmp_path / "one" / "jira" / "issues.json").read_text(encoding="utf-8"))
    assert [i for p in pages for i in p["issues"]] == whole["issues"]  # links and ids as in one page


def test_writer_with_a_subset_of_columns_and_no_history(tmp_path):
    tiny = Path(__file__).resolve().parent / "fixtures" / "tiny" / "defects.csv"
    defects = pd.read_csv(tiny, dtype=str, keep_default_na=False)  # a subset of the columns, no url
    jira_writer.write({"defects": defects}, tmp_path)
    path = tmp_path / "jira" / "issues.json"
    parsed = _parse(jira_json, path)
    assert [d["defect_id"] for d in parsed.tables["defects"]] == defects["defect_id"].tolist()
    assert parsed.tables["defect_status_history"] == []
    d5 = _by_key(parsed.tables["defects"])["D5"]
    assert (d5["duplicate_of"], d5["url"]) == ("D3", "https://jira.example.com/browse/D5")
