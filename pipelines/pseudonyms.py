"""The per-installation secret that keys the person pseudonyms (docs/contract.md, Personal data).

Staging replaces every person's name with `person-` and 10 hex digits of an
HMAC-SHA256 of the name (dbt macro `person_key`). An unkeyed hash would let
anyone holding the warehouse try names until one matches; keyed, that needs the
secret, which lives in a file of the installation, never in the warehouse.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

KEY_ENV = "DEFECTFLOW_PSEUDONYM_KEY"  # the key file's path; dbt's pre-hook reads it from here too
KEY_BYTES = 64  # HMAC-SHA256's block size: the key is used as it is, neither hashed nor padded


class PseudonymKeyError(RuntimeError):
    """The key file exists but cannot be the key (wrong size); replacing it would change every pseudonym."""


def key_file() -> Path:
    """`$DEFECTFLOW_PSEUDONYM_KEY` when set, else `$XDG_CONFIG_HOME/defectflow/pseudonym.key`
    (default `~/.config/...`): outside the warehouse's folder, which is copied and shared."""
    configured = os.environ.get(KEY_ENV)
    if configured:
        return Path(configured).expanduser()
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "defectflow" / "pseudonym.key"


def ensure_key() -> Path:
    """The key file, created with fresh random bytes (mode 0600) on first use. Two builds
    starting at once agree: the file appears whole (a hard link of a finished file) or not at all."""
    path = key_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as sink:
            sink.write(secrets.token_bytes(KEY_BYTES))
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    size = path.stat().st_size
    if size != KEY_BYTES:
        raise PseudonymKeyError(f"pseudonym key {path} holds {size} bytes, not {KEY_BYTES}: restore it "
                                f"(pseudonyms change with the key), or delete it to start a new one")
    return path


def dbt_environment() -> dict[str, str]:
    """The variable a dbt child process needs for staging's person_key (macro set_person_key)."""
    return {KEY_ENV: str(ensure_key())}
