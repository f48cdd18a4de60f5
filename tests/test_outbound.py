"""pipelines/outbound.py against a real HTTP server on 127.0.0.1: retries, Retry-After,
timeouts, idempotency, and the token never leaving the Authorization header."""

import logging
from datetime import UTC, datetime

import pytest

from pipelines.outbound import Delivery, OutboundError, post_json, retry_after_seconds, token_from_env
from tests.local_http import LocalServer, Reply

TOKEN = "tok-9f8e7d6c5b4a-SECRET"
PAYLOAD = {"fields": {"summary": "checkout fails"}}


@pytest.fixture
def server():
    with LocalServer() as running:
        yield running


class Waits(list):
    """An injected `sleep` that records the waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_5xx_is_retried_with_exponential_backoff_then_succeeds(server):
    server.script("/issue", Reply(500), Reply(502), Reply(503), Reply(201, '{"key": "SHOP-9"}'))
    waits = Waits()
    delivery = post_json(server.url + "/issue", PAYLOAD, token=TOKEN, backoff=0.5, sleep=waits)
    assert delivery == Delivery(server.url + "/issue", 201, 4, None, '{"key": "SHOP-9"}')
    assert delivery.ok
    assert waits == [0.5, 1.0, 2.0]
    assert [r.json() for r in server.requests_to("/issue")] == [PAYLOAD] * 4


def test_5xx_on_every_attempt_gives_up_after_attempts(server):
    server.script("/issue", Reply(503, "down"))
    waits = Waits()
    delivery = post_json(server.url + "/issue", PAYLOAD, attempts=3, backoff=1.0, sleep=waits)
    assert (delivery.status, delivery.attempts, delivery.error, delivery.body, delivery.ok) == (
        503, 3, "HTTP 503 Service Unavailable", "down", False)
    assert waits == [1.0, 2.0]
    assert len(server.requests_to("/issue")) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_4xx_is_not_retried(server, status):
    server.script("/issue", Reply(status, '{"errors": {"summary": "required"}}'), Reply(201))
    waits = Waits()
    delivery = post_json(server.url + "/issue", PAYLOAD, sleep=waits)
    assert (delivery.status, delivery.attempts, delivery.ok) == (status, 1, False)
    assert delivery.body == '{"errors": {"summary": "required"}}'
    assert waits == []
    assert len(server.requests_to("/issue")) == 1


def test_a_redirect_is_final_not_followed(server):
    server.script("/old", Reply(301, headers={"Location": "/new"}))
    delivery = post_json(server.url + "/old", PAYLOAD, sleep=Waits())
    assert (delivery.status, delivery.attempts, delivery.ok) == (301, 1, False)
    assert server.requests_to("/new") == []


def test_429_honours_retry_after_in_seconds_and_as_a_date(server):
    later = "Wed, 21 Oct 2099 07:28:00 GMT"
    server.script("/hook", Reply(429, headers={"Retry-After": "7"}), Reply(503, headers={"Retry-After": "3"}),
                  Reply(429), Reply(200))
    waits = Waits()
    delivery = post_json(server.url + "/hook", PAYLOAD, backoff=0.25, sleep=waits)
    assert (delivery.status, delivery.attempts) == (200, 4)
    # Retry-After replaces the backoff; without one the backoff of that attempt applies (0.25 * 2**2).
    assert waits == [7.0, 3.0, 1.0]
    assert retry_after_seconds(later, now=datetime(2099, 10, 21, 7, 27, 30, tzinfo=UTC)) == 30.0
    assert retry_after_seconds("soon") is None


def test_a_retry_after_beyond_the_limit_stops_retrying(server):
    server.script("/hook", Reply(429, headers={"Retry-After": "3600"}), Reply(200))
    waits = Waits()
    delivery = post_json(server.url + "/hook", PAYLOAD, sleep=waits)
    assert (delivery.status, delivery.attempts, waits) == (429, 1, [])
    assert delivery.error == "HTTP 429 Too Many Requests; Retry-After 3600 s exceeds 120 s"


def test_a_timeout_is_retried(server):
    server.script("/slow", Reply(200, delay=1.0), Reply(201, '{"id": "1"}'))
    waits = Waits()
    delivery = post_json(server.url + "/slow", PAYLOAD, timeout=0.2, backoff=0.5, sleep=waits)
    assert (delivery.status, delivery.attempts, delivery.body) == (201, 2, '{"id": "1"}')
    assert waits == [0.5]


def test_a_connection_error_is_retried_and_reported():
    with LocalServer() as gone:
        url = gone.url + "/hook"
    waits = Waits()
    delivery = post_json(url, PAYLOAD, attempts=2, sleep=waits)
    assert (delivery.status, delivery.attempts, delivery.ok, waits) == (None, 2, False, [0.5])
    assert delivery.error.startswith("ConnectionError: ")


def test_idempotency_key_method_and_authorization_are_sent(server):
    server.script("/rest/api/2/issue/SHOP-1", Reply(204, ""))
    delivery = post_json(server.url + "/rest/api/2/issue/SHOP-1", PAYLOAD, token=TOKEN, scheme="Basic",
                         idempotency_key="fp-3a7c", method="PUT", sleep=Waits())
    assert (delivery.status, delivery.ok) == (204, True)
    [request] = server.received
    assert request.method == "PUT"
    assert request.headers["Idempotency-Key"] == "fp-3a7c"
    assert request.headers["Authorization"] == f"Basic {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == PAYLOAD


def test_every_retry_of_one_payload_carries_the_same_idempotency_key(server):
    server.script("/issue", Reply(500), Reply(201))
    post_json(server.url + "/issue", PAYLOAD, idempotency_key="fp-1", sleep=Waits())
    assert [r.headers["Idempotency-Key"] for r in server.requests_to("/issue")] == ["fp-1", "fp-1"]


def test_the_token_never_leaves_the_authorization_header(server, caplog, capsys):
    caplog.set_level(logging.DEBUG)  # urllib3's and requests' own debug lines too
    # A server that echoes the request headers back, in errors and in success.
    server.script("/echo", Reply(500, echo_headers=True), Reply(201, echo_headers=True))
    delivery = post_json(server.url + "/echo", PAYLOAD, token=TOKEN, sleep=Waits())
    assert (delivery.status, delivery.attempts) == (201, 2)
    assert '"Authorization": "Bearer ***"' in delivery.body
    with LocalServer() as gone:
        refused = gone.url + f"/hook?token={TOKEN}"
    failed = post_json(refused, PAYLOAD, token=TOKEN, attempts=2, sleep=Waits())
    assert "token=***" in failed.url and "token=***" in failed.error
    with pytest.raises(OutboundError) as malformed:
        post_json(f"ftp://127.0.0.1/{TOKEN}", PAYLOAD, token=TOKEN, sleep=Waits())
    assert str(malformed.value).startswith("POST ftp://127.0.0.1/***: No connection adapters")
    server.script("/hook", Reply(200))
    assert post_json(server.url + f"/hook?token={TOKEN}", PAYLOAD, token=TOKEN).ok
    assert '"POST /hook?token=*** HTTP/1.1" 200' in caplog.text  # urllib3's request line, masked
    assert "attempt 1/2 failed (ConnectionError" in caplog.text  # the retries were logged ...
    out, err = capsys.readouterr()
    for text in (repr(delivery), repr(failed), str(malformed.value), caplog.text, out, err):
        assert TOKEN not in text  # ... and nothing anywhere holds the token


def test_token_from_env_names_the_variable_never_a_value(monkeypatch):
    monkeypatch.setenv("JIRA_TOKEN", f"  {TOKEN}\n")
    assert token_from_env("JIRA_TOKEN") == TOKEN
    monkeypatch.setenv("JIRA_TOKEN", "   ")
    with pytest.raises(OutboundError, match=r"^environment variable JIRA_TOKEN is not set or empty; "):
        token_from_env("JIRA_TOKEN")
    monkeypatch.delenv("JIRA_TOKEN")
    with pytest.raises(OutboundError, match="JIRA_TOKEN is not set"):
        token_from_env("JIRA_TOKEN")
