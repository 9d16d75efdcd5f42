"""Dimensions of the simulated org (divisions, queues, wrap-up codes, users) and the fixed edges.

Dimensions are deterministic from the seed. Edges and their carriers are fixed constants (not
seed-dependent) because `seeds/carrier_edges.csv` is a reviewed file that must match them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from genesys_sim import fake_pii

# edge id -> carrier. Every carrier-facing leg's edge decides its carrier (seeds/carrier_edges.csv).
EDGE_CARRIERS: dict[str, str] = {
    "ed000000-0000-4000-8000-000000000001": "genesys_cloud_voice",
    "ed000000-0000-4000-8000-000000000002": "genesys_cloud_voice",
    "ed000000-0000-4000-8000-000000000003": "northwind_telecom",
    "ed000000-0000-4000-8000-000000000004": "northwind_telecom",
    "ed000000-0000-4000-8000-000000000005": "atlantic_carrier",
    "ed000000-0000-4000-8000-000000000006": "atlantic_carrier",
}
EDGE_IDS: tuple[str, ...] = tuple(EDGE_CARRIERS)
CARRIERS: tuple[str, ...] = tuple(sorted(set(EDGE_CARRIERS.values())))

DIVISION_NAMES = ("Home", "Customer Care", "Sales")
# (queue name, index of its division, media it serves)
QUEUE_SPECS = (
    ("Support - Tier 1", 1, "voice"),
    ("Support - Tier 2", 1, "voice"),
    ("Billing", 1, "voice"),
    ("Spanish Support", 1, "voice"),
    ("Sales - Inbound", 2, "voice"),
    ("Sales - Outbound", 2, "outbound"),
    ("Collections", 0, "outbound"),
    ("Chat Support", 1, "chat"),
    ("Email Support", 0, "email"),
    ("Messaging", 2, "message"),
)
WRAPUP_NAMES = (
    "Billing question", "Payment taken", "Plan change", "Technical issue", "Complaint",
    "Sale completed", "No sale", "Callback requested", "Wrong number", "Resolved - first contact",
    "Escalated", "Promise to pay",
)  # fmt: skip
ORG_DOMAIN = "example-contact.com"
COMPANY_DIDS = ("12125550100", "12125550101", "13125550142", "442079460123", "34915550199")


_UUID_MASK = ~((0xF << 76) | (0xC << 60))
_UUID_BITS = (0x4 << 76) | (0x8 << 60)


def _uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from `rng` (deterministic, unlike uuid.uuid4)."""
    h = ((rng.getrandbits(128) & _UUID_MASK) | _UUID_BITS).to_bytes(16, "big").hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _ref(entity: dict[str, Any], kind: str) -> dict[str, Any]:
    return {"id": entity["id"], "name": entity["name"], "selfUri": f"/api/v2/{kind}/{entity['id']}"}


@dataclass
class Catalog:
    divisions: list[dict[str, Any]] = field(default_factory=list)
    queues: list[dict[str, Any]] = field(default_factory=list)
    queue_media: dict[str, str] = field(default_factory=dict)  # queue id -> media kind
    queue_agents: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    wrapup_codes: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    campaigns: list[tuple[str, str, str]] = field(default_factory=list)  # id, name, contact list
    flows: dict[str, tuple[str, str]] = field(default_factory=dict)  # kind -> (id, name)

    def queues_for(self, media: str) -> list[dict[str, Any]]:
        return [q for q in self.queues if self.queue_media[q["id"]] == media]


def build_catalog(seed: int) -> Catalog:
    """The org's entities, in Genesys API shapes; same seed, same org."""
    rng = random.Random(f"{seed}:catalog")
    cat = Catalog()
    created = "2023-01-15T09:00:00.000Z"
    for i, name in enumerate(DIVISION_NAMES):
        div_id = _uuid(rng)
        cat.divisions.append(
            {
                "id": div_id,
                "name": name,
                "description": f"{name} division",
                "homeDivision": i == 0,
                "selfUri": f"/api/v2/authorization/divisions/{div_id}",
            }
        )
    for name, div_index, media in QUEUE_SPECS:
        qid = _uuid(rng)
        cat.queues.append(
            {
                "id": qid,
                "name": name,
                "description": f"{name} queue",
                "division": _ref(cat.divisions[div_index], "authorization/divisions"),
                "dateCreated": created,
                "memberCount": 0,
                "mediaSettings": {"call": {"alertingTimeoutSeconds": 8}},
                "acwSettings": {"wrapupPrompt": "MANDATORY_TIMEOUT", "timeoutMs": 60000},
                "selfUri": f"/api/v2/routing/queues/{qid}",
            }
        )
        cat.queue_media[qid] = media
        cat.queue_agents[qid] = []
    for name in WRAPUP_NAMES:
        wid = _uuid(rng)
        cat.wrapup_codes.append(
            {
                "id": wid,
                "name": name,
                "division": _ref(cat.divisions[0], "authorization/divisions"),
                "dateCreated": created,
                "createdBy": "system",
                "selfUri": f"/api/v2/routing/wrapupcodes/{wid}",
            }
        )
    _add_users(cat, rng, 36)
    for name in ("Spring Renewals", "Overdue Accounts", "Win-back"):
        cat.campaigns.append((_uuid(rng), name, _uuid(rng)))
    for kind, name in (
        ("ivr", "Main IVR"),
        ("inqueue", "Default In-Queue Flow"),
        ("chat", "Web Chat Flow"),
        ("email", "Inbound Email Flow"),
        ("message", "SMS Flow"),
    ):
        cat.flows[kind] = (_uuid(rng), name)
    return cat


def _add_users(cat: Catalog, rng: random.Random, count: int) -> None:
    seen: set[str] = set()
    while len(cat.users) < count:
        name = fake_pii.person_name(rng)
        if name in seen:
            continue
        seen.add(name)
        uid = _uuid(rng)
        email = name.lower().replace("'", "").replace(" ", ".") + "@" + ORG_DOMAIN
        division = cat.divisions[1 + len(cat.users) % (len(cat.divisions) - 1)]
        cat.users.append(
            {
                "id": uid,
                "name": name,
                "email": email,
                "username": email,
                "division": _ref(division, "authorization/divisions"),
                "department": rng.choice(("Support", "Sales", "Finance Ops")),
                "title": rng.choice(("Agent", "Senior Agent", "Team Lead")),
                "state": "active",
                "version": 1,
                "selfUri": f"/api/v2/users/{uid}",
            }
        )
    # Each queue gets several agents; every agent serves 2-3 queues.
    for user in cat.users:
        for queue in rng.sample(cat.queues, rng.randint(2, 3)):
            cat.queue_agents[queue["id"]].append(user)
    for queue in cat.queues:
        agents = cat.queue_agents[queue["id"]]
        if len(agents) < 3:
            agents.extend(u for u in rng.sample(cat.users, 3) if u not in agents)
        queue["memberCount"] = len(agents)
