"""A real HTTP server on 127.0.0.1 for the tests of outbound calls (tracker, webhooks).

Each path replies from a script (one `Reply` per request, the last one repeating) and every
request is recorded, so a test can assert what was sent, how often, and with which headers.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: str = "{}"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering: longer than the client's timeout makes a timeout
    echo_headers: bool = False  # the body is the request's headers as JSON (a server that leaks them back)


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


class LocalServer:
    """Use as a context manager; `url` is the base URL (no trailing slash)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._scripts: dict[str, list[Reply]] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, path: str, *replies: Reply) -> None:
        with self._lock:
            self._scripts[path] = list(replies)

    def requests_to(self, path: str) -> list[Received]:
        with self._lock:
            return [request for request in self.received if request.path == path]

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next_reply(self, request: Received) -> Reply:
        with self._lock:
            self.received.append(request)
            script = self._scripts.get(request.path, [])
            return script.pop(0) if len(script) > 1 else (script[0] if script else Reply())

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8") if length else ""
                request = Received(self.command, self.path, dict(self.headers.items()), body)
                reply = server._next_reply(request)
                time.sleep(reply.delay)
                text = json.dumps(request.headers) if reply.echo_headers else reply.body
                data = text.encode("utf-8")
                try:
                    self.send_response(reply.status)
                    for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

            do_POST = do_PUT = do_GET = _answer

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

        return Handler
