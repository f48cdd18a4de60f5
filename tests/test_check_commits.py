"""`defectflow check-commits` on a real git repository built here, and its agreement with the
warehouse's COMMIT_UNLINKED findings built from the same repository (one rule, two users)."""

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main
from pipelines.delivery import commits
from pipelines.policy import load_policy
from tests.conftest import ROOT, TINY, TINY_AS_OF, modelled_warehouse
from tests.gitrepo import git, write

pytestmark = pytest.mark.slow
BOTS_POLICY = "commits:\n  bots: ['*[bot]']\n"


def _commit(repo: Path, message: str, date: str, author: str = "Ada Lovelace") -> str:
    write(repo, f"{date[:10]}.txt", message + "\n")  # a file per commit: the merge has no conflict
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message, author=author, date=date)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """main: linked, unlinked, [feature/y: linked, unlinked], key in the body, merge of
    feature/y (branch then deleted), a bot's commit, a key after "token:"; and an orphan
    branch `experiment` with an unlinked commit. Every date is before the tiny as-of."""
    path = tmp_path_factory.mktemp("linkage")
    git(path, "init", "-q", "-b", "main")
    sha = {"linked": _commit(path, "PAY-1 Initial import", "2026-03-01T10:00:00+0000"),
           "typo": _commit(path, "Fix a typo", "2026-03-02T10:00:00+0000")}
    git(path, "checkout", "-q", "-b", "feature/y")
    sha["refunds"] = _commit(path, "PAY-2 Add refunds", "2026-03-03T10:00:00+0000")
    sha["wip"] = _commit(path, "wip", "2026-03-04T10:00:00+0000")
    git(path, "checkout", "-q", "main")
    sha["body"] = _commit(path, "Tidy the config\n\nRefs CHK-7.", "2026-03-05T10:00:00+0000")
    git(path, "merge", "-q", "--no-ff", "feature/y", "-m", "Merge branch 'feature/y'", date="2026-03-06T10:00:00+0000")
    sha["merge"] = git(path, "rev-parse", "HEAD")
    git(path, "branch", "-q", "-D", "feature/y")
    sha["bot"] = _commit(path, "Bump requests to 2.32", "2026-03-07T10:00:00+0000", author="dependabot[bot]")
    sha["token"] = _commit(path, "Rotate the token: PAY-12", "2026-03-08T10:00:00+0000")
    git(path, "checkout", "-q", "--orphan", "experiment")
    sha["experiment"] = _commit(path, "try something", "2026-03-09T10:00:00+0000")
    git(path, "checkout", "-q", "main")
    return path, sha


@pytest.fixture(scope="module")
def bots_policy(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("policy") / "policy.yml"
    path.write_text(BOTS_POLICY, encoding="utf-8")
    return path


def _run(repo: Path, *args: str, policy: Path | None = None) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    range_text = dict(zip(args[::2], args[1::2], strict=True))
    code = commits.run(repo, load_policy(policy), range_text.get("--range"), range_text.get("--branch"),
                       out=out, err=err)
    return code, out.getvalue() + err.getvalue()


def _listed(text: str) -> list[str]:
    return [line.split()[0] for line in text.splitlines() if line.startswith("  ")]


def test_the_branch_lists_each_unlinked_commit_merges_and_bots_exempt(repo, bots_policy):
    path, sha = repo
    code, text = _run(path, "--branch", "main", policy=bots_policy)
    assert code == 1
    # newest first, as git log lists them; the merge, the bot, the key in the body and after "token:" pass
    assert _listed(text) == [sha["wip"][:12], sha["typo"][:12]]
    assert text.splitlines()[0] == ("check-commits main: 2 of 8 commit(s) name no defect key "
                                    "(policy.defect_key_pattern [A-Z][A-Z0-9]+-[0-9]+):")
    assert "  " + sha["wip"][:12] + " 2026-03-04T10:00:00+00:00 wip" in text.splitlines()


def test_the_shipped_policy_counts_bots_and_a_policy_can_count_merges(repo, tmp_path):
    path, sha = repo
    code, text = _run(path, "--branch", "main")
    assert code == 1 and _listed(text) == [sha["bot"][:12], sha["wip"][:12], sha["typo"][:12]]
    merges = tmp_path / "merges.yml"
    merges.write_text("commits:\n  ignore_merges: false\n", encoding="utf-8")
    code, text = _run(path, "--branch", "main", policy=merges)
    assert code == 1 and set(_listed(text)) == {sha[k][:12] for k in ("bot", "merge", "wip", "typo")}


def test_a_range_is_checked_on_the_branch_its_tip_names(repo, bots_policy):
    path, sha = repo
    code, text = _run(path, "--range", f"{sha['body']}..main", policy=bots_policy)
    assert code == 1 and _listed(text) == [sha["wip"][:12]]  # the merge brought feature/y's commits
    code, text = _run(path, "--range", f"{sha['merge']}..main", policy=bots_policy)
    assert (code, text.strip()) == (0, "check-commits main: 2 commit(s) checked, none unlinked "
                                       "(production branches: main, master)")


def test_a_branch_that_is_not_a_production_branch_passes(repo, bots_policy):
    path, sha = repo
    code, text = _run(path, "--branch", "experiment", policy=bots_policy)
    assert code == 0 and "1 commit(s) checked, none unlinked" in text
    # the same commit counts once it lands on a production branch
    code, text = _run(path, "--range", f"{sha['token']}..{sha['experiment']}", "--branch", "main",
                      policy=bots_policy)
    assert code == 1 and _listed(text) == [sha["experiment"][:12]]


@pytest.mark.parametrize(("args", "message"), [
    (("--range", "HEAD~1..HEAD~0"), "the range's tip 'HEAD~0' is not a branch: name the branch"),
    (("--range", "--output=/tmp/x"), "not a revision range: '--output=/tmp/x'"),
    (("--branch", "no-such-branch"), "fatal: bad revision 'no-such-branch'"),
])
def test_errors_exit_2_with_the_reason(repo, args, message):
    code, text = _run(repo[0], *args)
    assert code == 2 and message in text


def test_not_a_repository_exits_2(tmp_path):
    code, text = _run(tmp_path, "--branch", "main")
    assert (code, text.strip()) == (2, f"check-commits error: {tmp_path} is not a git repository")


def test_the_command_line_exit_codes(repo, bots_policy, capsys):
    path, sha = repo
    assert main(["check-commits", "--git-repo", str(path), "--branch", "main", "--policy", str(bots_policy)]) == 1
    assert main(["check-commits", "--git-repo", str(path), "--range", f"{sha['merge']}..main",
                 "--policy", str(bots_policy)]) == 0
    assert main(["check-commits", "--git-repo", str(path)]) == 2  # neither --range nor --branch
    assert sha["wip"][:12] in capsys.readouterr().out


def test_the_warehouse_finds_the_same_commits(repo, bots_policy, tmp_path_factory):
    """COMMIT_UNLINKED over the repository built into a warehouse = check-commits on every branch."""
    path, sha = repo
    built = modelled_warehouse(TINY, tmp_path_factory.mktemp("built"), bots_policy, TINY_AS_OF, git_repo=path)
    with duckdb.connect(str(built.warehouse), read_only=True) as con:
        found = con.execute("select entity_id, detail from marts.compliance_findings "
                            "where rule = 'COMMIT_UNLINKED' order by since desc").fetchall()
    assert found == [(sha["wip"], "Commit on main names no defect key"),
                     (sha["typo"], "Commit on main names no defect key")]
    listed = {}
    for branch in ("main", "experiment"):
        _, text = _run(path, "--branch", branch, policy=bots_policy)
        listed[branch] = _listed(text)
    assert listed == {"main": [s[:12] for s, _ in found], "experiment": []}


def test_the_sample_pre_receive_hook_refuses_an_unlinked_push(repo, tmp_path):
    """docs/hooks/pre-receive in a bare repository: a push of linked commits lands, one with an
    unlinked commit is refused naming it, and a new non-production branch is let through."""
    path = repo[0]
    server = tmp_path / "server.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(path), str(server)], check=True,
                   env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"})
    shutil.copy(ROOT / "docs" / "hooks" / "pre-receive", server / "hooks" / "pre-receive")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(server), str(clone))
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    os.environ.update(environment)  # the hook finds defectflow on PATH (restored below)
    try:
        linked = _commit(clone, "PAY-3 Retry the refund", "2026-03-10T10:00:00+0000")
        git(clone, "push", "-q", "origin", "main")
        assert git(server, "rev-parse", "main") == linked
        unlinked = _commit(clone, "quick fix", "2026-03-11T10:00:00+0000")
        with pytest.raises(subprocess.CalledProcessError) as refused:
            git(clone, "push", "-q", "origin", "main")
        assert f"remote:   {unlinked[:12]} 2026-03-11T10:00:00+00:00 quick fix" in refused.value.stderr
        assert git(server, "rev-parse", "main") == linked
        git(clone, "push", "-q", "origin", "main:spike")  # a new branch, not a production one
        assert git(server, "rev-parse", "spike") == unlinked
    finally:
        os.environ["PATH"] = environment["PATH"].split(os.pathsep, 1)[1]
