"""The API client over real HTTP against the simulator: auth, 401, 429, 5xx, pacing, paging."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from genesys_finance.api import ApiClient, ApiError, AuthenticationError, RequestPacer, RetryPolicy
from genesys_finance.api.entities import iter_entity_pages
from genesys_finance.api.jobs import DetailJobs, JobState, _decoded
from genesys_finance.dimensions import DIMENSION_BY_TABLE
from genesys_sim.server import SimulatorHandle
from sim_fixtures import StartSimulator, request_log

FAST_RETRY = RetryPolicy(max_attempts=4, backoff_initial_s=0.05, backoff_max_s=0.2)


def client_for(sim: SimulatorHandle, **kwargs: object) -> ApiClient:
    c = sim.config
    options: dict[str, object] = {"requests_per_minute": 6000, "retry": FAST_RETRY, **kwargs}
    return ApiClient(sim.base_url, sim.base_url, c.client_id, c.client_secret, **options)  # type: ignore[arg-type]


def parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def test_token_is_cached_and_sent_as_bearer(simulator: StartSimulator) -> None:
    sim = simulator()
    client = client_for(sim)
    for _ in range(5):
        client.get("/api/v2/routing/queues")
    assert client.auth.tokens_issued == 1
    log = request_log(sim)
    assert [e["status"] for e in log if e["path"] == "/oauth/token"] == [200]


def test_bad_credentials_fail_clearly(simulator: StartSimulator) -> None:
    sim = simulator()
    client = ApiClient(sim.base_url, sim.base_url, "sim-client", "wrong-secret", retry=FAST_RETRY)
    with pytest.raises(AuthenticationError, match="GENESYS_CLIENT_SECRET") as info:
        client.get("/api/v2/routing/queues")
    assert "wrong-secret" not in str(info.value)


def test_token_renewed_before_expiry(simulator: StartSimulator) -> None:
    sim = simulator(token_lifetime_s=1)
    client = client_for(sim)
    deadline = time.monotonic() + 3.5
    while time.monotonic() < deadline:
        client.get("/api/v2/routing/queues")
        time.sleep(0.05)
    assert client.auth.tokens_issued >= 3
    assert all(e["status"] != 401 for e in request_log(sim))


def test_401_renews_token_and_replays(simulator: StartSimulator) -> None:
    sim = simulator()
    client = client_for(sim)
    client.get("/api/v2/routing/queues")
    client.auth.access_token = "revoked-token"  # the server no longer knows this token
    body = client.get("/api/v2/routing/queues")
    assert body["entities"]
    assert client.stats.token_renewals_after_401 == 1
    assert client.auth.tokens_issued == 2


def test_429_waits_retry_after_and_never_renews_token(simulator: StartSimulator) -> None:
    sim = simulator(random_429_rate=0.4, random_retry_after_s=1)
    client = client_for(sim)
    for _ in range(6):
        client.get("/api/v2/routing/queues", {"pageSize": 5})
    log = [e for e in request_log(sim) if e["path"] != "/oauth/token"]
    limited = [i for i, e in enumerate(log) if e["status"] == 429]
    assert limited, "the simulator injected no 429"
    for i in limited:
        retry = next(e for e in log[i + 1 :] if e["query"] == log[i]["query"])
        waited = parse_time(retry["time"]) - parse_time(log[i]["time"])
        assert waited >= log[i]["retryAfter"] - 0.05
    assert client.auth.tokens_issued == 1


def test_5xx_retried_then_clear_error(simulator: StartSimulator) -> None:
    sim = simulator(random_5xx_rate=1.0)
    client = client_for(sim)
    with pytest.raises(ApiError, match=r"GET /api/v2/routing/queues failed after 4 attempts"):
        client.get("/api/v2/routing/queues")


def test_5xx_recovers(simulator: StartSimulator) -> None:
    sim = simulator(random_5xx_rate=0.3)
    client = client_for(sim, retry=RetryPolicy(max_attempts=10, backoff_initial_s=0.01))
    for _ in range(10):
        assert client.get("/api/v2/routing/queues")["entities"]
    assert client.stats.server_errors > 0


def test_connection_error_names_the_request() -> None:
    client = ApiClient("http://127.0.0.1:9", "http://127.0.0.1:9", "id", "secret", retry=FAST_RETRY)
    with pytest.raises(ApiError, match="GET /api/v2/users failed after 4 attempts"):
        client.get("/api/v2/users")


def test_pacer_spaces_requests_across_threads() -> None:
    import threading

    pacer = RequestPacer(requests_per_minute=600)  # one per 0.1 s
    stamps: list[float] = []
    lock = threading.Lock()

    def take(n: int) -> None:
        for _ in range(n):
            pacer.wait_for_slot()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=take, args=(3,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps.sort()
    assert stamps[-1] - stamps[0] >= 0.75  # 9 slots, 8 gaps of 0.1 s


def test_job_lifecycle_and_cursor_paging(simulator: StartSimulator) -> None:
    sim = simulator()
    jobs = DetailJobs(client_for(sim))
    assert jobs.data_availability_date() <= datetime(2024, 6, 1, tzinfo=UTC)
    job_id = jobs.submit(datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 8, tzinfo=UTC))
    while (status := jobs.status(job_id)).state is not JobState.FULFILLED:
        assert not status.state.needs_resubmit
        time.sleep(0.05)
    pages = list(jobs.results(job_id, page_size=30))
    assert len(pages) > 2 and not pages[-1].has_more
    ids = [c["conversationId"] for p in pages for c in p.conversations]
    assert len(ids) == len(set(ids))
    expected = sim.generator.iter_conversations(
        datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 8, tzinfo=UTC)
    )
    assert ids == [c["conversationId"] for c in expected]


def test_unknown_job_reads_as_expired(simulator: StartSimulator) -> None:
    jobs = DetailJobs(client_for(simulator()))
    assert jobs.status("no-such-job").state is JobState.EXPIRED


@pytest.mark.parametrize("kind", list(DIMENSION_BY_TABLE))
def test_dimension_paging(simulator: StartSimulator, kind: str) -> None:
    sim = simulator()
    path = DIMENSION_BY_TABLE[kind].path
    pages = list(iter_entity_pages(client_for(sim), path, page_size=5))
    got = [e["id"] for page in pages for e in page]
    source = getattr(sim.generator, kind)()
    assert got == [e["id"] for e in source]
    assert len(pages) == -(-len(source) // 5)  # every page full but the last


class _StubHandler(BaseHTTPRequestHandler):
    """A narrow HTTP stub for what the simulator does not do: a token endpoint, JSON replies."""

    def do_POST(self) -> None:  # the token request
        self._reply(b'{"access_token": "t", "token_type": "bearer", "expires_in": 86400}')

    def _reply(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class _TruncatingHandler(_StubHandler):
    """Token endpoint plus one resource whose first response is cut off mid-body."""

    served: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.served.append(self.path)
        body = b'{"entities": [{"id": "q1"}], "pageCount": 1}'
        if len(self.served) == 1:  # promise the whole body, send half, hang up
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self._reply(body)


def test_body_cut_mid_read_is_retried() -> None:
    """The body is read in one buffer outside requests' own reader: a connection lost while
    reading it must still count as a connection error and be retried, not surface raw."""
    _TruncatingHandler.served = []
    with _serving(_TruncatingHandler) as server:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        client = ApiClient(url, url, "id", "secret", retry=FAST_RETRY)
        assert client.get("/api/v2/routing/queues") == {
            "entities": [{"id": "q1"}],
            "pageCount": 1,
        }
        assert client.stats.connection_errors == 1
        assert _TruncatingHandler.served == ["/api/v2/routing/queues"] * 2


def test_results_page_decoded_conversation_by_conversation() -> None:
    """Only the envelope is parsed up front; each conversation is decoded when reached, in page
    order, and fields the extractor does not use are ignored."""
    page = (
        b'{"conversations": [{"conversationId": "c1", "n": [1, 2]}, {"conversationId": "c2"}],'
        b' "cursor": "next", "dataAvailabilityDate": "2024-02-01T00:00:00Z", "extra": {"x": 1}}'
    )
    envelope = DetailJobs._envelope("job-1", page)
    assert envelope.cursor == "next"
    assert envelope.dataAvailabilityDate == "2024-02-01T00:00:00Z"
    assert list(_decoded(envelope.conversations or [])) == [
        {"conversationId": "c1", "n": [1, 2]},
        {"conversationId": "c2"},
    ]
    assert DetailJobs._envelope("job-1", b"").conversations is None


@pytest.mark.parametrize(
    ("page", "message"),
    [
        (b'{"conversations": {"a": 1}}', r"job-1/results returned an unreadable page: Expected"),
        (b'{"cursor": 7}', r"unreadable page: Expected `str \| null`, got `int` - at `\$\.cursor`"),
        (b'{"conversations": [1', r"unreadable page"),
    ],
)
def test_unreadable_results_page_is_a_clear_error(page: bytes, message: str) -> None:
    with pytest.raises(ApiError, match=message):
        DetailJobs._envelope("job-1", page)


def test_results_page_with_a_non_object_conversation_is_a_clear_error() -> None:
    envelope = DetailJobs._envelope("job-1", b'{"conversations": [{"conversationId": "c1"}, 5]}')
    conversations = _decoded(envelope.conversations or [])
    assert next(conversations) == {"conversationId": "c1"}
    with pytest.raises(ApiError, match="not an object: int"):
        next(conversations)


class _LoopingCursorHandler(_StubHandler):
    """A results endpoint whose second page hands back the first page's cursor."""

    served: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        page = len(self.served)
        self.served.append(self.path)
        self._reply(b'{"conversations": [{"conversationId": "c%d"}], "cursor": "same"}' % page)


@pytest.mark.parametrize("reader", ["results", "download"])
def test_a_repeated_results_cursor_is_an_error_not_an_endless_loop(reader: str) -> None:
    _LoopingCursorHandler.served = []
    got: list[str] = []
    with _serving(_LoopingCursorHandler) as server:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        jobs = DetailJobs(ApiClient(url, url, "id", "secret", retry=FAST_RETRY))
        with pytest.raises(ApiError, match="job-1/results repeated a cursor"):
            if reader == "results":
                for page in jobs.results("job-1"):
                    got += [c["conversationId"] for c in page.conversations]
            else:
                jobs.download(
                    "job-1", lambda convs, _: got.extend(c["conversationId"] for c in convs)
                )
    # both pages served were handed over before the loop was noticed; no third request
    assert got == ["c0", "c1"]
    assert len(_LoopingCursorHandler.served) == 2
    assert "cursor=same" in _LoopingCursorHandler.served[1]
