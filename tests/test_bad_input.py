"""The bad-input corpus (docs/contract.md, "Bad input"), generated here, loaded with `load_exports`.

Every case is loaded beside a good `defects.csv`: whatever the bad file does,
the good one still loads completely, the bad file is reported by its path
(a rejected file) or by row number (a quarantined row), and the invariant
rows read = rows loaded + rows quarantined holds for every file.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import random
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.defs.ingest.assets import invariant_failures
from pipelines.defs.ingest.canonical import ENTITIES
from pipelines.defs.ingest.loader import load_exports
from pipelines.defs.ingest.report import LoadSummary
from pipelines.policy import load_policy
from pipelines.warehouse import connect

AS_OF = datetime(2026, 3, 31, tzinfo=UTC)
T = "2026-03-01T10:00:00Z"  # a well-formed timestamp with an offset


def csv_bytes(*lines: str, encoding: str = "utf-8") -> bytes:
    return ("\n".join(lines) + "\n").encode(encoding)


GOOD = csv_bytes(
    "defect_id,title,severity,created_at,resolved_at",
    f"GOOD-1,Checkout total wrong,S2,{T},2026-03-02T10:00:00Z",
    f"GOOD-2,Refund button missing,S3,{T},",
    "GOOD-3,Login times out,S1,2026-03-03T08:00:00+01:00,",
)
GOOD_IDS = ["GOOD-1", "GOOD-2", "GOOD-3"]

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<testsuite name="bomb" tests="1"><testcase classname="x" name="&lol9;"/></testsuite>
"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE testsuite [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<testsuite name="xxe" tests="1">
  <testcase classname="leak" name="&xxe;"><failure message="&xxe;">&xxe;</failure></testcase>
</testsuite>
"""


def _garbage() -> bytes:
    rng = random.Random(20260301)
    body = bytearray(rng.randbytes(4096))
    body[100:108] = b"\x00" * 8  # NULs for certain, whatever the seed gives
    return b"PK\x03\x04" + bytes(body)  # starts like a zip/xlsx, not with a byte-order mark


LATIN1 = csv_bytes("defect_id,title,created_at", f"L-1,Café crash à l'ouverture,{T}", encoding="latin-1")
LATIN1_E_ACUTE = LATIN1.index("é".encode("latin-1"))

# name -> content: the whole corpus (row-level cases use their own files below as well).
bad_inputs: dict[str, bytes] = {
    "empty.csv": b"",
    "truncated.json": b'[{"number": 1, "title": "Crash on start", "state": "open", "labels": [',
    "latin1_defects.csv": LATIN1,
    "bom_defects.csv": codecs.BOM_UTF8 + csv_bytes("defect_id,title,created_at", f"BOM-1,Café crash,{T}"),
    "utf16_defects.csv": csv_bytes(
        "defect_id,title,created_at", f"U16-1,Café crash ü,{T}", "U16-2,Ошибка оплаты,2026-03-01T10:00:00",
        encoding="utf-16",
    ),
    "missing_title_defects.csv": csv_bytes("defect_id,created_at", f"MT-1,{T}", f"MT-2,{T}"),
    "empty_title_defects.csv": csv_bytes("defect_id,title,created_at", f"ET-1,fine,{T}", f"ET-2,  ,{T}"),
    "extra_columns_defects.csv": csv_bytes(
        "defect_id,title,created_at,Story Points,internal_note", f"X-1,Extra columns,{T},3,ignore me"
    ),
    "multiline_defects.csv": csv_bytes(
        "defect_id,title,description,created_at",
        f'ML-1,"Totals, rounded ""wrong""","first line\nsecond line\r\nthird line",{T}',
        f"ML-2,after the multi-line cell,,{T}",
    ),
    "naive_defects.csv": csv_bytes(
        "defect_id,title,created_at,resolved_at",
        "N-1,naive created,2026-03-01T10:00:00,",
        "N-2,naive both,2026-03-01 10:00:00,2026-03-02T11:30:00",
        "N-3,date only,2026-03-05,",
        f"N-4,with offset,{T},",
    ),
    "range_defects.csv": csv_bytes(
        "defect_id,title,created_at,resolved_at",
        "R-1,too early,1989-12-31T23:59:59Z,",
        "R-2,first instant allowed,1990-01-01T00:00:00Z,",
        "R-3,last second allowed,2100-12-31T23:59:59Z,",
        "R-4,too late,2101-01-01T00:00:00Z,",
        f"R-5,resolved too late,{T},2150-06-01T00:00:00Z",
        "R-6,early by offset,1990-01-01T00:30:00+01:00,",
    ),
    "order_defects.csv": csv_bytes(
        "defect_id,title,created_at,resolved_at",
        "O-1,resolved before created,2026-03-02T10:00:00Z,2026-03-01T10:00:00Z",
        "O-2,resolved the same instant,2026-03-02T10:00:00Z,2026-03-02T11:00:00+01:00",
        "O-3,resolved an hour before by offset,2026-03-02T10:00:00Z,2026-03-02T10:30:00+01:00",
    ),
    "rules_defects.csv": csv_bytes(
        "defect_id,title,created_at,users_affected,has_workaround",
        "RU-1,not a date,2026-02-30T10:00:00Z,,",
        f"RU-2,negative users,{T},-3,",
        f"RU-3,not a number,{T},many,",
        f"RU-4,not a bool,{T},,perhaps",
        f"RU-5,all fine,{T},12,yes",
    ),
    "bounds_defects.csv": csv_bytes(
        "defect_id,title,created_at,users_affected",
        f"B-1,largest bigint,{T},9223372036854775807",
        f"B-2,one above the bound,{T},1000000001",
        f"B-3,at the bound,{T},1000000000",
    ),
    "license-server_defects.csv": csv_bytes("defect_id,title,created_at", f"LS-1,an export named license-,{T}"),
    "dup_defects.csv": csv_bytes(
        "defect_id,title,created_at",
        f"DUP-1,first,{T}",
        f"DUP-2,other,{T}",
        f"DUP-1,second copy,{T}",
        f"DUP-1,third copy,{T}",
        f"DUP-9,,{T}",
        f"DUP-9,valid after a bad one,{T}",
    ),
    "across_a_defects.csv": csv_bytes("defect_id,title,created_at", f"ACROSS-1,from file a,{T}"),
    "across_b_defects.csv": csv_bytes("defect_id,title,created_at", "ACROSS-1,from file b,2026-03-04T10:00:00Z"),
    "bomb.xml": BILLION_LAUGHS,
    "xxe.xml": XXE,
    "garbage.bin": _garbage(),
    "unknown.json": json.dumps({"kind": "weekly export", "items": [{"a": 1}]}).encode(),
}


@dataclass
class Loaded:
    summary: LoadSummary
    con: object
    folder: Path

    def path(self, name: str) -> str:
        return str(self.folder / name)

    def reports(self, name: str) -> list[dict]:
        cur = self.con.execute(
            "select * exclude (content_sha256) from raw.load_report where source_file = ? order by entity",
            [self.path(name)],
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row)) for row in cur.fetchall()]

    def report(self, name: str) -> dict:
        rows = self.reports(name)
        assert len(rows) == 1, rows
        return rows[0]

    def quarantine(self, name: str) -> list[tuple[int, str, dict]]:
        rows = self.con.execute(
            "select row_number, reason, raw_record from raw.quarantine where source_file = ? order by row_number",
            [self.path(name)],
        ).fetchall()
        return [(n, reason, json.loads(record)) for n, reason, record in rows]

    def defects(self, name: str, columns: str = "defect_id") -> list[tuple]:
        return self.con.execute(
            # `columns`: column names written in these tests; the file is bound
            f"select {columns} from raw.defects where source_file = ? order by source_row", [self.path(name)]
        ).fetchall()

    def defect_ids(self, name: str) -> list[str]:
        return [row[0] for row in self.defects(name)]

    def assert_nothing_else_lost(self) -> None:
        """The good file loaded completely and the per-file invariant holds for every file."""
        good = self.report("defects.csv")
        assert (good["status"], good["rows_read"], good["rows_loaded"], good["rows_quarantined"]) == (
            "loaded", 3, 3, 0)
        assert self.defect_ids("defects.csv") == GOOD_IDS
        assert self.quarantine("defects.csv") == []
        assert invariant_failures(self.con) == []
        # every file of the folder is reported, once per entity it produced
        reported = {row[0] for row in self.con.execute("select source_file from raw.load_report").fetchall()}
        assert reported == {str(p) for p in self.folder.iterdir()}


@pytest.fixture
def ingest(tmp_path):
    """Write `files` (name -> bytes) beside a good defects.csv and load the folder into a fresh warehouse."""
    stack = contextlib.ExitStack()
    count = 0

    def run(files: dict[str, bytes], policy=None) -> Loaded:
        nonlocal count
        count += 1
        folder = tmp_path / f"exports{count}"
        folder.mkdir()
        (folder / "defects.csv").write_bytes(GOOD)
        for name, content in files.items():
            (folder / name).write_bytes(content)
        con = stack.enter_context(connect(tmp_path / f"w{count}.duckdb"))
        summary = load_exports(con, folder, policy or load_policy(), AS_OF)
        return Loaded(summary, con, folder)

    with stack:
        yield run


def one(name: str) -> dict[str, bytes]:
    return {name: bad_inputs[name]}


# --- files that cannot be read: rejected by path with the reason -------------------------------------------

REJECTED = [
    ("empty.csv", "unknown", "empty file (0 bytes)"),
    ("truncated.json", "json", "invalid JSON at line 1 column"),
    ("latin1_defects.csv", "unknown",
     f"not valid UTF-8 text: byte 0xe9 at offset {LATIN1_E_ACUTE} (line 2); it looks like Latin-1"),
    ("bomb.xml", "xml", "refused: the XML declares entities or external references"),
    ("xxe.xml", "xml", "refused: the XML declares entities or external references"),
    ("garbage.bin", "unknown", "binary data, not a text export (NUL bytes"),
    ("unknown.json", "json", "unknown JSON format (an object with keys items, kind)"),
]


@pytest.mark.parametrize("name, fmt, message", REJECTED, ids=[r[0] for r in REJECTED])
def test_unreadable_file_is_rejected_by_path_with_the_reason(ingest, name, fmt, message):
    loaded = ingest(one(name))
    report = loaded.report(name)
    assert report["source_file"] == loaded.path(name)
    assert (report["status"], report["format"], report["entity"]) == ("rejected", fmt, None)
    assert message in report["message"]
    assert (report["rows_read"], report["rows_loaded"], report["rows_quarantined"]) == (0, 0, 0)
    assert [f.source_file for f in loaded.summary.rejected_files] == [loaded.path(name)]
    assert loaded.quarantine(name) == []
    loaded.assert_nothing_else_lost()


def test_truncated_json_says_so(ingest):
    report = ingest(one("truncated.json")).report("truncated.json")
    assert report["message"].endswith("(the file is truncated)")


def test_entity_payloads_are_refused_and_never_expanded(ingest):
    loaded = ingest({"bomb.xml": BILLION_LAUGHS, "xxe.xml": XXE})
    for name in ("bomb.xml", "xxe.xml"):
        message = loaded.report(name)["message"]
        assert "entities" in message and "XML bomb" in message
    assert loaded.con.execute("select count(*) from raw.test_cases").fetchone()[0] == 0
    # nothing of /etc/passwd (nor the expanded bomb) reached any raw table
    secret = Path("/etc/passwd").read_text().splitlines()[0]  # e.g. root:x:0:0:root:/root:/bin/bash
    tables = [row[0] for row in loaded.con.execute(
        "select table_name from information_schema.tables where table_schema = 'raw'").fetchall()]
    for table in tables:  # names from the warehouse's own catalog, not from input
        text = "|".join(map(str, loaded.con.table("raw." + table).fetchall()))
        assert secret not in text and "root:x:0:0" not in text and "lollollol" not in text, table
    loaded.assert_nothing_else_lost()


# --- encodings -------------------------------------------------------------------------------------------------

def test_utf8_bom_canonical_csv_loads(ingest):
    loaded = ingest(one("bom_defects.csv"))
    report = loaded.report("bom_defects.csv")
    assert (report["status"], report["format"], report["entity"]) == ("loaded", "canonical csv", "defects")
    assert (report["rows_read"], report["rows_loaded"], report["rows_quarantined"]) == (1, 1, 0)
    # the BOM is not part of the first column's name: defect_id was found and read
    assert loaded.defects("bom_defects.csv", "defect_id, title, created_at") == [
        ("BOM-1", "Café crash", datetime(2026, 3, 1, 10, tzinfo=UTC))]
    loaded.assert_nothing_else_lost()


def test_utf16_canonical_csv_loads(ingest):
    loaded = ingest(one("utf16_defects.csv"))
    report = loaded.report("utf16_defects.csv")
    assert (report["status"], report["format"], report["entity"]) == ("loaded", "canonical csv", "defects")
    assert (report["rows_read"], report["rows_loaded"], report["rows_quarantined"], report["naive_timestamps"]) == (
        2, 2, 0, 1)
    assert loaded.defects("utf16_defects.csv", "defect_id, title") == [
        ("U16-1", "Café crash ü"), ("U16-2", "Ошибка оплаты")]
    loaded.assert_nothing_else_lost()


def test_latin1_csv_is_rejected_not_mangled(ingest):
    loaded = ingest(one("latin1_defects.csv"))
    assert "re-export as UTF-8" in loaded.report("latin1_defects.csv")["message"]
    assert loaded.defect_ids("latin1_defects.csv") == []
    loaded.assert_nothing_else_lost()


# --- columns -------------------------------------------------------------------------------------------------

def test_missing_required_column_quarantines_every_row(ingest):
    """A defects.csv without `title`: still defects (by name and key), every row quarantined with the reason."""
    loaded = ingest(one("missing_title_defects.csv"))
    report = loaded.report("missing_title_defects.csv")
    assert (report["status"], report["entity"]) == ("loaded", "defects")
    assert (report["rows_read"], report["rows_loaded"], report["rows_quarantined"]) == (2, 0, 2)
    assert "required columns missing (every row quarantined): title" in report["message"]
    assert [(n, reason) for n, reason, _ in loaded.quarantine("missing_title_defects.csv")] == [
        (1, "title is required"), (2, "title is required")]
    loaded.assert_nothing_else_lost()


def test_empty_required_cell_is_quarantined_with_its_row(ingest):
    loaded = ingest(one("empty_title_defects.csv"))
    report = loaded.report("empty_title_defects.csv")
    assert (report["status"], report["rows_read"], report["rows_loaded"], report["rows_quarantined"]) == (
        "loaded", 2, 1, 1)
    [(row, reason, record)] = loaded.quarantine("empty_title_defects.csv")
    assert (row, reason) == (2, "title is required")
    assert record["defect_id"] == "ET-2"  # the original record is kept for audit
    assert loaded.defect_ids("empty_title_defects.csv") == ["ET-1"]
    loaded.assert_nothing_else_lost()


def test_extra_columns_load_and_are_noted(ingest):
    loaded = ingest(one("extra_columns_defects.csv"))
    report = loaded.report("extra_columns_defects.csv")
    assert (report["status"], report["rows_read"], report["rows_loaded"]) == ("loaded", 1, 1)
    assert report["message"] == "ignored columns: Story Points, internal_note"
    assert loaded.defect_ids("extra_columns_defects.csv") == ["X-1"]
    loaded.assert_nothing_else_lost()


def test_quoted_newlines_stay_inside_the_cell(ingest):
    loaded = ingest(one("multiline_defects.csv"))
    report = loaded.report("multiline_defects.csv")
    assert (report["rows_read"], report["rows_loaded"], report["rows_quarantined"]) == (2, 2, 0)
    assert loaded.defects("multiline_defects.csv", "defect_id, title, description, source_row") == [
        ("ML-1", 'Totals, rounded "wrong"', "first line\nsecond line\r\nthird line", 1),
        ("ML-2", "after the multi-line cell", None, 2),
    ]
    loaded.assert_nothing_else_lost()


# --- timestamps and rules --------------------------------------------------------------------------------------

def test_timestamps_without_offset_load_and_are_counted(ingest):
    loaded = ingest(one("naive_defects.csv"))
    report = loaded.report("naive_defects.csv")
    assert (report["rows_read"], report["rows_loaded"], report["rows_quarantined"]) == (4, 4, 0)
    assert report["naive_timestamps"] == 4  # N-1 one, N-2 two, N-3 one, N-4 none
    utc = UTC
    assert loaded.defects("naive_defects.csv", "defect_id, created_at, resolved_at") == [
        ("N-1", datetime(2026, 3, 1, 10, tzinfo=utc), None),
        ("N-2", datetime(2026, 3, 1, 10, tzinfo=utc), datetime(2026, 3, 2, 11, 30, tzinfo=utc)),
        ("N-3", datetime(2026, 3, 5, tzinfo=utc), None),
        ("N-4", datetime(2026, 3, 1, 10, tzinfo=utc), None),
    ]
    assert loaded.report("defects.csv")["naive_timestamps"] == 0
    loaded.assert_nothing_else_lost()


def test_dst_gap_in_the_policy_zone_is_quarantined(ingest, tmp_path):
    policy_file = tmp_path / "berlin.yml"
    policy_file.write_text("default_timezone: Europe/Berlin\n", encoding="utf-8")
    policy = load_policy(policy_file)
    assert policy.default_timezone == "Europe/Berlin"
    files = {"dst_defects.csv": csv_bytes(
        "defect_id,title,created_at",
        "DST-1,before the gap,2026-03-29T01:30:00",
        "DST-2,in the gap,2026-03-29T02:30:00",
        "DST-3,after the gap,2026-03-29T03:30:00",
        "DST-4,in the fold takes the earlier instant,2026-10-25T02:30:00",
        "DST-5,offset given so no gap,2026-03-29T02:30:00+01:00",
    )}
    loaded = ingest(files, policy=policy)
    report = loaded.report("dst_defects.csv")
    assert (report["rows_read"], report["rows_loaded"], report["rows_quarantined"], report["naive_timestamps"]) == (
        5, 4, 1, 3)
    [(row, reason, record)] = loaded.quarantine("dst_defects.csv")
    assert row == 2 and record["defect_id"] == "DST-2"
    assert reason == ("created_at: local time 2026-03-29T02:30:00 does not exist in Europe/Berlin "
                      "(daylight-saving gap)")
    utc = UTC
    assert loaded.defects("dst_defects.csv", "defect_id, created_at") == [
        ("DST-1", datetime(2026, 3, 29, 0, 30, tzinfo=utc)),  # CET, +01:00
        ("DST-3", datetime(2026, 3, 29, 1, 30, tzinfo=utc)),  # CEST, +02:00
        ("DST-4", datetime(2026, 10, 25, 0, 30, tzinfo=utc)),  # 02:30 CEST, the earlier of the two
        ("DST-5", datetime(2026, 3, 29, 1, 30, tzinfo=utc)),
    ]
    # the good file's times carry offsets: the zone changes nothing there
    assert loaded.defects("defects.csv", "created_at")[0][0] == datetime(2026, 3, 1, 10, tzinfo=utc)
    loaded.assert_nothing_else_lost()


def test_timestamps_before_1990_or_after_2100_are_quarantined(ingest):
    loaded = ingest(one("range_defects.csv"))
    report = loaded.report("range_defects.csv")
    assert (report["rows_read"], report["rows_loaded"], report["rows_quarantined"]) == (6, 2, 4)
    assert [(n, reason) for n, reason, _ in loaded.quarantine("range_defects.csv")] == [
        (1, "created_at: 1989-12-31T23:59:59Z is before 1990 or after 2100"),
        (4, "created_at: 2101-01-01T00:00:00Z is before 1990 or after 2100"),
        (5, "resolved_at: 2150-06-01T00:00:00Z is before 1990 or after 2100"),
        (6, "created_at: 1990-01-01T00:30:00+01:00 is before 1990 or after 2100"),
    ]
    assert loaded.defect_ids("range_defects.csv") == ["R-2", "R-3"]
    loaded.assert_nothing_else_lost()


def test_resolved_before_created_is_quarantined(ingest):
    loaded = ingest(one("order_defects.csv"))
    assert [(n, reason) for n, reason, _ in loaded.quarantine("order_defects.csv")] == [
        (1, "resolved_at is before created_at"),
        (3, "resolved_at is before created_at"),  # 10:30+01:00 is 09:30Z: compared as instants
    ]
    assert loaded.defect_ids("order_defects.csv") == ["O-2"]
    loaded.assert_nothing_else_lost()


def test_other_row_rules_quarantine_with_the_reason(ingest):
    loaded = ingest(one("rules_defects.csv"))
    assert [(n, reason) for n, reason, _ in loaded.quarantine("rules_defects.csv")] == [
        (1, "created_at: not an ISO-8601 timestamp: 2026-02-30T10:00:00Z"),
        (2, "users_affected is negative"),
        (3, "users_affected: not a number: many"),
        (4, "has_workaround: not true/false: perhaps"),
    ]
    assert loaded.defects("rules_defects.csv", "defect_id, users_affected, has_workaround") == [("RU-5", 12, True)]
    loaded.assert_nothing_else_lost()


def test_counts_beyond_their_bound_are_quarantined_with_file_and_row(ingest):
    loaded = ingest(one("bounds_defects.csv"))
    assert [(n, reason) for n, reason, _ in loaded.quarantine("bounds_defects.csv")] == [
        (1, "users_affected: 9223372036854775807 is above the largest accepted value 1,000,000,000"),
        (2, "users_affected: 1000000001 is above the largest accepted value 1,000,000,000"),
    ]
    assert loaded.defects("bounds_defects.csv", "defect_id, users_affected") == [("B-3", 1_000_000_000)]
    loaded.assert_nothing_else_lost()


def test_only_exact_documentation_names_are_skipped(ingest):
    docs = {"LICENSE": b"MIT", "README.txt": b"read me", "CHANGELOG.rst": b"1.0", "notes.md": b"# notes"}
    loaded = ingest({**one("license-server_defects.csv"), **docs})
    assert loaded.defect_ids("license-server_defects.csv") == ["LS-1"]
    assert {name: loaded.report(name)["status"] for name in docs} == dict.fromkeys(docs, "skipped")
    assert loaded.report("license-server_defects.csv")["status"] == "loaded"


# --- record keys -------------------------------------------------------------------------------------------------

def test_duplicate_key_in_a_file_keeps_the_first_valid_row(ingest):
    loaded = ingest(one("dup_defects.csv"))
    report = loaded.report("dup_defects.csv")
    assert (report["rows_read"], report["rows_loaded"], report["rows_quarantined"]) == (6, 3, 3)
    assert [(n, reason) for n, reason, _ in loaded.quarantine("dup_defects.csv")] == [
        (3, "duplicate key (defect_id) of row 1 in the same file"),
        (4, "duplicate key (defect_id) of row 1 in the same file"),
        (5, "title is required"),
    ]
    # a row quarantined for another reason does not make a later valid copy a duplicate
    assert loaded.defects("dup_defects.csv", "defect_id, title") == [
        ("DUP-1", "first"), ("DUP-2", "other"), ("DUP-9", "valid after a bad one")]
    loaded.assert_nothing_else_lost()


def test_duplicate_key_across_files_loads_both_into_raw(ingest):
    loaded = ingest({name: bad_inputs[name] for name in ("across_a_defects.csv", "across_b_defects.csv")})
    assert loaded.defects("across_a_defects.csv", "defect_id, title") == [("ACROSS-1", "from file a")]
    assert loaded.defects("across_b_defects.csv", "defect_id, title") == [("ACROSS-1", "from file b")]
    assert loaded.con.execute("select count(*) from raw.quarantine").fetchone()[0] == 0
    loaded.assert_nothing_else_lost()


# --- row numbers of malformed CSV rows ---------------------------------------------------------------------------

MALFORMED = csv_bytes(
    "defect_id,title,created_at",
    f"M-1,ok,{T}",
    f"M-2,too,many,fields,{T}",
    f'M-3,"multi\nline",{T}',
    f"M-4,,{T}",
)


def test_malformed_csv_row_is_quarantined_and_the_rest_loads(ingest):
    loaded = ingest({"malformed_defects.csv": MALFORMED})
    report = loaded.report("malformed_defects.csv")
    assert (report["rows_read"], report["rows_loaded"], report["rows_quarantined"]) == (4, 2, 2)
    reasons = {record.get("defect_id") or record.get("csv_line", "")[:3]: reason
               for _, reason, record in loaded.quarantine("malformed_defects.csv")}
    assert "malformed CSV row (TOO MANY COLUMNS)" in reasons["M-2"]
    assert reasons["M-4"] == "title is required"
    assert loaded.defect_ids("malformed_defects.csv") == ["M-1", "M-3"]
    loaded.assert_nothing_else_lost()


def test_malformed_csv_rows_are_numbered_like_the_others(ingest):
    """Every row is numbered by its place among the data records (header excluded), malformed or not."""
    loaded = ingest({"malformed_defects.csv": MALFORMED})
    numbers = {record.get("defect_id") or record.get("csv_line", "")[:3]: n
               for n, _, record in loaded.quarantine("malformed_defects.csv")}
    assert numbers == {"M-2": 2, "M-4": 4}
    assert loaded.defects("malformed_defects.csv", "defect_id, source_row") == [("M-1", 1), ("M-3", 3)]


def test_several_malformed_rows_keep_every_row_number(ingest):
    loaded = ingest({"runs_defects.csv": csv_bytes(
        "defect_id,title,created_at",
        f"A-1,bad,extra,{T}",
        f"A-2,ok,{T}",
        f"A-3,bad,extra,{T}",
        f'A-4,"bad, quoted",extra,{T}',
        f'A-5,"ok\nover two lines",{T}',
        f"A-6,,{T}",
        f"A-7,bad,extra,{T}",
        f"A-2,duplicate of row 2,{T}",
    )})
    report = loaded.report("runs_defects.csv")
    assert (report["rows_read"], report["rows_loaded"], report["rows_quarantined"]) == (8, 2, 6)
    rows = [(n, "malformed" if "malformed CSV row (TOO MANY COLUMNS)" in reason else reason)
            for n, reason, _ in loaded.quarantine("runs_defects.csv")]
    assert rows == [(1, "malformed"), (3, "malformed"), (4, "malformed"), (6, "title is required"),
                    (7, "malformed"), (8, "duplicate key (defect_id) of row 2 in the same file")]
    assert loaded.defects("runs_defects.csv", "defect_id, source_row") == [("A-2", 2), ("A-5", 5)]
    loaded.assert_nothing_else_lost()


# --- the whole corpus at once ------------------------------------------------------------------------------------

def test_whole_corpus_in_one_folder_loses_nothing(ingest):
    loaded = ingest(bad_inputs)
    rejected = {Path(f.source_file).name for f in loaded.summary.rejected_files}
    assert rejected == {name for name, _, _ in REJECTED}
    assert loaded.report("missing_title_defects.csv")["rows_quarantined"] == 2
    # every row read of every loaded file is in raw or in quarantine, and the good file is whole
    loaded.assert_nothing_else_lost()
    totals = loaded.con.execute(
        "select sum(rows_read), sum(rows_loaded), sum(rows_quarantined) from raw.load_report").fetchone()
    count_sql = {e: "select count(*) from raw." + e for e in ENTITIES}  # identifiers: the fixed entity list
    stored = sum(loaded.con.execute(count_sql[e]).fetchone()[0] for e in ENTITIES)
    quarantined = loaded.con.execute("select count(*) from raw.quarantine").fetchone()[0]
    assert totals == (stored + quarantined, stored, quarantined)


# --- a 200 MB canonical CSV in bounded memory --------------------------------------------------------------------

BIG_BYTES = 200 * 1024 * 1024

_MEASURE = textwrap.dedent("""
    import json, resource, sys
    from datetime import datetime, timezone
    from pathlib import Path
    from pipelines.defs.ingest.assets import invariant_failures
    from pipelines.defs.ingest.loader import load_exports
    from pipelines.policy import load_policy
    from pipelines.warehouse import connect

    policy = load_policy()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with connect(sys.argv[2]) as con:
        summary = load_exports(con, Path(sys.argv[1]), policy, datetime(2026, 12, 31, tzinfo=timezone.utc))
        result = {
            "before_kib": before,
            "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "files": [vars(f) for f in summary.files],
            "raw_defects": con.execute("select count(*) from raw.defects").fetchone()[0],
            "invariant_failures": invariant_failures(con),
        }
    print(json.dumps(result))
""")


def _write_big_csv(path: Path, target: int) -> int:
    """Stream a canonical defects.csv of about `target` bytes; return its row count."""
    rows = 0
    written = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("defect_id,title,description,severity,status,service,environment,created_at,resolved_at,"
                  "users_affected\n")
        while written < target:
            batch = []
            for _ in range(10_000):
                rows += 1
                batch.append(
                    f"BIG-{rows},Checkout total wrong for basket {rows % 977},"
                    f'"Steps: open cart {rows}, apply coupon, pay. Expected the total to match the items, '
                    f'it differs by a cent.",S{rows % 4 + 1},open,svc-{rows % 13},production,'
                    f"2026-0{rows % 9 + 1}-1{rows % 10}T1{rows % 10}:2{rows % 6}:00Z,,{rows % 500}\n"
                )
            chunk = "".join(batch)
            out.write(chunk)
            written += len(chunk)
    return rows


@pytest.mark.slow
def test_200mb_canonical_csv_loads_in_bounded_memory(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    rows = _write_big_csv(folder / "defects.csv", BIG_BYTES)
    assert (folder / "defects.csv").stat().st_size >= BIG_BYTES
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(folder), str(tmp_path / "big.duckdb")],
        capture_output=True, text=True, timeout=900, cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    [report] = result["files"]
    assert (report["status"], report["rows_read"], report["rows_loaded"], report["rows_quarantined"]) == (
        "loaded", rows, rows, 0)
    assert result["raw_defects"] == rows
    assert result["invariant_failures"] == []
    growth_mib = (result["peak_kib"] - result["before_kib"]) / 1024  # ru_maxrss is KiB on Linux
    assert growth_mib < 1024, f"peak RSS grew by {growth_mib:.0f} MiB loading a 200 MiB CSV"
