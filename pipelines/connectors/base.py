"""What every connector shares: its connection, its token, its cursor, and one checked GET.

The cursor file sits beside the warehouse, not in the exports folder: ingest reads every file
of the exports folder as an export, and the cursor is the warehouse's bookkeeping, lost with it
(a fresh warehouse pulls everything again, which is what it needs).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines import outbound


class ConnectorError(Exception):
    """A pull that cannot go on; the message names the source and never holds the token."""


@dataclass(frozen=True)
class Connection:
    """`sources.<name>.connection` in the policy."""

    base_url: str
    auth: str = "bearer"  # bearer (PAT), basic (Jira Cloud: email + API token), token (GitHub/PagerDuty)
    token_env: str | None = None
    token_file: str | None = None
    email_env: str | None = None
    query: str | None = None
    project: str | None = None
    page_size: int = 100

    @classmethod
    def from_policy(cls, block: Mapping[str, Any]) -> Connection:
        return cls(**{key: block[key] for key in cls.__dataclass_fields__ if key in block})


def read_token(source: str, connection: Connection) -> str:
    """The API token from `token_env` or `token_file`; errors name the source and the place, never a value."""
    if connection.token_env:
        try:
            return outbound.token_from_env(connection.token_env)
        except outbound.OutboundError as exc:
            raise ConnectorError(f"{source}: {exc}") from None
    if connection.token_file:
        path = Path(os.path.expanduser(connection.token_file))
        token = path.read_text(encoding="utf-8").strip() if path.is_file() else ""
        if not token:
            raise ConnectorError(f"{source}: token file {path} is missing or empty")
        return token
    raise ConnectorError(f"{source}: connection needs token_env or token_file")


@dataclass
class Cursors:
    """Per-source cursors of incremental pulls, in one small JSON file."""

    path: Path

    def get(self, source: str) -> str | None:
        return self._load().get(source)

    def set(self, source: str, cursor: str) -> None:
        cursors = {**self._load(), source: cursor}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(cursors, indent=2, sort_keys=True), encoding="utf-8")
        tmp.replace(self.path)  # a crash mid-write must not lose every source's cursor

    def _load(self) -> dict[str, str]:
        return json.loads(self.path.read_text(encoding="utf-8")) if self.path.is_file() else {}


Sleep = Callable[[float], None]


def fetch(source: str, url: str, token: str, scheme: str, sleep: Sleep = time.sleep) -> outbound.Delivery:
    """One GET through outbound's retry rules; any final failure is an error naming the source."""
    delivery = outbound.get_json(url, token=token, scheme=scheme, sleep=sleep)
    if delivery.ok:
        if delivery.headers.get("X-RateLimit-Remaining") == "0":
            # The next page would be refused: wait for the window GitHub announces, capped like Retry-After.
            sleep(min(outbound.rate_limit_reset_wait(delivery.headers), outbound.MAX_RETRY_AFTER))
        return delivery
    hint = " (check the token and its permissions)" if delivery.status in (401, 403) else ""
    raise ConnectorError(f"{source}: GET {delivery.url} failed after {delivery.attempts} attempt(s): "
                         f"{delivery.error}{hint}")


def write_page(folder: Path, name: str, doc: Any) -> Path:
    """One API page as one export file, written whole (a reader never sees half a page)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    tmp = path.with_suffix(".part")
    tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    tmp.replace(path)
    return path


def pull_stamp() -> str:
    """Names one pull's files; to the microsecond, so two quick pulls never overwrite each other's pages."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
