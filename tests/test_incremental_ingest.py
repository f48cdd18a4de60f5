"""Incremental ingest: a build re-reads only what changed and ends equal to a fresh full load.

The exports folder mixes canonical CSVs (the tiny fixture), JUnit XML, real
sample exports (PagerDuty, GitLab with quarantined rows, LCOV), a file that is
rejected and a README that is skipped, in sub-folders.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.defs.ingest import loader, manifest
from pipelines.defs.ingest.assets import invariant_failures
from pipelines.defs.ingest.canonical import ENTITIES
from pipelines.defs.ingest.loader import load_exports
from pipelines.defs.ingest.manifest import policy_fingerprint
from pipelines.defs.ingest.report import LoadSummary
from pipelines.policy import SHIPPED_POLICY, load_policy
from pipelines.warehouse import connect
from tests.conftest import ROOT, SAMPLES

AS_OF = datetime(2026, 3, 31, tzinfo=UTC)
POLICY = load_policy()
POLICY_SHA = policy_fingerprint(SHIPPED_POLICY.read_text(encoding="utf-8"))
# Every raw table the ingest fills from the folder (build_info holds the build time, so it differs by design).
TABLES = [*ENTITIES, "quarantine", "load_report", "ingested_files"]


def _populate(folder: Path) -> None:
    shutil.copytree(ROOT / "tests" / "fixtures" / "tiny", folder / "canonical")
    shutil.copytree(ROOT / "tests" / "fixtures" / "junit", folder / "ci" / "junit")
    (folder / "ops").mkdir()
    shutil.copy(SAMPLES / "pagerduty" / "incidents.json", folder / "ops" / "incidents.json")
    shutil.copy(SAMPLES / "deployments" / "gitlab_deployments.json", folder / "ops" / "gitlab_deployments.json")
    shutil.copy(SAMPLES / "coverage" / "real_python_coverage.lcov", folder / "ci" / "coverage.lcov")
    (folder / "broken.json").write_text('{"incidents": [', encoding="utf-8")  # rejected: truncated
    (folder / "README.md").write_text("exports of week 13\n", encoding="utf-8")  # skipped


def snapshot(con) -> dict[str, list[tuple]]:
    """Every row of every ingest table, in a stable order."""
    # identifiers: the fixed TABLES list
    return {name: con.execute("select * from raw." + name + " order by all").fetchall() for name in TABLES}


class Builds:
    """One exports folder and one warehouse built again and again, plus fresh full loads to compare with."""

    def __init__(self, tmp_path: Path, stack: contextlib.ExitStack) -> None:
        self.tmp = tmp_path
        self.folder = tmp_path / "exports"
        self.folder.mkdir()
        _populate(self.folder)
        self.con = stack.enter_context(connect(tmp_path / "incremental.duckdb"))
        self.fresh_count = 0

    def build(self, policy=POLICY, policy_sha=POLICY_SHA) -> LoadSummary:
        summary = load_exports(self.con, self.folder, policy, AS_OF, policy_sha=policy_sha)
        assert invariant_failures(self.con) == []
        return summary

    def files(self) -> list[str]:
        return sorted(str(p) for p in self.folder.rglob("*") if p.is_file())

    def path(self, relative: str) -> Path:
        return self.folder / relative

    def assert_equals_fresh_load(self, policy=POLICY, policy_sha=POLICY_SHA) -> None:
        self.fresh_count += 1
        with connect(self.tmp / f"fresh{self.fresh_count}.duckdb") as fresh:
            summary = load_exports(fresh, self.folder, policy, AS_OF, policy_sha=policy_sha)
            assert sorted(summary.reread) == self.files()
            assert invariant_failures(fresh) == []
            expected = snapshot(fresh)
        actual = snapshot(self.con)
        for name in TABLES:
            assert actual[name] == expected[name], f"raw.{name} differs from a fresh full load"


@pytest.fixture
def builds(tmp_path):
    with contextlib.ExitStack() as stack:
        yield Builds(tmp_path, stack)


def _count(con, sql: str, *params) -> int:
    return con.execute(sql, list(params)).fetchone()[0]


def test_first_build_reads_every_file(builds):
    summary = builds.build()
    assert sorted(summary.reread) == builds.files()
    assert summary.removed == []
    status = {Path(f.source_file).name: f.status for f in summary.files}
    assert status["broken.json"] == "rejected" and status["README.md"] == "skipped"
    # the folder really exercises rows in raw and in quarantine
    assert _count(builds.con, "select count(*) from raw.defects") > 0
    assert _count(builds.con, "select count(*) from raw.test_cases") > 0
    assert _count(builds.con, "select count(*) from raw.quarantine") > 0
    builds.assert_equals_fresh_load()


def test_same_folder_again_rereads_nothing(builds):
    first = builds.build()
    before = snapshot(builds.con)
    second = builds.build()
    assert second.reread == [] and second.removed == []
    assert snapshot(builds.con) == before
    assert [vars(f) for f in second.files] == [vars(f) for f in first.files]
    builds.assert_equals_fresh_load()


def test_touched_file_is_not_reread(builds, monkeypatch):
    builds.build()
    before = snapshot(builds.con)
    target = builds.path("canonical/defects.csv")
    stat = target.stat()
    new_mtime = stat.st_mtime_ns + 3_600 * 10**9
    os.utime(target, ns=(stat.st_atime_ns, new_mtime))

    summary = builds.build()
    assert summary.reread == [] and summary.removed == []
    after = snapshot(builds.con)
    assert {name: rows for name, rows in after.items() if name != "ingested_files"} == {
        name: rows for name, rows in before.items() if name != "ingested_files"}
    # the manifest now knows the new mtime: the next build does not even hash the file
    assert _count(builds.con, "select mtime_ns from raw.ingested_files where source_file = ?",
                  str(target)) == new_mtime
    hashed: list[Path] = []
    monkeypatch.setattr(loader, "file_sha256", lambda path: hashed.append(path) or manifest.file_sha256(path))
    assert builds.build().reread == []
    assert hashed == []
    builds.assert_equals_fresh_load()


def test_changed_file_alone_is_reread_and_its_rows_replaced(builds):
    builds.build()
    before = snapshot(builds.con)
    target = builds.path("canonical/defects.csv")
    text = target.read_text(encoding="utf-8")
    assert "D1,Checkout total wrong," in text
    target.write_text(text.replace("D1,Checkout total wrong,", "D1,Checkout total wrong for coupons,"),
                      encoding="utf-8")

    summary = builds.build()
    assert summary.reread == [str(target)] and summary.removed == []
    assert builds.con.execute("select title from raw.defects where defect_id = 'D1'").fetchall() == [
        ("Checkout total wrong for coupons",)]
    # replaced, not appended: one row per defect and file, as many rows as before
    assert _count(builds.con, "select count(*) from raw.defects") == len(before["defects"])
    assert _count(builds.con, "select count(*) from (select defect_id, source_file from raw.defects "
                              "group by all having count(*) > 1)") == 0
    assert _count(builds.con, "select count(*) from raw.load_report where source_file = ?", str(target)) == 1
    assert _count(builds.con, "select count(*) from raw.ingested_files where source_file = ?", str(target)) == 1
    # every other table is untouched
    after = snapshot(builds.con)
    for name in ("deployments", "incidents", "test_cases", "coverage", "quarantine"):
        assert after[name] == before[name], name
    builds.assert_equals_fresh_load()


def test_changed_file_with_quarantined_rows_does_not_duplicate_them(builds):
    builds.build()
    target = builds.path("ops/gitlab_deployments.json")
    quarantined = builds.con.execute(
        "select row_number, reason from raw.quarantine where source_file = ? order by all", [str(target)]).fetchall()
    assert len(quarantined) == 5
    target.write_text(target.read_text(encoding="utf-8") + "\n", encoding="utf-8")  # new content, same records

    summary = builds.build()
    assert summary.reread == [str(target)]
    assert builds.con.execute(
        "select row_number, reason from raw.quarantine where source_file = ? order by all",
        [str(target)]).fetchall() == quarantined
    builds.assert_equals_fresh_load()


def test_deleted_files_lose_their_rows(builds):
    builds.build()
    gone = [builds.path("ops/gitlab_deployments.json"), builds.path("canonical/incidents.csv"),
            builds.path("broken.json")]
    assert _count(builds.con, "select count(*) from raw.deployments where source_file = ?", str(gone[0])) > 0
    for path in gone:
        path.unlink()

    summary = builds.build()
    assert summary.reread == []
    assert summary.removed == sorted(str(p) for p in gone)
    for path in gone:
        for name in [*ENTITIES, "quarantine", "load_report", "ingested_files"]:
            # table names from the fixed entity and bookkeeping lists; the file is bound
            assert _count(builds.con, f"select count(*) from raw.{name} where source_file = ?", str(path)) == 0, (
                name, path.name)
    assert str(gone[0]) not in {f.source_file for f in summary.files}
    # the other incident source is still there
    assert _count(builds.con, "select count(*) from raw.incidents") > 0
    builds.assert_equals_fresh_load()


def test_new_renamed_and_repaired_files(builds):
    builds.build()
    renamed_from = builds.path("ci/junit/jest-junit.xml")
    renamed_to = builds.path("ci/jest-results.xml")
    renamed_from.rename(renamed_to)
    new = builds.path("canonical/more_defects.csv")
    new.write_text("defect_id,title,created_at\nD900,Late addition,2026-03-20T10:00:00Z\n", encoding="utf-8")
    repaired = builds.path("broken.json")
    repaired.write_text('{"incidents": []}', encoding="utf-8")

    summary = builds.build()
    assert sorted(summary.reread) == sorted([str(renamed_to), str(new), str(repaired)])
    assert summary.removed == [str(renamed_from)]
    report = {f.source_file: f for f in summary.files}
    assert report[str(repaired)].status == "loaded"
    assert report[str(new)].rows_loaded == 1
    builds.assert_equals_fresh_load()


def test_other_policy_rereads_everything(builds, tmp_path):
    builds.build()
    # D2 was created at a wall-clock time without offset: the policy's zone decides its instant
    naive = "select created_at from raw.defects where defect_id = 'D2'"
    assert builds.con.execute(naive).fetchone()[0] == datetime(2026, 3, 2, 10, tzinfo=UTC)
    policy_file = tmp_path / "berlin.yml"
    policy_file.write_text(SHIPPED_POLICY.read_text(encoding="utf-8") + "\ndefault_timezone: Europe/Berlin\n",
                           encoding="utf-8")
    berlin = load_policy(policy_file)
    berlin_sha = policy_fingerprint(policy_file.read_text(encoding="utf-8"))

    summary = builds.build(berlin, berlin_sha)
    assert sorted(summary.reread) == builds.files()
    assert builds.con.execute(naive).fetchone()[0] == datetime(2026, 3, 2, 9, tzinfo=UTC)
    builds.assert_equals_fresh_load(berlin, berlin_sha)
    # and the same policy again: nothing to do
    assert builds.build(berlin, berlin_sha).reread == []


def test_policy_sha_alone_decides_a_full_reread(builds):
    builds.build()
    summary = builds.build(POLICY, "another-policy-text")
    assert sorted(summary.reread) == builds.files()
    builds.assert_equals_fresh_load(POLICY, "another-policy-text")


def test_new_loader_version_rereads_everything(builds, monkeypatch):
    builds.build()
    monkeypatch.setattr(manifest, "LOADER_VERSION", manifest.LOADER_VERSION + "-next")
    summary = builds.build()
    assert sorted(summary.reread) == builds.files()
    builds.assert_equals_fresh_load()


def test_many_steps_end_equal_to_a_fresh_load(builds):
    """Edit, touch, add, delete across several builds; the result is a fresh load of the final folder."""
    builds.build()
    deployments = builds.path("canonical/deployments.csv")
    deployments.write_text(deployments.read_text(encoding="utf-8").replace("dep1,", "dep1b,", 1), encoding="utf-8")
    builds.build()
    os.utime(builds.path("ops/incidents.json"))
    builds.path("canonical/releases.csv").unlink()
    builds.build()
    (builds.folder / "late").mkdir()
    (builds.folder / "late" / "defects.csv").write_text(
        "defect_id,title,created_at\nD1,Same key as the tiny D1 in another file,2026-03-21T10:00:00Z\n",
        encoding="utf-8")
    summary = builds.build()
    assert summary.reread == [str(builds.folder / "late" / "defects.csv")]
    assert _count(builds.con, "select count(*) from raw.defects where defect_id = 'D1'") == 2
    assert _count(builds.con, "select count(*) from raw.deployments where deployment_id = 'dep1b'") == 1
    assert _count(builds.con, "select count(*) from raw.deployments where deployment_id = 'dep1'") == 0
    builds.assert_equals_fresh_load()
