"""Commits from a git repository, read with git itself (`--git-repo PATH`).

One `git log` process streams the whole history; its output is parsed as it
arrives, so memory holds the rows, not the log text. The format:

    \\x1e<sha>\\0<ref>\\0<committer date>\\0<author>\\0<parents>\\0<message>\\0\\n<path>\\0...

(`-z` ends each field and path with NUL, and puts a newline before the
first path of a commit.) Choices:

- `--all` minus `refs/stash`, `refs/notes/*` and `refs/remotes/*/HEAD`:
  every branch, tag, remote and HEAD, but not stashed work or notes, which
  are not commits of the code, nor `origin/HEAD`, an alias that would
  otherwise name the default branch's commits `HEAD`.
- `branch` is the ref by which `git log --source` first reached the commit,
  `refs/heads/` (or `refs/remotes/<remote>/`) removed, so a clone that only
  has `origin/main` still matches `policy.production_branches`. A commit on
  several branches gets one of them.
- `files`: for a merge, the paths it changed relative to its first parent
  (what the merge brought into the branch); `--no-renames`, so a rename lists
  both the old and the new path (both changed) whatever the user's git config.
- `parents`: the parent shas, `;`-separated (two or more: a merge, which
  `policy.commits.ignore_merges` can leave out of COMMIT_UNLINKED).
- `author` is `%aN`: the author's name after `.mailmap`. Messages are asked
  for in UTF-8; paths are bytes in git, decoded as UTF-8 (invalid bytes
  replaced).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO

from pipelines.defs.ingest.adapters.base import FormatError, Parsed, Row

NAME = "git log"
SOURCE = "git"

_RECORD = "\x1e"
_FORMAT = "%x1e%H%x00%S%x00%cI%x00%aN%x00%P%x00%B"
_LOG = (
    "log", "--no-color", "--no-show-signature", "--no-renames", "--diff-merges=first-parent",
    "--name-only", "-z", "--source", f"--format={_FORMAT}",
)
EVERY_REF = ("--exclude=refs/stash", "--exclude=refs/notes/*", "--exclude=refs/remotes/*/HEAD", "--all")
_CHUNK = 1 << 20


def read_git(repo: Path, revisions: Sequence[str] = EVERY_REF) -> Parsed:
    """The commits `git log <revisions>` lists (by default all those reachable from the
    repository's refs), as canonical `commits` rows."""
    git = shutil.which("git")
    if git is None:
        raise FormatError("git is not installed (or not on PATH); it is needed to read --git-repo")
    if not repo.is_dir():
        raise FormatError(f"{repo}: no such directory")
    with tempfile.TemporaryFile() as errors:
        # stderr goes to a file: a pipe nobody reads could fill up and stall git.
        command = [git, "-C", str(repo), "-c", "i18n.logOutputEncoding=UTF-8", *_LOG, *revisions, "--"]
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors) as process:
            assert process.stdout is not None
            rows = list(_commits(_tokens(process.stdout)))
        if process.returncode != 0:
            errors.seek(0)
            message = errors.read().decode("utf-8", "replace").strip()
            if "not a git repository" in message:
                raise FormatError(f"{repo} is not a git repository")
            raise FormatError(f"git log failed in {repo}: {message or f'exit code {process.returncode}'}")
    return Parsed({"commits": rows})


def _tokens(stream: IO[bytes]) -> Iterator[str]:
    """The NUL-separated fields of the log, decoded, as they arrive."""
    rest = b""
    while chunk := stream.read(_CHUNK):
        parts = (rest + chunk).split(b"\0")
        rest = parts.pop()
        for part in parts:
            yield part.decode("utf-8", "replace")
    if rest:
        yield rest.decode("utf-8", "replace")


def _commits(tokens: Iterable[str]) -> Iterator[Row]:
    row: Row | None = None
    files: list[str] = []
    stream = iter(tokens)
    for token in stream:
        if token.startswith(_RECORD):
            if row is not None:
                yield {**row, "files": ";".join(files) or None}
            header = [next(stream, None) for _ in range(5)]
            if None in header:
                raise FormatError("git log output ended in the middle of a commit")
            source, committed_at, author, parents, message = header
            row = {
                "sha": token[len(_RECORD):],
                "branch": branch_name(source),
                "committed_at": committed_at or None,
                "author": author or None,
                "parents": ";".join(parents.split()) or None,
                "message": message.rstrip("\n") or None,
            }
            files = []
        else:
            path = token if files else token.removeprefix("\n")
            if path:
                files.append(path)
    if row is not None:
        yield {**row, "files": ";".join(files) or None}


def branch_name(source: str | None) -> str | None:
    """`refs/heads/x` and `refs/remotes/<remote>/x` -> `x`; other refs (tags, HEAD) as given."""
    if not source:
        return None
    if source.startswith("refs/heads/"):
        return source[len("refs/heads/"):]
    if source.startswith("refs/remotes/"):
        return source[len("refs/remotes/"):].partition("/")[2] or source
    return source
