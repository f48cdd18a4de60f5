"""`defectflow check-commits`: the production commits of a push or a CI range that name no
defect key, by the warehouse's own COMMIT_UNLINKED rule (docs/metrics.md "Compliance findings").

The rule has one definition, the `commit_is_unlinked` macro of the dbt project: the
warehouse applies it in stg_exports__commits, this command renders the same macro
(`pipelines.delivery.macros`) and runs it in an in-memory DuckDB over the commits git lists, with the
policy's values bound as parameters. Commits are read by the build's own git reader.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import duckdb

from pipelines.defs.ingest.adapters.base import FormatError
from pipelines.defs.ingest.adapters.git import branch_name, read_git
from pipelines.defs.ingest.manifest import insert_rows
from pipelines.delivery.macros import render
from pipelines.policy import Policy

EXIT_OK, EXIT_UNLINKED, EXIT_ERROR = 0, 1, 2
# git's own range syntax; `--not` and `--all` let a pre-receive hook name a new branch's
# commits ("NEW --not --all"). Any other option could make `git log` write files.
RANGE_OPTIONS = ("--not", "--all")
_FIELDS = ("sha", "committed_at", "author", "message", "parents")


class CheckError(Exception):
    """No verdict can be given (exit 2); the message says why."""


@dataclass(frozen=True)
class UnlinkedCommit:
    sha: str
    committed_at: str
    subject: str


@dataclass(frozen=True)
class CommitCheck:
    branch: str
    checked: int
    unlinked: tuple[UnlinkedCommit, ...]

    @property
    def exit_code(self) -> int:
        return EXIT_UNLINKED if self.unlinked else EXIT_OK


@functools.cache
def rule_sql() -> str:
    """The macro's predicate over table `c`, the policy's values as named parameters."""
    return render(
        "{{ commit_is_unlinked(branch='$branch', message='c.message', author='c.author', parents='c.parents', "
        "production_branches='$production_branches', key_pattern='$key_pattern', "
        "bot_pattern='$bot_pattern', ignore_merges='$ignore_merges') }}"
    )


def revisions(range_text: str | None, branch: str | None, since: str | None) -> list[str]:
    """What `git log` lists: the range, else everything reachable from the branch; `--since` narrows both."""
    tokens = range_text.split() if range_text else [branch or ""]
    bad = [t for t in tokens if not t or (t.startswith("-") and t not in RANGE_OPTIONS)]
    if bad or not tokens:
        raise CheckError(f"not a revision range: {range_text or branch!r} (e.g. A..B, or NEW --not --all)")
    return [*([f"--since={since}"] if since else []), *tokens]


def target_branch(repo: Path, range_text: str | None, branch: str | None) -> str:
    """The branch the commits land on: --branch, else the branch the range's tip names."""
    if branch:
        return branch
    tip = (range_text or "").split()[0].rpartition("..")[2] or "HEAD"
    command = [shutil.which("git") or "git", "-C", str(repo), "rev-parse", "--symbolic-full-name", tip, "--"]
    named = subprocess.run(command, capture_output=True, text=True, check=False).stdout.splitlines()
    ref = named[0] if named else ""
    if not ref.startswith(("refs/heads/", "refs/remotes/")):
        raise CheckError(f"the range's tip {tip!r} is not a branch: name the branch the commits land on "
                         "with --branch")
    return branch_name(ref) or ref


def check(repo: Path, policy: Policy, range_text: str | None, branch: str | None,
          since: str | None = None) -> CommitCheck:
    """The commits of the range (or branch) that break COMMIT_UNLINKED, in `git log` order."""
    try:
        rows = read_git(repo, revisions(range_text, branch, since)).tables["commits"]
    except FormatError as exc:
        raise CheckError(str(exc)) from exc
    on = target_branch(repo, range_text, branch)
    with duckdb.connect() as con:
        con.execute("create table c (position integer, sha varchar, committed_at varchar, author varchar, "
                    "message varchar, parents varchar)")
        insert_rows(con, "c", ["integer", *["varchar"] * 5],
                    [(i, *(row[name] for name in _FIELDS)) for i, row in enumerate(rows)])
        found = con.execute(
            "select sha, committed_at, coalesce(split_part(message, chr(10), 1), '') from c where "
            + rule_sql() + " order by position",
            {"branch": on, "production_branches": policy.production_branches,
             "key_pattern": policy.defect_key_pattern, "bot_pattern": policy.commits.bot_pattern,
             "ignore_merges": policy.commits.ignore_merges},
        ).fetchall()
    return CommitCheck(branch=on, checked=len(rows), unlinked=tuple(UnlinkedCommit(*row) for row in found))


def format_text(result: CommitCheck, policy: Policy) -> str:
    if not result.unlinked:
        return (f"check-commits {result.branch}: {result.checked} commit(s) checked, none unlinked "
                f"(production branches: {', '.join(policy.production_branches) or 'none'})")
    lines = [f"check-commits {result.branch}: {len(result.unlinked)} of {result.checked} commit(s) name no "
             f"defect key (policy.defect_key_pattern {policy.defect_key_pattern}):"]
    lines += [f"  {c.sha[:12]} {c.committed_at} {c.subject}" for c in result.unlinked]
    return "\n".join(lines)


def run(repo: Path, policy: Policy, range_text: str | None, branch: str | None, since: str | None = None,
        out: TextIO | None = None, err: TextIO | None = None) -> int:
    """What the command does: print the verdict, return 0 (none unlinked), 1 (some) or 2 (error)."""
    try:
        result = check(repo, policy, range_text, branch, since)
    except CheckError as exc:
        print(f"check-commits error: {exc}", file=err or sys.stderr)
        return EXIT_ERROR
    print(format_text(result, policy), file=out or sys.stdout)
    return result.exit_code
