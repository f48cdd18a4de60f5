"""A Jira search exported as one file or as pages: the same warehouse, and a note only when pages are missing.

The search responses are written here by hand in the shape of Jira's
`GET /rest/api/2/search?expand=changelog` (two issues, localised status names
that no vocabulary lists, so their status categories decide).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from pipelines.defs.ingest.loader import load_exports
from pipelines.policy import load_policy
from pipelines.settings import parse_as_of
from tests.conftest import modelled_warehouse

AS_OF = "2026-03-31T00:00:00Z"
OFFEN = {"name": "Offen", "statusCategory": {"key": "new"}}
GELOEST = {"name": "Gelöst", "statusCategory": {"key": "done"}}


def _issue(key: str, status: dict, created: str, changes: list[tuple[str, str, str]]) -> dict:
    return {
        "id": key.split("-")[1], "key": key, "self": f"https://jira.example.com/rest/api/2/issue/{key}",
        "fields": {"summary": f"{key} fails", "status": status, "issuetype": {"name": "Bug"},
                   "project": {"key": "PAY"}, "created": created},
        "changelog": {"startAt": 0, "maxResults": len(changes), "total": len(changes), "histories": [
            {"id": str(n), "created": when, "author": {"displayName": "QA"},
             "items": [{"field": "status", "fromString": old, "toString": new}]}
            for n, (when, old, new) in enumerate(changes, start=1)
        ]},
    }


# PAY-1 is open again (only Offen's category is on its page); PAY-2's page says Gelöst is done.
PAY_1 = _issue("PAY-1", OFFEN, "2026-03-02T09:00:00.000+0000",
               [("2026-03-10T09:00:00.000+0000", "Offen", "Gelöst"), ("2026-03-20T09:00:00.000+0000", "Gelöst", "Offen")])
PAY_2 = _issue("PAY-2", GELOEST, "2026-03-02T10:00:00.000+0000",
               [("2026-03-05T10:00:00.000+0000", "Offen", "Gelöst")])


def _page(issues: list[dict], start: int, total: int) -> dict:
    return {"startAt": start, "maxResults": 1 if total > 1 else 2, "total": total, "issues": issues}


def _write(folder: Path, pages: dict[str, dict]) -> Path:
    (folder / "jira").mkdir(parents=True)
    for name, page in pages.items():
        (folder / "jira" / name).write_text(json.dumps(page, ensure_ascii=False), encoding="utf-8")
    return folder


def _load(exports: Path, warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        load_exports(con, exports, load_policy(None), parse_as_of(AS_OF))


def _notes(warehouse: Path) -> dict[str, str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("select source_file, message from raw.load_report where entity = 'defects'").fetchall()
    return {Path(source).name: message for source, message in rows}


def test_pages_learn_status_categories_from_each_other(tmp_path):
    exports = _write(tmp_path / "paged", {"page-1.json": _page([PAY_1], 0, 2), "page-2.json": _page([PAY_2], 1, 2)})
    _load(exports, tmp_path / "w.duckdb")
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        history = con.execute(
            "select defect_id, from_status, to_status, from_status_category, to_status_category "
            "from raw.defect_status_history order by defect_id, changed_at").fetchall()
    # Gelöst is done only by PAY-2's status object, on page 2; page 1's history uses it too.
    assert history == [
        ("PAY-1", "Offen", "Gelöst", "new", "done"),
        ("PAY-1", "Gelöst", "Offen", "done", "new"),
        ("PAY-2", "Offen", "Gelöst", "new", "done"),
    ]


def _public_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [schema + "." + name for schema, name in con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ('marts', 'audit') order by 1, 2").fetchall()]


def _differences(one: Path, paged: Path) -> dict[str, int]:
    """Per public table: rows in one warehouse and not the other (both ways, duplicates counted)."""
    with duckdb.connect(str(one), read_only=True) as con:
        con.execute("attach ? as paged (read_only)", [str(paged)])
        tables = _public_tables(con)
        found = {}
        for table in tables:
            # SQL text: table names read from the warehouse's catalog, not from input.
            columns = [c for c in con.table(table).columns if c not in ("source_file", "source_row")]
            listed = ", ".join(f'"{c}"' for c in columns)
            found[table] = con.execute(
                f"select count(*) from ((select {listed} from {table} except all select {listed} from paged.{table}) "
                f"union all (select {listed} from paged.{table} except all select {listed} from {table}))"
            ).fetchone()[0]
    return found


def test_one_file_and_two_pages_build_identical_marts(tmp_path):
    one = _write(tmp_path / "one", {"search.json": _page([PAY_1, PAY_2], 0, 2)})
    paged = _write(tmp_path / "paged", {"page-1.json": _page([PAY_1], 0, 2), "page-2.json": _page([PAY_2], 1, 2)})
    built_one = modelled_warehouse(one, tmp_path / "one-w", None, AS_OF)
    built_paged = modelled_warehouse(paged, tmp_path / "paged-w", None, AS_OF)
    differences = _differences(built_one.warehouse, built_paged.warehouse)
    assert "marts.defect_aging" in differences
    assert {table: n for table, n in differences.items() if n} == {}


def test_a_complete_paged_export_has_no_note_and_a_missing_page_has(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    exports = _write(tmp_path / "exports", {"page-1.json": _page([PAY_1], 0, 2)})
    _load(exports, warehouse)
    assert _notes(warehouse) == {"page-1.json": "one page of an incomplete search: issues 1-1 of 2, and the pages "
                                                "beside it do not cover all 2 (export every page)"}
    # page 1 is unchanged (not read again) and loses its note once page 2 is there
    (exports / "jira" / "page-2.json").write_text(json.dumps(_page([PAY_2], 1, 2)), encoding="utf-8")
    _load(exports, warehouse)
    assert _notes(warehouse) == {"page-1.json": "", "page-2.json": ""}
    # a missing page in the middle: pages 1 and 3 of 3 both say so
    (exports / "jira" / "page-2.json").write_text(json.dumps(_page([PAY_2], 2, 3)), encoding="utf-8")
    (exports / "jira" / "page-1.json").write_text(json.dumps(_page([PAY_1], 0, 3)), encoding="utf-8")
    _load(exports, warehouse)
    assert _notes(warehouse) == {
        "page-1.json": "one page of an incomplete search: issues 1-1 of 3, and the pages beside it do not cover all 3 "
                       "(export every page)",
        "page-2.json": "one page of an incomplete search: issues 3-3 of 3, and the pages beside it do not cover all 3 "
                       "(export every page)",
    }


def test_a_page_keeps_its_own_note_when_the_search_becomes_complete(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    no_changelog = {key: value for key, value in PAY_1.items() if key != "changelog"}
    exports = _write(tmp_path / "exports", {"page-1.json": _page([no_changelog], 0, 2)})
    _load(exports, warehouse)
    own = "no changelog (search without expand=changelog): no status history"
    assert _notes(warehouse) == {"page-1.json": own + "; one page of an incomplete search: issues 1-1 of 2, and the "
                                                      "pages beside it do not cover all 2 (export every page)"}
    (exports / "jira" / "page-2.json").write_text(json.dumps(_page([PAY_2], 1, 2)), encoding="utf-8")
    _load(exports, warehouse)
    assert _notes(warehouse) == {"page-1.json": own, "page-2.json": ""}
