"""`defectflow notify`: tell release managers about high-severity defects in an active
deployment stream, once per defect, state and webhook (docs/contract.md "notify";
"active deployment stream" is defined in docs/metrics.md, Notifications).

What was sent is kept in the warehouse, in `history.notifications`: a table no
build creates or drops, so the build's copy of the warehouse carries it over
like the other history tables. It is written in place, under the warehouse's
single-writer lock, so no build can swap in a copy taken before the write.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import duckdb

from pipelines import outbound
from pipelines.outbound import Delivery, OutboundError, post_json, token_from_env
from pipelines.policy import ENVIRONMENTS, Notify, Webhook
from pipelines.warehouse import WarehouseBusy, connect, writer_lock

log = logging.getLogger("defectflow.notify")

EXIT_SENT, EXIT_DELIVERY_FAILED, EXIT_ERROR = 0, 1, 2
STATE_TABLE = "history.notifications"
PAYLOAD_TYPE = "defectflow.defect_notification"
PAYLOAD_VERSION = 1

_CREATE_STATE = """
create schema if not exists history;
create table if not exists history.notifications (
    notified_at timestamptz not null,
    as_of timestamptz not null,
    webhook varchar not null,
    defect_id varchar not null,
    state varchar not null,
    severity varchar,
    service varchar,
    release varchar,
    delivered boolean not null,
    http_status integer,
    attempts integer not null,
    error varchar
)
"""

# The release streams still under way at the as-of. What each (environment,
# service) runs is version_skew's last day, which describes the end of the
# service's last deployment day: nothing has changed since. A release is
# active when it runs somewhere and either a canary slot runs it, or it is
# not what production's fleet runs and not behind it in release order
# (unknown positions count as not behind: a release only ever deployed to
# staging has none).
_ACTIVE_RELEASES = """
with latest as (
    select * from marts.version_skew
    qualify row_number() over (partition by environment, service order by day desc) = 1
),

running as (
    unpivot latest
    on full_release as 'full', blue_release as 'blue', green_release as 'green', canary_release as 'canary'
    into name segment value release
),

production as (
    select
        l.service,
        coalesce(l.full_release, l.blue_release, l.green_release) as release,
        o.release_position
    from latest as l
    left join marts.release_order as o
        on l.service = o.service and coalesce(l.full_release, l.blue_release, l.green_release) = o.release
    where l.environment = 'production'
),

flagged as (
    select
        r.service,
        r.release,
        r.environment,
        r.segment,
        r.segment = 'canary'
        or p.release is null
        or (r.release <> p.release and coalesce(o.release_position > p.release_position, true)) as keeps_active
    from running as r
    left join production as p on r.service = p.service
    left join marts.release_order as o on r.service = o.service and r.release = o.release
)

select
    service,
    release,
    list({'environment': environment, 'segment': segment}
         order by list_position($environments, environment), environment, segment) as rollout
from flagged
group by service, release
having bool_or(keeps_active)
"""

# Defects of a notifying severity attributed to an active release, for every
# webhook that has not yet been sent the defect in its current state.
_PENDING = """
with active as ({active}),

sent as ({sent})

select
    w.webhook,
    d.defect_id,
    d.severity,
    d.status as state,
    d.title,
    d.url,
    d.service,
    d.attributed_release as release,
    a.rollout
from marts.fct_defects as d
inner join active as a on d.service = a.service and d.attributed_release = a.release
cross join unnest($webhooks) as w (webhook)
where
    not d.is_duplicate
    and list_contains($severities, d.severity)
    and not exists (
        select 1 from sent as s
        where s.webhook = w.webhook and s.defect_id = d.defect_id and s.state = d.status
    )
order by list_position($webhooks, w.webhook), d.severity, d.defect_id
"""

_SENT = "select webhook, defect_id, state from history.notifications where delivered"
_NOTHING_SENT = "select null::varchar as webhook, null::varchar as defect_id, null::varchar as state where false"


class NotifyError(Exception):
    """notify cannot run; the message says why and what to do (exit 2)."""


@dataclass(frozen=True)
class Notice:
    """One defect in one state, as every webhook is told about it."""

    defect_id: str
    severity: str
    state: str
    title: str
    url: str | None
    service: str
    release: str
    rollout: tuple[tuple[str, str], ...]  # (environment, segment) where the release runs
    as_of: datetime

    @property
    def environments(self) -> list[str]:
        return list(dict.fromkeys(environment for environment, _ in self.rollout))

    def where(self) -> str:
        """Where the release runs, e.g. `staging, production (canary)`."""
        return ", ".join(environment if segment == "full" else f"{environment} ({segment})"
                         for environment, segment in self.rollout)


@dataclass(frozen=True)
class Pending:
    webhook: Webhook
    notice: Notice


def pending(con: duckdb.DuckDBPyConnection, settings: Notify, as_of: datetime) -> list[Pending]:
    """What to send: one row per webhook and defect not yet sent in its current state."""
    has_state = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'history' and table_name = 'notifications'"
    ).fetchone()[0]
    # SQL text: two fixed fragments; every value is bound.
    sql = _PENDING.format(active=_ACTIVE_RELEASES, sent=_SENT if has_state else _NOTHING_SENT)
    hooks = {hook.name: hook for hook in settings.webhooks}
    rows = con.execute(sql, {"environments": list(ENVIRONMENTS), "webhooks": list(hooks),
                             "severities": settings.severities}).fetchall()
    return [
        Pending(hooks[webhook], Notice(defect_id, severity, state, title or "", url or None, service, release,
                                       tuple((r["environment"], r["segment"]) for r in rollout), as_of))
        for webhook, defect_id, severity, state, title, url, service, release, rollout in rows
    ]


def _as_of_text(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def json_message(notice: Notice) -> dict[str, Any]:
    """The generic JSON payload (docs/contract.md, notify). The title is the marts' masked one."""
    return {
        "type": PAYLOAD_TYPE,
        "version": PAYLOAD_VERSION,
        "defect_id": notice.defect_id,
        "severity": notice.severity,
        "state": notice.state,
        "title": notice.title,
        "service": notice.service,
        "release": notice.release,
        "environments": notice.environments,
        "rollout": [{"environment": environment, "segment": segment} for environment, segment in notice.rollout],
        "url": notice.url,
        "as_of": _as_of_text(notice.as_of),
    }


def slack_escape(text: str) -> str:
    """Slack's mrkdwn escaping: `&`, `<` and `>` are control characters there."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(notice: Notice) -> str:
    label = slack_escape(notice.defect_id)
    if notice.url and notice.url.startswith(("https://", "http://")):
        # `|` ends a link's URL in Slack's <url|label> syntax; percent-encoded it is the same URL.
        return f"<{slack_escape(notice.url).replace('|', '%7C')}|{label}>"
    return label


def slack_message(notice: Notice) -> dict[str, Any]:
    """A Slack incoming-webhook message: `text` for notifications and clients without
    blocks, `blocks` for the channel."""
    headline = (f"{notice.severity} defect {notice.defect_id} ({notice.state}) in {notice.service} "
                f"{notice.release}, rolling out: {notice.where()}")
    return {
        "text": slack_escape(f"{headline}: {notice.title}"),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": (
                f"*{notice.severity}* {_slack_link(notice)} is *{slack_escape(notice.state)}*: "
                f"{slack_escape(notice.title)}")}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(
                f"{notice.service} {notice.release} · rolling out: {notice.where()} · "
                f"as of {_as_of_text(notice.as_of)}")}]},
        ],
    }


MESSAGES: dict[str, Callable[[Notice], dict[str, Any]]] = {"slack": slack_message, "json": json_message}


def idempotency_key(webhook: str, notice: Notice) -> str:
    """The same for every try of one message, so a receiver can drop a repeat of a retried post."""
    text = "\0".join(("defectflow-notify", webhook, notice.defect_id, notice.state))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _as_of(con: duckdb.DuckDBPyConnection) -> datetime:
    row = con.execute("select max(as_of) from marts.build_metadata").fetchone()
    if row is None or row[0] is None:
        raise NotifyError("the warehouse has no as-of (marts.build_metadata is empty): run `defectflow build`")
    return row[0]


def _describe(item: Pending) -> str:
    notice = item.notice
    return (f"{item.webhook.name}: {notice.severity} {notice.defect_id} ({notice.state}) "
            f"{notice.service} {notice.release} [{notice.where()}]")


def dry_run(warehouse: Path, settings: Notify, out: TextIO) -> int:
    """Print every message that would be sent, with its payload; write nothing."""
    with connect(warehouse, read_only=True) as con:
        items = pending(con, settings, _as_of(con))
    for item in items:
        print(f"would send to {_describe(item)}", file=out)
        print(json.dumps(MESSAGES[item.webhook.format](item.notice), indent=2, ensure_ascii=False), file=out)
    print(f"{len(items)} message(s) would be sent; nothing was sent or recorded (--dry-run)", file=out)
    return EXIT_SENT


@dataclass(frozen=True)
class Target:
    """Where one webhook's messages go: its URL and token, read from the environment when named there."""

    url: str
    token: str | None


def _url(hook: Webhook) -> str:
    url = hook.url or os.environ.get(hook.url_env or "", "").strip()
    if not url.startswith(("https://", "http://")):
        raise NotifyError(f"webhook {hook.name}: environment variable {hook.url_env} must hold its "
                          "http(s) URL (it is not set, empty or not a URL)")
    return url


def targets(webhooks: Iterable[Webhook]) -> dict[str, Target]:
    """Every webhook's URL and token, before anything is sent: a missing variable stops the run."""
    found = {}
    for hook in webhooks:
        try:
            token = token_from_env(hook.token_env) if hook.token_env else None
        except OutboundError as exc:
            raise NotifyError(f"webhook {hook.name}: {exc}") from None
        found[hook.name] = Target(_url(hook), token)
    return found


def _hide_urls(where: dict[str, Target]) -> Callable[[str], str]:
    """Each webhook's URL, and its path (a connection error names only the path), as
    `[webhook NAME]`: a Slack webhook's URL is its secret."""
    secrets = []
    for name, target in where.items():
        parts = urlsplit(target.url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        secrets += [(target.url, name)] + ([(path, name)] if len(path) > 1 else [])

    def hide(text: str) -> str:
        for secret, name in secrets:
            text = text.replace(secret, f"[webhook {name}]")
        return text

    return hide


def _record(con: duckdb.DuckDBPyConnection, item: Pending, delivery: Delivery, error: str | None) -> None:
    notice = item.notice
    con.execute(
        "insert into history.notifications values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [datetime.now(UTC), notice.as_of, item.webhook.name, notice.defect_id, notice.state, notice.severity,
         notice.service, notice.release, delivery.ok, delivery.status, delivery.attempts, error],
    )


def send(warehouse: Path, settings: Notify, out: TextIO, sleep: Callable[[float], None] = time.sleep) -> int:
    """Send what is pending, recording each delivery as it completes (a run killed half-way
    resends only what it had not recorded)."""
    where = targets(settings.webhooks)
    hide = _hide_urls(where)
    try:
        with (
            writer_lock(warehouse, holder="defectflow notify, "),
            connect(warehouse) as con,
            # outbound's retry warnings name the URL, and a Slack webhook's URL is its secret
            outbound._masked_log(outbound.log, hide),
        ):
            con.execute(_CREATE_STATE)
            items = pending(con, settings, _as_of(con))
            failed = 0
            for item in items:
                target = where[item.webhook.name]
                delivery = post_json(target.url, MESSAGES[item.webhook.format](item.notice), token=target.token,
                                     idempotency_key=idempotency_key(item.webhook.name, item.notice), sleep=sleep)
                error = hide(delivery.error) if delivery.error else None
                _record(con, item, delivery, error)
                if delivery.ok:
                    print(f"sent to {_describe(item)}", file=out)
                else:
                    failed += 1
                    print(f"NOT sent to {_describe(item)}: {error} after {delivery.attempts} "
                          "attempt(s); the next run retries", file=out)
    except WarehouseBusy as exc:
        raise NotifyError(f"{exc} (notify records what it sends in the warehouse: run it after the build)") from None
    except OutboundError as exc:
        raise NotifyError(hide(str(exc))) from None
    print(f"{len(items) - failed} message(s) sent, {failed} failed", file=out)
    return EXIT_DELIVERY_FAILED if failed else EXIT_SENT


def run(warehouse: Path, settings: Notify, dry: bool, out: TextIO | None = None,
        sleep: Callable[[float], None] = time.sleep) -> int:
    """`defectflow notify`: exit 0 sent or nothing to send, 1 a delivery failed, 2 error."""
    out = out or sys.stdout  # looked up per call: a test or the CLI may have replaced it
    try:
        if not settings.webhooks:
            raise NotifyError("the policy configures no notify.webhooks: nothing could be sent")
        return dry_run(warehouse, settings, out) if dry else send(warehouse, settings, out, sleep)
    except (NotifyError, FileNotFoundError) as exc:
        log.error("error: %s", exc)
        return EXIT_ERROR
    except duckdb.IOException as exc:
        log.error("error: cannot open warehouse %s (%s); is another process writing it?", warehouse, exc)
        return EXIT_ERROR
    except duckdb.CatalogException as exc:
        log.error("error: warehouse %s lacks a table notify reads (%s): rebuild it with `defectflow build`",
                  warehouse, exc)
        return EXIT_ERROR
