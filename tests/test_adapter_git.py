"""Unit tests: commits read from a real git repository built here with known content."""

import os
import subprocess
from datetime import UTC

import pytest

from pipelines.defs.ingest.adapters.base import FormatError
from pipelines.defs.ingest.adapters.git import read_git
from tests.gitrepo import git as _git
from tests.gitrepo import write as _write


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """main: initial -> spaced-file edit -> merge of feature/x -> rename; feature/x: one commit; plus a stash."""
    repo = tmp_path_factory.mktemp("repo")
    _git(repo, "init", "-q", "-b", "main")
    _write(repo, "a.txt", "a\n")
    _write(repo, "docs/read me.md", "hello\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "PAY-1 Initial import\n\nAdds the pool and its docs.\n",
         date="2024-03-01T10:00:00+0200")
    initial = _git(repo, "rev-parse", "HEAD")

    _git(repo, "checkout", "-q", "-b", "feature/x")
    _write(repo, "f.txt", "feature\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "PAY-2 Add feature", author="Grace Hopper", date="2024-03-02T09:00:00+0000")
    feature = _git(repo, "rev-parse", "HEAD")

    _git(repo, "checkout", "-q", "main")
    _write(repo, "docs/read me.md", "hello again\n")
    _git(repo, "commit", "-q", "-am", "Touch the spaced file", date="2024-03-03T12:00:00-0500")
    spaced = _git(repo, "rev-parse", "HEAD")

    _git(repo, "merge", "-q", "--no-ff", "feature/x", "-m", "Merge branch 'feature/x'",
         date="2024-03-04T08:00:00+0000")
    merge = _git(repo, "rev-parse", "HEAD")

    (repo / "src").mkdir()
    _git(repo, "mv", "a.txt", "src/a.txt")
    _git(repo, "commit", "-q", "-m", "PAY-3 Move a.txt", date="2024-03-05T09:30:00+0100")
    rename = _git(repo, "rev-parse", "HEAD")

    _write(repo, "f.txt", "work in progress\n")
    _git(repo, "stash", "-q")  # stash commits are not history
    shas = {"initial": initial, "feature": feature, "spaced": spaced, "merge": merge, "rename": rename}
    return repo, shas


def test_every_commit_once_with_all_fields(history):
    repo, sha = history
    parsed = read_git(repo)
    rows = {row["sha"]: row for row in parsed.tables["commits"]}
    assert len(parsed.tables["commits"]) == 5 and set(rows) == set(sha.values())

    assert rows[sha["initial"]] == {
        "sha": sha["initial"],
        "branch": rows[sha["initial"]]["branch"],  # on both branches: either name is right
        "committed_at": "2024-03-01T10:00:00+02:00",
        "author": "Ada Lovelace",
        "parents": None,
        "message": "PAY-1 Initial import\n\nAdds the pool and its docs.",
        "files": "a.txt;docs/read me.md",
    }
    assert rows[sha["initial"]]["branch"] in {"main", "feature/x"}
    assert rows[sha["feature"]] == {
        "sha": sha["feature"], "branch": "feature/x", "committed_at": "2024-03-02T09:00:00+00:00",
        "author": "Grace Hopper", "parents": sha["initial"], "message": "PAY-2 Add feature", "files": "f.txt",
    }
    assert rows[sha["spaced"]] == {
        "sha": sha["spaced"], "branch": "main", "committed_at": "2024-03-03T12:00:00-05:00",
        "author": "Ada Lovelace", "parents": sha["initial"], "message": "Touch the spaced file",
        "files": "docs/read me.md",
    }
    # a merge lists what it brought into main: the diff against its first parent
    assert rows[sha["merge"]] == {
        "sha": sha["merge"], "branch": "main", "committed_at": "2024-03-04T08:00:00+00:00",
        "author": "Ada Lovelace", "parents": f"{sha['spaced']};{sha['feature']}",
        "message": "Merge branch 'feature/x'", "files": "f.txt",
    }
    # a rename lists the old and the new path
    assert rows[sha["rename"]] == {
        "sha": sha["rename"], "branch": "main", "committed_at": "2024-03-05T09:30:00+01:00",
        "author": "Ada Lovelace", "parents": sha["merge"], "message": "PAY-3 Move a.txt",
        "files": "a.txt;src/a.txt",
    }


def test_remote_branch_names_lose_the_remote(history, tmp_path):
    origin, sha = history
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(origin), str(clone)], check=True,
                   env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"})
    _git(clone, "update-ref", "-d", "refs/heads/main")  # only origin/main and origin/feature/x remain
    rows = {row["sha"]: row for row in read_git(clone).tables["commits"]}
    assert rows[sha["rename"]]["branch"] == "main"
    assert rows[sha["feature"]]["branch"] == "feature/x"


def test_empty_repository_has_no_commits(tmp_path):
    _git(tmp_path, "init", "-q")
    assert read_git(tmp_path).tables == {"commits": []}


def test_not_a_repository(tmp_path):
    with pytest.raises(FormatError, match="is not a git repository"):
        read_git(tmp_path)
    with pytest.raises(FormatError, match="no such directory"):
        read_git(tmp_path / "missing")


def test_git_not_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FormatError, match="git is not installed"):
        read_git(tmp_path)


def test_the_ingest_loads_the_repository_once_and_again_only_when_it_changes(history, tmp_path):
    from datetime import datetime

    from pipelines.defs.ingest.loader import load_exports
    from pipelines.policy import load_policy
    from pipelines.warehouse import connect

    repo, shas = history
    exports = tmp_path / "exports"
    exports.mkdir()
    as_of = datetime(2024, 6, 1, tzinfo=UTC)
    with connect(tmp_path / "w.duckdb") as con:
        first = load_exports(con, exports, load_policy(), as_of, git_repo=repo)
        report = [f for f in first.files if f.source_file == f"git:{repo}"]
        assert [(r.format, r.entity, r.rows_loaded) for r in report] == [("git log", "commits", len(shas))]
        assert con.execute("select count(*), count(distinct source_system) from raw.commits").fetchall() == [
            (len(shas), 1)]
        assert load_exports(con, exports, load_policy(), as_of, git_repo=repo).reread == []
        _write(repo, "new.txt", "x\n")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", "one more", date="2024-02-01T00:00:00+0000")
        again = load_exports(con, exports, load_policy(), as_of, git_repo=repo)
        assert again.reread == [f"git:{repo}"]
        assert con.execute("select count(*) from raw.commits").fetchall()[0][0] == len(shas) + 1
