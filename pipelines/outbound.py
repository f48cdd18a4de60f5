"""The one HTTP client of defectflow: JSON to a tracker or a webhook, retried, never leaking the token.

Every command that calls out (defects-from-tests --post, sync --post, notify) goes through
`post_json`, so the retry rule and the token rule are the same everywhere
(docs/contract.md "Outbound calls"):

- 5xx, 429, timeouts and connection errors are retried with exponential backoff
  (`backoff`, `2 * backoff`, `4 * backoff`, ...); a 429's or 5xx's `Retry-After` replaces the
  backoff for that wait. A Retry-After longer than `MAX_RETRY_AFTER` ends the retries: a CI
  step should fail and say so rather than sleep for an hour.
- Any other status (2xx, 3xx, 4xx) is final: a 4xx is the request's fault and the same request
  would fail again; redirects are not followed, because a redirected POST silently becomes a GET.
- The token only ever goes into the Authorization header. Response bodies, error texts,
  URLs and log lines are masked (`***`) before they leave this module, since a server or a proxy
  may echo the header back.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

log = logging.getLogger("defectflow.outbound")
URLLIB3_LOGGER = logging.getLogger("urllib3.connectionpool")

MASK = "***"
MAX_RETRY_AFTER = 120.0
RETRIED_STATUSES = frozenset({429}) | frozenset(range(500, 600))


class OutboundError(Exception):
    """The call cannot be made at all (no token, a malformed URL); the message never holds the token."""


@dataclass(frozen=True)
class Delivery:
    """What happened to one payload: the last attempt's status (None when no response came) and body."""

    url: str
    status: int | None
    attempts: int
    error: str | None
    body: str
    # Response headers, masked, for paging and rate limits; not part of what a delivery is.
    headers: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def token_from_env(variable: str) -> str:
    """The token held by environment variable `variable`; the error names the variable, never a value."""
    value = os.environ.get(variable, "").strip()
    if not value:
        raise OutboundError(f"environment variable {variable} is not set or empty; it must hold the API token")
    return value


def _masker(token: str | None) -> Callable[[str], str]:
    if not token:
        return lambda text: text
    return lambda text: text.replace(token, MASK)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def rate_limit_reset_wait(headers: Mapping[str, str], now: float | None = None) -> float:
    """Seconds until GitHub's `X-RateLimit-Reset` (epoch seconds); 0 when absent or past."""
    reset = headers.get("X-RateLimit-Reset", "")
    if not reset.isdigit():
        return 0.0
    return max(0.0, float(reset) - (time.time() if now is None else now))


def get_json(
    url: str,
    *,
    token: str | None = None,
    scheme: str = "Bearer",
    timeout: float = 30.0,
    attempts: int = 4,
    backoff: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """GET `url` with the same retry, rate-limit and token rules as `post_json`."""
    return _call("GET", url, None, token=token, scheme=scheme, idempotency_key=None, timeout=timeout,
                 attempts=attempts, backoff=backoff, sleep=sleep)


def post_json(
    url: str,
    payload: Mapping[str, Any],
    *,
    token: str | None = None,
    scheme: str = "Bearer",
    idempotency_key: str | None = None,
    timeout: float = 10.0,
    attempts: int = 4,
    backoff: float = 0.5,
    method: str = "POST",
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """Send `payload` as JSON to `url`, retrying what a retry can fix; see the module's docstring."""
    return _call(method, url, dict(payload), token=token, scheme=scheme, idempotency_key=idempotency_key,
                 timeout=timeout, attempts=attempts, backoff=backoff, sleep=sleep)


def _call(method: str, url: str, payload: dict[str, Any] | None, *, token: str | None, scheme: str,
          idempotency_key: str | None, timeout: float, attempts: int, backoff: float,
          sleep: Callable[[float], None]) -> Delivery:
    mask = _masker(token)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        # PagerDuty's `Token token=<token>`: a scheme ending in "=" takes the token without a space.
        headers["Authorization"] = f"{scheme}{'' if scheme.endswith('=') else ' '}{token}"
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    request = _Request(method, url, payload, headers, timeout, mask)
    with _masked_log(URLLIB3_LOGGER, mask):
        attempt = 1
        while True:
            outcome, wait = request.send(attempt, backoff * 2 ** (attempt - 1))
            if wait is None or attempt >= attempts:
                return outcome
            log.warning("%s %s: attempt %d/%d failed (%s); retrying in %.1f s",
                        method, outcome.url, attempt, attempts, outcome.error, wait)
            sleep(wait)
            attempt += 1


class _MaskFilter(logging.Filter):
    def __init__(self, mask: Callable[[str], str]) -> None:
        super().__init__()
        self.mask = mask

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.mask(record.getMessage()), None
        return True


@contextlib.contextmanager
def _masked_log(logger: logging.Logger, mask: Callable[[str], str]) -> Iterator[None]:
    """urllib3 logs each request line (URL and query) at DEBUG; a token in a URL must not reach the log."""
    masking = _MaskFilter(mask)
    logger.addFilter(masking)
    try:
        yield
    finally:
        logger.removeFilter(masking)


@dataclass(frozen=True)
class _Request:
    method: str
    url: str
    payload: dict[str, Any] | None  # None: no body (a GET)
    headers: dict[str, str] = field(repr=False)  # holds the token
    timeout: float
    mask: Callable[[str], str]

    def send(self, attempt: int, backoff_wait: float) -> tuple[Delivery, float | None]:
        """One attempt, and how long to wait before the next one (None: do not retry)."""
        shown_url = self.mask(self.url)
        try:
            response = requests.request(self.method, self.url, json=self.payload, headers=self.headers,
                                        timeout=self.timeout, allow_redirects=False)
        except (requests.Timeout, requests.ConnectionError) as exc:
            return Delivery(shown_url, None, attempt, self.mask(f"{type(exc).__name__}: {exc}"), ""), backoff_wait
        except requests.RequestException as exc:  # a malformed URL or similar: retrying cannot help
            raise OutboundError(self.mask(f"{self.method} {self.url}: {exc}")) from None
        status = response.status_code
        error = None if 200 <= status < 300 else self.mask(f"HTTP {status} {response.reason or ''}".rstrip())
        shown_headers = {name: self.mask(value) for name, value in response.headers.items()}
        delivery = Delivery(shown_url, status, attempt, error, self.mask(response.text), shown_headers)
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        if wait is None and status == 403 and response.headers.get("X-RateLimit-Remaining") == "0":
            # GitHub's primary rate limit answers 403, not 429, and says when it resets instead.
            wait, status = rate_limit_reset_wait(response.headers), 429
        if status not in RETRIED_STATUSES:
            return delivery, None
        if wait is not None and wait > MAX_RETRY_AFTER:
            return Delivery(shown_url, status, attempt, f"{error}; Retry-After {wait:.0f} s exceeds "
                            f"{MAX_RETRY_AFTER:.0f} s", delivery.body), None
        return delivery, backoff_wait if wait is None else wait
