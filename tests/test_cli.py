"""The command line's exit codes (docs/contract.md section 4)."""

import shutil

import pytest

from pipelines.cli import BuildResult, _exit_code, main
from tests.conftest import TINY, TINY_AS_OF


def test_invalid_policy_exits_2_naming_the_key(tmp_path, capsys):
    policy = tmp_path / "p.yml"
    policy.write_text("sla_hours: {S1: -}\n")
    code = main(["build", "--exports", str(TINY), "--warehouse", str(tmp_path / "w.duckdb"), "--policy", str(policy)])
    assert code == 2
    assert "sla_hours.S1" in capsys.readouterr().err


def test_missing_exports_folder_exits_2(tmp_path, capsys):
    assert main(["build", "--exports", str(tmp_path / "nope"), "--warehouse", str(tmp_path / "w.duckdb")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_strict_turns_quarantined_rows_into_exit_2(tmp_path):
    result = BuildResult(warehouse=tmp_path, reports=[], rejected_files=0, quarantined_rows=1)
    assert _exit_code(result, strict=False) == 0
    assert _exit_code(result, strict=True) == 2
    rejected = BuildResult(warehouse=tmp_path, reports=[], rejected_files=1, quarantined_rows=0)
    assert _exit_code(rejected, strict=False) == 3


def test_strict_fails_on_skipped_documentation(tmp_path):
    skipped = BuildResult(warehouse=tmp_path, reports=[], rejected_files=0, quarantined_rows=0, skipped_files=1)
    assert _exit_code(skipped, strict=False) == 0
    assert _exit_code(skipped, strict=True) == 2


@pytest.mark.slow
def test_unreadable_file_is_reported_and_the_rest_builds(tmp_path, capsys):
    exports = tmp_path / "exports"
    shutil.copytree(TINY, exports)
    (exports / "notes.json").write_text("{not json")
    (exports / "latin1.csv").write_bytes("defect_id,title,created_at\nD99,Caf\xe9,2026-03-01\n".encode("latin-1"))
    code = main(["build", "--exports", str(exports), "--warehouse", str(tmp_path / "w.duckdb"),
                 "--reports", str(tmp_path / "r"), "--as-of", TINY_AS_OF])
    assert code == 3
    out = capsys.readouterr().out
    assert "notes.json" in out and "invalid JSON at line 1 column 2" in out
    assert "latin1.csv" in out and "not valid UTF-8 text: byte 0xe9" in out and "Latin-1" in out
    # the other files still loaded: the escape-rate summary of the tiny fixture is there
    assert "75.0%" in out
