"""Dimension tables (queues, wrap-up codes, divisions, users): fetched, masked, merged on `id`."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from genesys_finance.api.entities import ENTITY_PATHS, iter_entity_pages
from genesys_finance.api.http import ApiClient
from genesys_finance.loadfiles import ENTITY_HINTS, entities_table
from genesys_finance.loading import Loader

if TYPE_CHECKING:
    from genesys_finance.masking import Masker

log = logging.getLogger("genesys_finance.extract")


def extract_dimensions(client: ApiClient, masker: Masker, loader: Loader) -> dict[str, int]:
    """Load every dimension table; returns the number of entities per table."""
    counts: dict[str, int] = {}
    for kind, path in ENTITY_PATHS.items():
        count = [0]
        loader.load(kind, _masked_tables(client, path, kind, masker, count), "id", ENTITY_HINTS)
        counts[kind] = count[0]
        log.info("dimension %s: %d entities", kind, count[0])
    return counts


def _masked_tables(
    client: ApiClient, path: str, kind: str, masker: Masker, count: list[int]
) -> Iterator[pa.Table]:
    for page in iter_entity_pages(client, path):
        extracted_at = datetime.now(UTC)
        masked: list[dict[str, Any]] = [masker.mask_entity(kind, entity) for entity in page]
        count[0] += len(masked)
        yield entities_table(masked, extracted_at)
