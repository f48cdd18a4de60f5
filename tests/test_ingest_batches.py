"""Batched ingest: several files of a format checked and inserted together, each as if loaded alone.

Also the process pool that parses them (the same rows as reading in this
process), the progress and stage hooks, and how files are grouped into tasks.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import psutil
import pytest

from pipelines import progress
from pipelines.defs.ingest import workers
from pipelines.defs.ingest.assets import invariant_failures
from pipelines.defs.ingest.loader import PROGRESS_TASK, load_exports
from pipelines.defs.ingest.loading import load_batch
from pipelines.defs.ingest.manifest import FileState, prepare
from pipelines.defs.ingest.readers import ParsedFile, entity_rows
from pipelines.defs.ingest.report import FileReport
from pipelines.defs.ingest.rules import MACROS
from pipelines.policy import load_policy
from pipelines.warehouse import connect
from tests.conftest import ROOT, SAMPLES

AS_OF = datetime(2026, 3, 31, tzinfo=UTC)
KEY = "duplicate key (defect_id, changed_at, from_status, to_status) of row 1 in the same file"
TABLES = ["defects", "defect_status_history", "defect_links", "deployments", "incidents", "releases",
          "test_cases", "coverage", "quarantine", "load_report", "ingested_files"]


def _history(*rows: tuple[str | None, ...], columns=("defect_id", "changed_at", "from_status", "to_status", "actor")):
    return entity_rows("defect_status_history", [dict(zip(columns, row, strict=True)) for row in rows])


@pytest.fixture
def con():
    with duckdb.connect() as connection:
        connection.execute("set TimeZone = 'UTC'")
        prepare(connection, "")
        connection.execute(MACROS)
        yield connection


def test_a_batch_keeps_each_file_apart(con):
    at = "2026-01-01T00:00:00Z"
    # a.json has an actor column, b.json does not; from_status is empty everywhere (a NULL key part)
    a = _history(("D1", at, None, "new", "ann"), ("D1", at, None, "new", "bob"), ("D2", "not a time", None, "new", None))
    b = _history(("D1", "2026-01-01 00:00:00", None, "new"), ("D1", "2026-01-01 00:00:00", None, "new"),
                 columns=("defect_id", "changed_at", "from_status", "to_status"))
    c = _history((None, None, None, None, None))  # a row without any value
    files = [(name, ParsedFile("jira json", "jira", [rows], ["a note"])) for name, rows in
             (("a.json", a), ("b.json", b), ("c.json", c))]

    reports = load_batch(con, files, "UTC")

    assert reports == [
        FileReport("a.json", "defect_status_history", "jira json", "loaded", 3, 1, 2, 0, "a note"),
        FileReport("b.json", "defect_status_history", "jira json", "loaded", 2, 1, 1, 1, "a note"),
        FileReport("c.json", "defect_status_history", "jira json", "loaded", 1, 0, 1, 0, "a note"),
    ]
    assert con.execute("select source_file, source_row, defect_id, changed_at, actor, source_system "
                       "from raw.defect_status_history order by all").fetchall() == [
        ("a.json", 1, "D1", datetime(2026, 1, 1, tzinfo=UTC), "ann", "jira"),
        ("b.json", 1, "D1", datetime(2026, 1, 1, tzinfo=UTC), None, "jira"),
    ]
    quarantined = con.execute("select source_file, row_number, entity, reason, raw_record from raw.quarantine "
                              "order by source_file, row_number").fetchall()
    # the original record shows the columns of its own file, in entity order
    assert [(f, n, e, r, json.loads(record)) for f, n, e, r, record in quarantined] == [
        ("a.json", 2, "defect_status_history", KEY,
         {"defect_id": "D1", "changed_at": at, "to_status": "new", "actor": "bob"}),
        ("a.json", 3, "defect_status_history", "changed_at: not an ISO-8601 timestamp: not a time",
         {"defect_id": "D2", "changed_at": "not a time", "to_status": "new", "actor": None}),
        ("b.json", 2, "defect_status_history", KEY,
         {"defect_id": "D1", "changed_at": "2026-01-01 00:00:00", "to_status": "new"}),
        ("c.json", 1, "defect_status_history", "defect_id is required; changed_at is required; to_status is required",
         {"source_row": 1}),
    ]


def test_a_file_without_rows_still_reports_each_entity(con):
    empty = ParsedFile("jira json", "jira", [entity_rows("defects", []), entity_rows("defect_links", [])], [])
    nothing = ParsedFile("jira json", "jira", [], ["no issues"])

    assert load_batch(con, [("empty.json", empty), ("nothing.json", nothing)], "UTC") == [
        FileReport("empty.json", "defects", "jira json", "loaded", 0, 0, 0, 0, ""),
        FileReport("empty.json", "defect_links", "jira json", "loaded", 0, 0, 0, 0, ""),
        FileReport("nothing.json", None, "jira json", "loaded", message="no issues"),
    ]


def test_rows_become_text_columns_of_the_columns_a_file_has():
    rows = entity_rows("test_cases", [
        {"run_id": "r", "case_index": 1, "status": "passed", "message": "", "_reason": ""},
        {"run_id": "r", "case_index": 2, "status": True, "message": None},
    ])
    assert (rows.entity, rows.count, rows.present) == ("test_cases", 2, ("run_id", "case_index", "status"))
    # numbers and booleans as Python writes them; an empty `_reason` is no reason
    assert rows.columns == {"run_id": ["r", "r"], "case_index": ["1", "2"], "status": ["passed", "True"]}
    assert entity_rows("coverage", [{"file": "a.py", "_reason": "bad hits"}]).columns == {
        "file": ["a.py"], "_reason": ["bad hits"]}


def test_small_files_share_a_task_up_to_its_size(monkeypatch):
    monkeypatch.setattr(workers, "TASK_BYTES", 4)
    monkeypatch.setattr(workers, "TASK_FILES", 3)
    files = [FileState(f"f{n}", "", size, 0) for n, size in enumerate([5, 1, 1, 3, 1, 1, 1, 1])]
    assert [[f.source for f in task] for task in workers.tasks(files)] == [
        ["f0"], ["f1", "f2"], ["f3", "f4"], ["f5", "f6", "f7"]]


def _folder(root: Path) -> Path:
    shutil.copytree(ROOT / "tests" / "fixtures" / "tiny", root / "canonical")
    shutil.copytree(ROOT / "tests" / "fixtures" / "junit", root / "junit")
    shutil.copytree(SAMPLES / "jira", root / "jira")
    shutil.copy(SAMPLES / "deployments" / "gitlab_deployments.json", root / "gitlab_deployments.json")
    (root / "README.md").write_text("exports\n", encoding="utf-8")
    return root


def _snapshot(con) -> dict[str, list[tuple]]:
    # identifiers: the fixed TABLES list
    return {name: con.execute("select * from raw." + name + " order by all").fetchall() for name in TABLES}


def test_worker_processes_load_what_this_process_loads(tmp_path, monkeypatch):
    folder = _folder(tmp_path / "exports")
    with connect(tmp_path / "here.duckdb") as con:
        load_exports(con, folder, load_policy(), AS_OF)
        expected = _snapshot(con)

    monkeypatch.setattr(workers, "PARALLEL_FROM_BYTES", 0)  # a pool for any folder
    monkeypatch.setattr(workers, "TASK_FILES", 2)
    monkeypatch.setattr(workers.os, "cpu_count", lambda: 2)
    pools: list[int] = []

    class Pool(workers.ProcessPoolExecutor):
        def __init__(self, processes: int, **options) -> None:
            pools.append(processes)
            super().__init__(processes, **options)

    monkeypatch.setattr(workers, "ProcessPoolExecutor", Pool)
    monkeypatch.setenv(progress.PROFILE_ENV, str(tmp_path / "profile.jsonl"))
    seen: list[tuple[str, int, int]] = []
    with connect(tmp_path / "pool.duckdb") as con, progress.listening(lambda *event: seen.append(event)):
        summary = load_exports(con, folder, load_policy(), AS_OF)
        assert _snapshot(con) == expected
        assert invariant_failures(con) == []

    assert pools == [2]  # TASK_FILES 2: 8 tasks for the 15 files, a process per core
    files = len(summary.reread)
    # 5 canonical CSVs, 4 JUnit, 4 Jira exports, GitLab and the README; 5 GitLab rows and 1 tiny defect quarantined
    assert files == 15 and len(expected["quarantine"]) == 6
    assert seen[0] == (PROGRESS_TASK, 0, files) and seen[-1] == (PROGRESS_TASK, files, files)
    assert [done for _, done, _ in seen] == sorted(done for _, done, _ in seen)
    stages = {json.loads(line)["stage"] for line in (tmp_path / "profile.jsonl").read_text().splitlines()}
    assert stages == {"ingest bookkeeping", "ingest canonical csv", "ingest junit xml", "ingest jira json",
                      "ingest jira csv", "ingest duplicate links csv", "ingest gitlab deployments json"}


def test_a_document_type_declaration_without_entities_still_loads(tmp_path):
    plain = '<testsuite name="s"><testcase name="a"/><testcase name="b"><failure message="x"/></testcase></testsuite>'
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "plain.xml").write_text(plain, encoding="utf-8")
    (folder / "doctype.xml").write_text("<!DOCTYPE testsuite>" + plain, encoding="utf-8")
    with connect(tmp_path / "w.duckdb") as con:
        load_exports(con, folder, load_policy(), AS_OF)
        rows = con.execute("select source_file, name, status from raw.test_cases order by all").fetchall()
    assert rows == [(str(folder / "doctype.xml"), "a", "passed"), (str(folder / "doctype.xml"), "b", "failed"),
                    (str(folder / "plain.xml"), "a", "passed"), (str(folder / "plain.xml"), "b", "failed")]


POOL_THEN_WAIT = """
import multiprocessing, os, time
from concurrent.futures import ProcessPoolExecutor
from pipelines.defs.ingest import workers
from pipelines.policy import load_policy

if __name__ == "__main__":
    pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"),
                               initializer=workers._start_worker, initargs=(load_policy(), os.getpid()))
    futures = [pool.submit(time.sleep, 60) for _ in range(2)]
    print(" ".join(str(pid) for pid in pool._processes), flush=True)
    time.sleep(60)
"""


def test_workers_end_with_a_killed_build(tmp_path):
    script = tmp_path / "pool.py"
    script.write_text(POOL_THEN_WAIT, encoding="utf-8")
    build = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    pids = [int(pid) for pid in build.stdout.readline().split()]
    assert len(pids) == 2 and all(psutil.pid_exists(pid) for pid in pids)
    build.kill()  # as the kernel's OOM killer would, maybe before the workers started: no clean-up
    build.wait()
    deadline = time.monotonic() + 10 * workers.ORPHAN_CHECK_SECONDS
    while any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in pids):
        assert time.monotonic() < deadline, "worker processes outlived the build"
        time.sleep(0.1)
