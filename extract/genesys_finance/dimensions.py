"""The dimension tables of `genesys_raw`: which endpoint each comes from, its typed columns,
and how its entities are masked.

Queues, wrap-up codes, divisions and users go through the PII policy (`Masker.mask_entity`).
DID pools and DIDs are the org's own numbers, not personal data, and land in clear; only a DID's
owner *name* is left out (an owner may be a person; its id joins to `users`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from genesys_finance.loadfiles import ColumnHints, entities_table, entity_hints, entity_schema

if TYPE_CHECKING:
    from genesys_finance.masking import Masker

Entity = dict[str, Any]


def _ref_id(entity: Entity, key: str) -> str | None:
    ref = entity.get(key) or {}
    return str(ref["id"]) if isinstance(ref, dict) and ref.get("id") else None


def _named(entity: Entity) -> dict[str, str | None]:
    return {"name": entity.get("name"), "division_id": _ref_id(entity, "division")}


def _did_pool(entity: Entity) -> dict[str, str | None]:
    return {
        "start_phone_number": entity.get("startPhoneNumber"),
        "end_phone_number": entity.get("endPhoneNumber"),
        "provider": entity.get("provider"),
    }


def _did(entity: Entity) -> dict[str, str | None]:
    return {
        "phone_number": entity.get("phoneNumber"),
        "did_pool_id": _ref_id(entity, "didPool"),
        "owner_type": entity.get("ownerType"),
    }


def _without_owner_name(entity: Entity) -> Entity:
    owner = entity.get("owner")
    if not isinstance(owner, dict) or "name" not in owner:
        return entity
    return {**entity, "owner": {k: v for k, v in owner.items() if k != "name"}}


@dataclass(frozen=True)
class Dimension:
    table: str
    path: str
    schema: pa.Schema
    columns: Callable[[Entity], dict[str, str | None]]
    policy_kind: str | None = None
    """The PII policy's level for these entities; None: org data, kept but for `clean`."""
    clean: Callable[[Entity], Entity] = lambda entity: entity

    @property
    def hints(self) -> ColumnHints:
        return entity_hints(self.schema)

    def mask(self, masker: Masker, entity: Entity) -> Entity:
        if self.policy_kind is None:
            return self.clean(entity)
        return masker.mask_entity(self.policy_kind, entity)

    def tables(self, pages: Iterable[list[Entity]], masker: Masker) -> Iterator[pa.Table]:
        """Masked Arrow tables, one per page of entities."""
        for page in pages:
            extracted_at = datetime.now(UTC)
            masked = [self.mask(masker, entity) for entity in page]
            yield entities_table(masked, extracted_at, self.schema, self.columns)


_NAMED = entity_schema("name", "division_id")
DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("queues", "/api/v2/routing/queues", _NAMED, _named, "queues"),
    Dimension("wrapup_codes", "/api/v2/routing/wrapupcodes", _NAMED, _named, "wrapup_codes"),
    Dimension("divisions", "/api/v2/authorization/divisions", _NAMED, _named, "divisions"),
    Dimension("users", "/api/v2/users", _NAMED, _named, "users"),
    Dimension(
        "did_pools",
        "/api/v2/telephony/providers/edges/didpools",
        entity_schema("start_phone_number", "end_phone_number", "provider"),
        _did_pool,
    ),
    Dimension(
        "dids",
        "/api/v2/telephony/providers/edges/dids",
        entity_schema("phone_number", "did_pool_id", "owner_type"),
        _did,
        clean=_without_owner_name,
    ),
)
DIMENSION_BY_TABLE = {d.table: d for d in DIMENSIONS}
ORG_NUMBER_DIMENSIONS = ("did_pools", "dids")
