"""The virtual tables an analyst queries, and what the API can filter on each column.

`genesys.<table>` reads the flattened staging model of the same grain. Every one of those models
carries its conversation's `conversation_start`, so a time range can be written on whichever table
is queried and filters that table's own rows (no join with the conversations model).
Only columns kept in clear by the PII policy are pushed down: a masked column's value in the
warehouse is not the value the API matches on.
"""

from __future__ import annotations

from dataclasses import dataclass

VIRTUAL_SCHEMA = "genesys"
MART_SCHEMA = "finance"
TIME_COLUMN = "conversation_start"


@dataclass(frozen=True)
class VirtualTable:
    name: str
    model: str
    """Staging (or intermediate) model in the warehouse that holds its rows."""
    schema: str = "staging"


VIRTUAL_TABLES: dict[str, VirtualTable] = {
    t.name: t
    for t in (
        VirtualTable("conversations", "stg_genesys__conversations"),
        VirtualTable("participants", "stg_genesys__participants"),
        VirtualTable("sessions", "stg_genesys__sessions"),
        VirtualTable("segments", "stg_genesys__segments"),
        VirtualTable("session_metrics", "stg_genesys__session_metrics"),
        VirtualTable(
            "session_metrics_pivoted", "int_session_metrics_pivoted", schema="intermediate"
        ),
    )
}


@dataclass(frozen=True)
class Pushable:
    """A column the detail API can filter on: `conversationFilters` or `segmentFilters`."""

    filter: str  # "conversation" | "segment"
    dimension: str


# Column name -> API dimension. A column of the same name means the same thing on every virtual
# table it appears on (the staging models keep one name per API field).
PUSHABLE: dict[str, Pushable] = {
    "conversation_id": Pushable("conversation", "conversationId"),
    "division_id": Pushable("conversation", "divisionId"),
    "originating_direction": Pushable("conversation", "originatingDirection"),
    "external_tag": Pushable("conversation", "externalTag"),
    "media_type": Pushable("segment", "mediaType"),
    "direction": Pushable("segment", "direction"),
    "edge_id": Pushable("segment", "edgeId"),
    "provider": Pushable("segment", "provider"),
    "purpose": Pushable("segment", "purpose"),
    "participant_purpose": Pushable("segment", "purpose"),
    "queue_id": Pushable("segment", "queueId"),
    "wrapup_code_id": Pushable("segment", "wrapUpCode"),
    "segment_type": Pushable("segment", "segmentType"),
    "disconnect_type": Pushable("segment", "disconnectType"),
    "group_id": Pushable("segment", "groupId"),
    "user_id": Pushable("segment", "userId"),
}
"""`division_id` is the conversation's first division; the API matches any of its divisions,
which returns a superset: the SQL predicate still runs locally, so the answer is exact."""

MARTS = frozenset(
    {
        "fct_voice_leg_costs",
        "fct_billing_reconciliation",
        "fct_conversation_costs",
        "fct_billing_per_minute",
        "fct_revenue_attribution",
    }
)
"""The public finance marts (DESIGN.md): read as they are, never fetched."""
