"""Migrated defects (key_mapping.csv) and `defectflow audit-package`: a release's package is
written from a warehouse built here, verified intact, then tampered with and caught."""

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.delivery import audit
from tests.conftest import TINY, TINY_AS_OF, modelled_warehouse

pytestmark = pytest.mark.slow

# D2 was LEG-2 in the legacy tracker: two of its changes were recorded there, interleaved in
# time with the three the tiny fixture's own history has for D2.
LEGACY_HISTORY = """defect_id,changed_at,from_status,to_status,actor
LEG-2,2026-03-02T11:00:00Z,Open,Triaged,
LEG-2,2026-03-05T12:00:00Z,In Progress,In Review,
"""
LEGACY_DEFECTS = """defect_id,title,severity,status,service,environment,found_in_release,created_at
LEG-2,Refund button gone,P3,In Review,pay,qa,1.0,2026-03-02T10:00:00Z
"""
FILES = ["build", "defects", "gate_decisions", "gate_findings", "gate_history", "load_report", "status_history"]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    exports = tmp_path_factory.mktemp("migrated") / "exports"
    shutil.copytree(TINY, exports)
    (exports / "legacy").mkdir()
    (exports / "legacy" / "defect_status_history.csv").write_text(LEGACY_HISTORY, encoding="utf-8")
    (exports / "legacy" / "defects.csv").write_text(LEGACY_DEFECTS, encoding="utf-8")
    (exports / "key_mapping.csv").write_text("old_key,new_key\nLEG-2,D2\n", encoding="utf-8")
    return modelled_warehouse(exports, tmp_path_factory.mktemp("built"), None, TINY_AS_OF).warehouse


@pytest.fixture(scope="module")
def package(warehouse, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("package") / "pay-1.0"
    assert audit.run_write(warehouse, "1.0", "pay", out, io.StringIO(), io.StringIO()) == 0
    return out


def _json(package: Path, stem: str) -> list[dict]:
    return json.loads((package / f"{stem}.json").read_text(encoding="utf-8"))


def test_a_migrated_keys_history_is_merged_in_time_order_with_its_origin(package):
    history = [(r["transition_seq"], r["changed_at"], r["from_status"], r["to_status"], r["origin_defect_id"])
               for r in _json(package, "status_history") if r["defect_id"] == "D2"]
    assert history == [
        (1, "2026-03-02T11:00:00+00:00", "new", "triaged", "LEG-2"),
        (2, "2026-03-05T00:00:00+00:00", "new", "in_progress", "D2"),
        (3, "2026-03-05T12:00:00+00:00", "in_progress", "in_progress", "LEG-2"),
        (4, "2026-03-06T00:00:00+00:00", "in_progress", "resolved", "D2"),
        (5, "2026-03-07T00:00:00+00:00", "resolved", "new", "D2"),
    ]
    origins = {(r["origin_defect_id"], Path(r["source_file"]).parent.name) for r in _json(package, "status_history")
               if r["defect_id"] == "D2"}
    assert origins == {("LEG-2", "legacy"), ("D2", "exports")}


def test_the_old_key_is_the_same_defect_and_the_new_keys_record_wins(package):
    defects = {d["defect_id"]: d for d in _json(package, "defects")}
    assert sorted(defects) == ["D1", "D10", "D2", "D3", "D4", "D5"]  # '1.0' attributed, found or fixed
    assert defects["D2"]["title"] == "Refund button missing" and defects["D2"]["status"] == "new"


def test_the_package_holds_each_table_as_csv_and_json_with_a_manifest(package):
    names = sorted(p.name for p in package.iterdir())
    assert names == sorted([f"{s}.{e}" for s in FILES for e in ("csv", "json")] + ["MANIFEST.sha256"])
    gate = [(g["service"], g["environment"], g["verdict"]) for g in _json(package, "gate_decisions")]
    assert gate == [("pay", "production", "HOLD"), ("pay", "staging", "HOLD")]
    assert {f["release"] for f in _json(package, "gate_findings")} == {"1.0"}
    assert "waiver_approver" in _json(package, "gate_findings")[0]
    assert any(r["source_file"].endswith("key_mapping.csv") for r in _json(package, "load_report"))
    header = (package / "defects.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("defect_id,title,description,severity,")
    manifest = (package / "MANIFEST.sha256").read_text(encoding="utf-8").splitlines()
    assert [line.split("  ")[1] for line in manifest] == sorted(n for n in names if n != "MANIFEST.sha256")
    if shutil.which("sha256sum"):  # the manifest is sha256sum's own format
        subprocess.run(["sha256sum", "--check", "--quiet", "MANIFEST.sha256"], cwd=package, check=True)


def test_an_intact_package_verifies(package, capsys):
    assert main(["audit-package", "--verify", str(package)]) == 0
    assert capsys.readouterr().out.strip() == f"audit package {package}: intact (14 files match MANIFEST.sha256)"


def test_every_altered_missing_and_added_file_is_named(package, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(package, copy)
    with (copy / "defects.csv").open("a", encoding="utf-8") as handle:
        handle.write("D99,forged\n")
    (copy / "gate_findings.json").unlink()
    (copy / "notes").mkdir()
    (copy / "notes" / "extra.txt").write_text("added\n", encoding="utf-8")
    assert main(["audit-package", "--verify", str(copy)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"audit package {copy}: NOT intact",
        "  altered: defects.csv",
        "  missing: gate_findings.json",
        "  added: notes/extra.txt",
    ]


def test_errors_exit_2(warehouse, package, tmp_path, capsys):
    assert main(["audit-package", "--release", "1.0", "--out", str(package), "--warehouse", str(warehouse)]) == 2
    assert main(["audit-package", "--release", "9.9", "--out", str(tmp_path / "p"), "--warehouse", str(warehouse)]) == 2
    assert main(["audit-package", "--verify", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"--out {package} is not an empty folder" in err
    assert "release '9.9' has no defects and no gate decision in the warehouse" in err
    assert f"{tmp_path} has no MANIFEST.sha256" in err
