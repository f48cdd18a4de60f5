"""Real git repositories built by tests: commits with chosen authors and dates, no user config."""

import os
import subprocess
from pathlib import Path


def git(repo: Path, *args: str, author: str = "Ada Lovelace", date: str = "2024-01-01T00:00:00+0000") -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,  # the developer's own config must not change the history
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
    }
    identity = ("-c", f"user.name={author}", "-c", "user.email=dev@example.com", "-c", "commit.gpgsign=false")
    done = subprocess.run(["git", "-C", str(repo), *identity, *args], env=env, check=True,
                          capture_output=True, text=True)
    return done.stdout.strip()


def write(repo: Path, name: str, text: str) -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
