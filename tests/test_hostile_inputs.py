"""The hostile-input corpus (issue 16): the exports folder is a trust boundary, names are data,
and a damaged warehouse has a way back.

Each case asserts the exit code, the one line the user reads, and that nothing
else was lost. Most need only the ingest or the CLI's early checks; one full
build (`recovered`, module-scoped) exercises them all together: a truncated
warehouse kept inside the exports folder, beside a link out of the folder, a
FIFO and a name carrying terminal escapes. The cases that held before this
corpus (hostile XML, binary, truncated and empty files, deep or duplicate-key
JSON, kill -9) are in tests/test_bad_input.py, tests/test_policy_and_parsing.py
and tests/test_crash_safety.py.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.defs.ingest.loader import load_exports
from pipelines.gate import Finding, GateResult, format_text, run
from pipelines.policy import load_policy
from pipelines.printable import printable
from pipelines.warehouse import connect, own_files, previous_path, recover
from tests.conftest import TINY, TINY_AS_OF

AS_OF = datetime(2026, 3, 31, tzinfo=UTC)
SECRET = "root:x:0:0:SECRET-LINE:/root:/bin/bash"
ESCAPED_NAME = "notes\n\x1b[32mPASS.md"  # a documentation file: skipped with a note naming it
TINY_DEFECTS = 11  # rows tests/fixtures/tiny/defects.csv loads (one is quarantined)


def _cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "defectflow"), *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def _hostile_folder(folder: Path, outside: Path) -> None:
    """The tiny exports, and beside them a link out of the folder, a FIFO and an escaping name."""
    shutil.copytree(TINY, folder)
    outside.write_text(SECRET + "\n", encoding="utf-8")
    (folder / "passwd.csv").symlink_to(outside)
    os.mkfifo(folder / "pipe.csv")
    (folder / ESCAPED_NAME).write_text("read me\n", encoding="utf-8")


def _load(folder: Path, warehouse: Path, own: list[Path] | None = None) -> list[tuple[str, str, str]]:
    with connect(warehouse) as con:
        load_exports(con, folder, load_policy(), AS_OF, own_files=own or [])
        return con.execute("select source_file, status, coalesce(message, '') from raw.load_report "
                           "order by source_file").fetchall()


def _everything_stored(warehouse: Path) -> str:
    """Every text value of every raw table, to search for what must not be there."""
    with connect(warehouse, read_only=True) as con:
        tables = con.execute("select table_name from information_schema.tables where table_schema = 'raw'").fetchall()
        # SQL text: table names from the warehouse's own catalog.
        return "\n".join(str(row) for (name,) in tables for row in con.execute(f"select * from raw.{name}").fetchall())


# --- 1. exports stay inside the exports folder ---------------------------------------------------


def test_a_link_out_of_the_folder_is_skipped_and_nothing_of_its_target_is_stored(tmp_path):
    folder = tmp_path / "exports"
    _hostile_folder(folder, tmp_path / "passwd")
    (folder / "inside.csv").symlink_to(folder / "defects.csv")  # a link within the folder is an export

    rows = _load(folder, tmp_path / "w.duckdb")

    assert (str(folder / "passwd.csv"), "skipped", "link outside the exports folder") in rows
    assert "SECRET-LINE" not in _everything_stored(tmp_path / "w.duckdb")
    with connect(tmp_path / "w.duckdb", read_only=True) as con:  # nothing else lost: both copies loaded
        assert con.execute("select source_file, count(*) from raw.defects group by 1 order by 1").fetchall() == [
            (str(folder / "defects.csv"), TINY_DEFECTS), (str(folder / "inside.csv"), TINY_DEFECTS)]


def test_a_rejected_files_excerpt_is_masked(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "notes.csv").write_text("password=hunter2 mail alice@example.com from 10.1.2.3\n", encoding="utf-8")

    rows = _load(folder, tmp_path / "w.duckdb")

    assert rows == [(str(folder / "notes.csv"), "rejected", "unknown format: not JSON, XML, LCOV or CSV with a "
                     "header row, nor a Go cover profile (first line: 'password=[secret] mail [email] from [ip]')")]


def test_a_fifo_is_listed_as_skipped_and_never_opened(tmp_path):
    folder = tmp_path / "exports"
    _hostile_folder(folder, tmp_path / "passwd")
    # Opened for reading, the FIFO would block the build for ever: the subprocess's timeout is the proof.
    script = ("import sys; from pathlib import Path; from datetime import datetime, UTC;"
              "from pipelines.defs.ingest.loader import load_exports; from pipelines.policy import load_policy;"
              "from pipelines.warehouse import connect\n"
              "with connect(sys.argv[2]) as con:\n"
              "    s = load_exports(con, Path(sys.argv[1]), load_policy(), datetime(2026, 3, 31, tzinfo=UTC))\n"
              "    print([f.message for f in s.files if f.source_file.endswith('pipe.csv')])")
    done = subprocess.run([sys.executable, "-c", script, str(folder), str(tmp_path / "w.duckdb")],
                          capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "['named pipe, not opened']"


def test_a_dangling_link_and_a_loop_of_links_are_listed_not_fatal(tmp_path):
    folder = tmp_path / "exports"
    shutil.copytree(TINY, folder)
    (folder / "dangling.csv").symlink_to(folder / "gone.csv")
    (folder / "loop1").symlink_to(folder / "loop2")
    (folder / "loop2").symlink_to(folder / "loop1")

    rows = _load(folder, tmp_path / "w.duckdb")

    assert [r for r in rows if r[1] != "loaded"] == [
        (str(folder / "dangling.csv"), "skipped", "cannot be read: No such file or directory"),
        (str(folder / "loop1"), "skipped", "cannot be read: a loop of links"),
        (str(folder / "loop2"), "skipped", "cannot be read: a loop of links")]
    assert len([r for r in rows if r[1] == "loaded"]) == 5  # the tiny fixture's five files, all loaded


def test_the_builds_own_files_in_the_folder_are_skipped_with_a_note(tmp_path):
    folder = tmp_path / "exports"
    shutil.copytree(TINY, folder)
    warehouse = folder / "w.duckdb"
    for name in ("w.duckdb.lock", "w.duckdb.build.log", "w.duckdb.previous"):
        (folder / name).write_text("pid 1, started 2026-03-31\n", encoding="utf-8")

    rows = _load(folder, tmp_path / "elsewhere.duckdb", own_files(warehouse))

    note = "the build's own file (the warehouse, its lock, log or copy)"
    assert [r for r in rows if r[1] != "loaded"] == [
        (str(folder / name), "skipped", note) for name in ("w.duckdb.build.log", "w.duckdb.lock", "w.duckdb.previous")]


def test_a_skipped_entry_gone_from_the_folder_leaves_the_report(tmp_path):
    folder = tmp_path / "exports"
    _hostile_folder(folder, tmp_path / "passwd")
    _load(folder, tmp_path / "w.duckdb")
    (folder / "pipe.csv").unlink()

    rows = _load(folder, tmp_path / "w.duckdb")

    assert [r[0] for r in rows if r[1] == "skipped" and r[2] != "documentation, not an export"] == [
        str(folder / "passwd.csv")]


# --- 2. names are data ---------------------------------------------------------------------------


def test_a_name_with_a_newline_and_escapes_is_stored_as_it_is_and_printed_escaped(tmp_path):
    folder = tmp_path / "exports"
    _hostile_folder(folder, tmp_path / "passwd")

    rows = _load(folder, tmp_path / "w.duckdb")

    assert (str(folder / ESCAPED_NAME), "skipped", "documentation, not an export") in rows
    assert printable(ESCAPED_NAME) == "notes\\n\\x1b[32mPASS.md"
    assert printable("a\u202eb\tc\x7f") == "a\\u202eb\\tc\\x7f"  # a bidi override reorders a line too


def test_a_defect_id_cannot_forge_a_pass_line_in_the_gate_output():
    forged = "D1\nrelease gate pay 1.0 -> production: PASS\x1b[2K"
    result = GateResult("pay", "1.0", "production", "HOLD",
                        (Finding("BLOCKING_SEVERITY_OPEN", None, 1, 0, (forged,), (), False),), AS_OF, 2.0)

    lines = format_text(result).split("\n")

    assert lines[0] == "release gate pay 1.0 -> production: HOLD"
    assert lines[2] == ("  HOLD   BLOCKING_SEVERITY_OPEN: 1 open defect(s) of a blocking severity (allowed 0): "
                        "D1\\nrelease gate pay 1.0 -> production: PASS\\x1b[2K")
    assert len(lines) == 3


# --- 3. a way back from a damaged warehouse ------------------------------------------------------


def _truncate(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.truncate(4096)


def _good_warehouse(path: Path) -> None:
    with connect(path) as con:
        con.execute("create table marker as select 42 as answer")


def test_recover_restores_the_previous_copy_and_keeps_the_damaged_file(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    _good_warehouse(previous_path(warehouse))
    shutil.copyfile(previous_path(warehouse), warehouse)
    _truncate(warehouse)

    said = recover(warehouse)

    assert said == f"restored {warehouse} from {previous_path(warehouse)} (the damaged file is kept at " \
                   f"{warehouse}.damaged)"
    with connect(warehouse, read_only=True) as con:
        assert con.execute("select answer from marker").fetchall() == [(42,)]
    assert (tmp_path / "w.duckdb.damaged").stat().st_size == 4096
    assert previous_path(warehouse).exists()


def test_recover_without_a_previous_copy_sets_the_file_aside_for_a_rebuild(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    warehouse.write_bytes(b"DUCK" * 1000)

    assert recover(warehouse) == (f"no readable previous copy: rebuilding {warehouse} from the exports "
                                  f"(the damaged file is at {warehouse}.damaged)")
    assert not warehouse.exists()
    assert recover(warehouse) == f"warehouse {warehouse} is readable: nothing to recover"


def test_gate_on_a_damaged_warehouse_says_so_in_one_line_naming_the_kept_copy(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    _good_warehouse(warehouse)
    shutil.copyfile(warehouse, previous_path(warehouse))
    _truncate(warehouse)
    out, err = io.StringIO(), io.StringIO()

    code = run(warehouse, "pay", "1.0", "production", None, 168.0, out=out, err=err)

    assert code == 2
    [line] = err.getvalue().splitlines()
    assert line.startswith(f"gate error: warehouse {warehouse} cannot be read (")
    assert line.endswith(f"): the previous good copy is kept at {warehouse}.previous; "
                         "run `defectflow build --recover` to restore it and build again")


# --- 4. every failure has a documented exit code and one clear line ------------------------------


@pytest.mark.parametrize(("args", "expected"), [
    (["build", "--warehouse", "{tmp}"], "error: --warehouse {tmp} is a directory: name the warehouse file"),
    (["build", "--reports", "{tmp}/file"],
     "error: {tmp}/file is a file, not a folder: name another --warehouse or --reports"),
    (["build", "--exports", "{tmp}/missing"], "error: exports folder {tmp}/missing does not exist"),
    (["build", "--warehouse", "{tmp}/file/w.duckdb"],
     "error: {tmp}/file is a file, not a folder: name another --warehouse or --reports"),
    (["gate", "--warehouse", "{tmp}", "--service", "pay", "--release", "1.0", "--environment", "production"],
     "gate error: --warehouse {tmp} is a directory: name the warehouse file"),
])
def test_a_path_the_command_cannot_use_is_one_line_and_exit_2(tmp_path, args, expected):
    (tmp_path / "file").write_text("x", encoding="utf-8")
    exports = tmp_path / "exports"
    exports.mkdir()
    defaults = ["--exports", str(exports), "--warehouse", str(tmp_path / "w.duckdb"), "--reports",
                str(tmp_path / "reports")] if args[0] == "build" else []
    given = [a.replace("{tmp}", str(tmp_path)) for a in args]

    done = _cli(*given[:1], *defaults, *given[1:], timeout=120)

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [expected.replace("{tmp}", str(tmp_path))]
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "w.duckdb").exists()  # nothing was built or half-built


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through any permission")
def test_an_unwritable_warehouse_folder_is_one_line_and_exit_2(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    (tmp_path / "exports").mkdir()

    done = _cli("build", "--exports", str(tmp_path / "exports"), "--warehouse", str(locked / "w.duckdb"),
                "--reports", str(tmp_path / "reports"), timeout=120)

    assert (done.returncode, done.stderr.strip()) == (2, f"error: cannot write to {locked}: permission denied")


def test_gate_reads_a_read_only_warehouse(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    with connect(warehouse) as con:
        con.execute("create schema marts")
    warehouse.chmod(0o444)
    out, err = io.StringIO(), io.StringIO()

    code = run(warehouse, "pay", "1.0", "production", None, 168.0, out=out, err=err)

    # opened (read-only) and asked: the tables are missing, not the permission to write
    assert code == 2
    assert err.getvalue().startswith(f"gate error: warehouse {warehouse} has no release gate tables (")


# --- all of it in one real build: a truncated warehouse inside a hostile exports folder ------------


@pytest.fixture(scope="module")
def recovered(tmp_path_factory, tiny_build):
    """A truncated warehouse kept inside a hostile exports folder (its previous copy beside it):
    `build` refuses, `gate` refuses, `build --recover` restores and builds."""
    tmp = tmp_path_factory.mktemp("recovered")
    folder = tmp / "exports"
    _hostile_folder(folder, tmp / "passwd")
    warehouse = folder / "w.duckdb"
    shutil.copyfile(tiny_build.warehouse, warehouse)
    shutil.copyfile(tiny_build.warehouse, previous_path(warehouse))
    (folder / "w.duckdb.build.log").write_text("an earlier build's dbt log\n", encoding="utf-8")
    _truncate(warehouse)
    build = ["build", "--exports", str(folder), "--warehouse", str(warehouse), "--reports", str(tmp / "reports"),
             "--as-of", TINY_AS_OF]
    gate = ["gate", "--warehouse", str(warehouse), "--service", "pay", "--release", "1.0",
            "--environment", "production"]
    refused = _cli(*build, timeout=300)
    gate_refused = _cli(*gate, timeout=120)
    rebuilt = _cli(*build, "--recover")
    gate_after = _cli(*gate, timeout=120)
    return {"warehouse": warehouse, "folder": folder, "refused": refused, "gate_refused": gate_refused,
            "rebuilt": rebuilt, "gate_after": gate_after}


def test_build_and_gate_on_the_truncated_warehouse_say_so_in_one_line(recovered):
    warehouse = recovered["warehouse"]
    for done, prefix in ((recovered["refused"], "error: "), (recovered["gate_refused"], "gate error: ")):
        assert done.returncode == 2
        [line] = done.stderr.strip().splitlines()
        assert line.startswith(f"{prefix}warehouse {warehouse} cannot be read (")
        assert f"the previous good copy is kept at {warehouse}.previous" in line
        assert "Traceback" not in done.stdout + done.stderr


def test_build_recover_ends_with_a_working_warehouse_and_gate_answers(recovered):
    rebuilt, warehouse = recovered["rebuilt"], recovered["warehouse"]
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert f"restored {warehouse} from {warehouse}.previous (the damaged file is kept at {warehouse}.damaged)" \
        in rebuilt.stderr
    # the tiny fixture's verdict for pay 1.0 (tests/test_gate_cli.py): HOLD on D4
    assert recovered["gate_after"].returncode == 1
    assert "BLOCKING_SEVERITY_OPEN" in recovered["gate_after"].stdout
    with connect(warehouse, read_only=True) as con:
        assert con.execute("select count(*) from raw.defects").fetchone() == (TINY_DEFECTS,)
    assert (recovered["folder"] / "w.duckdb.previous").stat().st_size > 4096  # the restored copy, kept again


def test_the_build_lists_every_hostile_entry_and_prints_nothing_of_the_target(recovered):
    out = recovered["rebuilt"].stdout + recovered["rebuilt"].stderr
    assert "SECRET-LINE" not in out and "SECRET-LINE" not in _everything_stored(recovered["warehouse"])
    assert "    passwd.csv (-, -): skipped, 0 read, 0 loaded, 0 quarantined\n" \
           "        link outside the exports folder" in out
    assert "    pipe.csv (-, -): skipped, 0 read, 0 loaded, 0 quarantined\n        named pipe, not opened" in out
    assert "    notes\\n\\x1b[32mPASS.md (documentation, -): skipped" in out
    assert "\x1b" not in recovered["rebuilt"].stdout
    own = [line for line in out.splitlines() if line.startswith("    w.duckdb")]
    assert own == [f"    w.duckdb{name} (-, -): skipped, 0 read, 0 loaded, 0 quarantined"
                   for name in ("", ".build.log", ".damaged", ".lock", ".previous")]
    assert "        the build's own file (the warehouse, its lock, log or copy)" in out
