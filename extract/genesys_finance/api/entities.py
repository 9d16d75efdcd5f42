"""Dimension entities (queues, wrap-up codes, divisions, users, DID pools, DIDs) through dlt's
`RESTClient` and `PageNumberPaginator`.

Genesys entity endpoints page by number: `pageNumber` (from 1), `pageSize`, and the body says
`pageCount`; that is exactly dlt's `PageNumberPaginator`. dlt's client retries 429s (honouring
Retry-After), 5xx and connection errors itself. The requests still take a slot of the API
client's pace and show in its counts, and carry its OAuth token.

Detail-job results keep their hand-written paging (`api/jobs.py`): they page by an opaque
`cursor`, are decoded under a lock one conversation at a time into masked Arrow pages, and their
raw bytes are fetched undecoded; RESTClient would decode every page to Python objects at once,
which is what the extraction benchmark measured as the cost to avoid (bench/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import PageNumberPaginator
from requests import PreparedRequest
from requests.auth import AuthBase

from genesys_finance.api.http import ApiClient

DEFAULT_PAGE_SIZE = 100


class _PacedAuth(AuthBase):
    """The API client's bearer token, after a slot of its request pace (and counted)."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        self.client.pacer.wait_for_slot()
        # Not under the client's lock: `extract` fetches dimensions before any job thread runs
        # (in the dlt source they may interleave, and this count is only a statistic).
        self.client.stats.requests += 1
        request.headers["Authorization"] = f"Bearer {self.client.auth.current_token()}"
        return request


def rest_client(client: ApiClient) -> RESTClient:
    """dlt's REST client on the Genesys API, with entity paging."""
    return RESTClient(
        base_url=client.api_url,
        auth=_PacedAuth(client),
        paginator=PageNumberPaginator(
            base_page=1, page=1, page_param="pageNumber", total_path="pageCount"
        ),
        data_selector="entities",
    )


def iter_entity_pages(
    client: ApiClient, path: str, page_size: int = DEFAULT_PAGE_SIZE
) -> Iterator[list[dict[str, Any]]]:
    """Pages of `entities`, following `pageNumber` until `pageCount` (or an empty page)."""
    for page in rest_client(client).paginate(path, params={"pageSize": page_size}):
        if page:
            yield list(page)
