"""`defectflow pull`: every source with a `connection` in the policy, fetched into the exports folder."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from pipelines.connectors import github, gitlab, jira, pagerduty
from pipelines.connectors.base import Connection, Cursors
from pipelines.policy import Policy

log = logging.getLogger("defectflow.pull")

Puller = Callable[[Connection, Path, Cursors], list[Path]]
CONNECTORS: dict[str, Puller] = {"jira": jira.pull, "github": github.pull, "pagerduty": pagerduty.pull,
                                 "gitlab": gitlab.pull}


def cursor_file(warehouse: Path) -> Path:
    """Beside the warehouse (see base.py): `warehouse.duckdb` -> `warehouse.pull-state.json`."""
    return warehouse.with_name(f"{warehouse.stem}.pull-state.json")


def connected(policy: Policy) -> dict[str, Connection]:
    """The sources the policy gives a connection for, in the connectors' order."""
    mappings = {name: policy.sources.get(name) for name in CONNECTORS}  # type: ignore[call-overload]
    return {name: Connection.from_policy(mapping.connection.model_dump())
            for name, mapping in mappings.items() if mapping is not None and mapping.connection is not None}


def run_pull(policy: Policy, exports: Path, warehouse: Path,
             connections: dict[str, Connection] | None = None) -> dict[str, list[Path]]:
    """Pull each connected source; a failing source stops the pull (its error names it).

    `connections`: the Dagster resources' (the policy's, with their overrides); default the policy's.
    """
    cursors = Cursors(cursor_file(warehouse))
    cursors.path.parent.mkdir(parents=True, exist_ok=True)
    pulled = {}
    chosen = connected(policy) if connections is None else connections
    for name, connection in chosen.items():
        pulled[name] = CONNECTORS[name](connection, exports, cursors)
        log.info("%s: %d page(s) written to %s", name, len(pulled[name]), exports / name)
    return pulled
