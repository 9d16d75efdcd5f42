"""Dimension entities (queues, wrap-up codes, divisions, users) with Genesys page-number paging."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from genesys_finance.api.http import ApiClient

ENTITY_PATHS: dict[str, str] = {
    "queues": "/api/v2/routing/queues",
    "wrapup_codes": "/api/v2/routing/wrapupcodes",
    "divisions": "/api/v2/authorization/divisions",
    "users": "/api/v2/users",
}


def iter_entity_pages(
    client: ApiClient, path: str, page_size: int = 100
) -> Iterator[list[dict[str, Any]]]:
    """Pages of `entities`, following `pageNumber` until `pageCount` (or an empty page)."""
    page_number = 1
    while True:
        body = client.get(path, {"pageNumber": page_number, "pageSize": page_size}) or {}
        entities = body.get("entities") or []
        if entities:
            yield entities
        page_count = body.get("pageCount")
        if not entities or (page_count is not None and page_number >= int(page_count)):
            return
        page_number += 1
