"""The Genesys Cloud API simulator as a real HTTP server on loopback.

`start_simulator(config, host, port)` serves login and API on one base URL from a background
thread and returns a handle; port 0 picks a free port. Standard library only: pages are
pre-serialized bytes written in one call, which keeps ThreadingHTTPServer fast enough.
"""

from __future__ import annotations

import contextlib
import math
import socket
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from genesys_sim.app import SimulatorApp
from genesys_sim.auth import TokenStore
from genesys_sim.clock import Clock
from genesys_sim.config import SimulatorConfig
from genesys_sim.endpoints import Endpoints
from genesys_sim.faults import FaultInjector
from genesys_sim.jobs import JobStore
from genesys_sim.ratelimit import RateLimiter
from genesys_sim.requestlog import RequestLog
from genesys_sim.store import ConversationStore

if TYPE_CHECKING:
    from genesys_sim.generator import ConversationGenerator

__all__ = ["SimulatorConfig", "SimulatorHandle", "start_simulator"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # keep-alive connections must not block stop()
    app: SimulatorApp

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def close_connections(self) -> None:
        """Drop open keep-alive connections, so a stopped simulator really stops answering."""
        with self.connections_lock:
            connections, self.connections = self.connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a client pages without reconnecting
    server_version = "GenesysCloudSimulator"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        response = self.server.app.handle(self.command, self.path, self.headers, body)
        reason = HTTPStatus(response.status).phrase
        lines = [f"HTTP/1.1 {response.status} {reason}", f"Date: {self.date_time_string()}"]
        if response.status != 204:
            lines += ["Content-Type: application/json", f"Content-Length: {len(response.body)}"]
        lines += [f"{k}: {v}" for k, v in response.headers.items()]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        body = response.body if response.status != 204 else b""
        if len(body) < 65536:  # small: one write, headers and body in one packet
            self.wfile.write(head + body)
        else:  # large results page: no 5 MB copy just to prepend the headers
            self.wfile.write(head)
            self.wfile.write(body)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the JSONL request log is the record; stderr stays quiet


@dataclass
class SimulatorHandle:
    base_url: str
    config: SimulatorConfig
    generator: ConversationGenerator
    clock: Clock
    _server: _Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _closers: list[Any] = field(default_factory=list, repr=False)

    def advance(self, seconds: float) -> None:
        """Move simulated time forward (token and job expiry without sleeping)."""
        self.clock.advance(seconds)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        self._thread.join(timeout=5)
        for close in self._closers:
            close()

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_simulator(
    config: SimulatorConfig, host: str = "127.0.0.1", port: int = 0
) -> SimulatorHandle:
    from genesys_sim.generator import ConversationGenerator

    clock = Clock(config.now)
    config = config.resolved(clock.origin)
    assert config.start is not None and config.end is not None
    # The generator's "now" is frozen at startup so a day, once served, never changes.
    generator = ConversationGenerator(
        seed=config.seed,
        start=config.start,
        end=config.end,
        conversations_per_day=config.conversations_per_day,
        now=clock.origin,
    )
    span = getattr(generator, "max_conversation_span", timedelta(days=1))
    lookback_days = max(1, math.ceil(span / timedelta(days=1)))
    store = ConversationStore(generator, config.start, config.end, config.cache_max_bytes)
    jobs = JobStore(
        seed=config.seed,
        delay_s=config.job_delay_s,
        failure_rate=config.job_failure_rate,
        expiry_s=config.job_expiry_s,
        max_running=config.max_running_jobs,
    )
    entities = {
        "queues": generator.queues,
        "wrapup_codes": generator.wrapup_codes,
        "divisions": generator.divisions,
        "users": generator.users,
        "did_pools": generator.did_pools,
        "dids": generator.dids,
    }
    request_log = RequestLog(config.request_log)
    app = SimulatorApp(
        clock=clock,
        tokens=TokenStore(config.client_id, config.client_secret, config.token_lifetime_s),
        limiter=RateLimiter(config.requests_per_minute),
        faults=FaultInjector(config),
        endpoints=Endpoints(config, store, jobs, entities, lookback_days),
        request_log=request_log,
    )
    server = _Server((host, port))
    server.app = app
    stopping = threading.Event()
    if config.prewarm:
        threading.Thread(
            target=store.prewarm, args=(stopping,), name="genesys-simulator-prewarm", daemon=True
        ).start()
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.1},
        name="genesys-simulator",
        daemon=True,
    )
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    host_text = bound_host.decode() if isinstance(bound_host, bytes) else str(bound_host)
    url_host = f"[{host_text}]" if ":" in host_text else host_text
    return SimulatorHandle(
        base_url=f"http://{url_host}:{bound_port}",
        config=config,
        generator=generator,
        clock=clock,
        _server=server,
        _thread=thread,
        _closers=[stopping.set, jobs.close, request_log.close],
    )
