"""Dimensions of the simulated org (divisions, queues, wrap-up codes, users, DIDs) and the fixed
edges and DID pools.

Dimensions are deterministic from the seed. Edges, DID pools and their carriers are fixed
constants (not seed-dependent) because the demo's carrier seeds (Edge map, DID pool map) are
reviewed files that must match them. Which numbers of a pool are assigned DIDs, and to whom,
depends on the seed.
"""

from __future__ import annotations

import bisect
import itertools
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


@dataclass(frozen=True)
class DidPoolSpec:
    """One of the org's DID pools: a range of E.164 numbers (digits, no `+`) and who carries it.
    Genesys Cloud Voice numbers are provider `PURE_CLOUD_VOICE`; BYOC numbers `PURE_CLOUD`."""

    id: str
    name: str
    provider: str
    carrier: str
    start: str
    end: str
    dids: int
    """How many numbers of the pool are assigned DIDs (the first ones of the range)."""


DID_POOLS: tuple[DidPoolSpec, ...] = (
    DidPoolSpec("d1d00000-0000-4000-8000-000000000001", "Cloud Voice - US toll free",
                "PURE_CLOUD_VOICE", "genesys_cloud_voice", "18005550100", "18005550199", 6),
    DidPoolSpec("d1d00000-0000-4000-8000-000000000002", "Cloud Voice - Chicago",
                "PURE_CLOUD_VOICE", "genesys_cloud_voice", "13125550100", "13125550199", 8),
    DidPoolSpec("d1d00000-0000-4000-8000-000000000003", "BYOC Northwind - New York",
                "PURE_CLOUD", "northwind_telecom", "12125550100", "12125550149", 8),
    DidPoolSpec("d1d00000-0000-4000-8000-000000000004", "BYOC Atlantic - London",
                "PURE_CLOUD", "atlantic_carrier", "442079460100", "442079460199", 6),
    DidPoolSpec("d1d00000-0000-4000-8000-000000000005", "BYOC Atlantic - Madrid",
                "PURE_CLOUD", "atlantic_carrier", "34915550100", "34915550199", 4),
)  # fmt: skip
DID_OWNER_TYPES = ("IVR_CONFIG", "USER", "GROUP", "PHONE")
_OWNER_URIS = {
    "IVR_CONFIG": "/api/v2/architect/ivrs",
    "USER": "/api/v2/users",
    "GROUP": "/api/v2/groups",
    "PHONE": "/api/v2/telephony/providers/edges/phones",
}
LOOKALIKE_RATE = 0.04
"""Share of customers whose number starts like an org pool's numbers but is outside every pool."""


def in_org_pool(digits: str) -> bool:
    return any(len(digits) == len(p.start) and p.start <= digits <= p.end for p in DID_POOLS)


def edges_of(carrier: str) -> tuple[str, ...]:
    return tuple(edge for edge, c in EDGE_CARRIERS.items() if c == carrier)


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
    did_pools: list[dict[str, Any]] = field(default_factory=list)
    dids: list[dict[str, Any]] = field(default_factory=list)
    did_carrier: dict[str, str] = field(default_factory=dict)  # DID digits -> carrier
    _did_cum: list[float] = field(default_factory=list)  # cumulative call weights of `dids`

    def queues_for(self, media: str) -> list[dict[str, Any]]:
        return [q for q in self.queues if self.queue_media[q["id"]] == media]

    def busy_did(self, rng: random.Random) -> str:
        """An org DID (E.164 digits) for a call: a few DIDs carry most calls (1/rank weights)."""
        index = bisect.bisect(self._did_cum, rng.random() * self._did_cum[-1])
        return str(self.dids[min(index, len(self.dids) - 1)]["phoneNumber"][1:])

    def lookalike_number(self, rng: random.Random) -> str:
        """A customer number sharing all but its last two digits with an org pool, outside
        every pool (so masking must cut it although it starts like the org's numbers)."""
        while True:
            pool = DID_POOLS[int(rng.random() * len(DID_POOLS))]
            number = pool.start[:-3] + f"{rng.randrange(1000):03d}"
            if not in_org_pool(number):
                return number


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
    _add_did_pools(cat, rng, created)
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


def _add_did_pools(cat: Catalog, rng: random.Random, created: str) -> None:
    """The pools as `/telephony/providers/edges/didpools` and their DIDs as `/edges/dids`."""
    for spec in DID_POOLS:
        cat.did_pools.append(
            {
                "id": spec.id,
                "name": spec.name,
                "description": f"{spec.carrier} numbers",
                "version": 1,
                "dateCreated": created,
                "state": "active",
                "startPhoneNumber": f"+{spec.start}",
                "endPhoneNumber": f"+{spec.end}",
                "comments": "",
                "provider": spec.provider,
                "selfUri": f"/api/v2/telephony/providers/edges/didpools/{spec.id}",
            }
        )
    owners = {
        "IVR_CONFIG": [{"id": _uuid(rng), "name": "Main IVR schedule"}],
        "GROUP": [{"id": _uuid(rng), "name": "Billing hunt group"}],
        "PHONE": [{"id": _uuid(rng), "name": "Lobby phone"}],
    }
    numbers = [
        (spec, f"{int(spec.start) + i:0{len(spec.start)}d}")
        for spec in DID_POOLS
        for i in range(spec.dids)
    ]
    # Which DID is busiest depends on the seed; weights 1, 1/2, 1/3, ... by that order.
    rng.shuffle(numbers)
    for (spec, digits), rank in zip(numbers, itertools.count(1), strict=False):
        owner_type = DID_OWNER_TYPES[0] if rank <= 5 else rng.choice(DID_OWNER_TYPES)
        owner = (
            {"id": rng.choice(cat.users)["id"], "name": None}
            if owner_type == "USER"
            else rng.choice(owners[owner_type])
        )
        if owner_type == "USER":
            owner["name"] = next(u["name"] for u in cat.users if u["id"] == owner["id"])
        did_id = _uuid(rng)
        cat.dids.append(
            {
                "id": did_id,
                "name": f"+{digits}",
                "version": 1,
                "state": "active",
                "phoneNumber": f"+{digits}",
                "didPool": {
                    "id": spec.id,
                    "name": spec.name,
                    "selfUri": f"/api/v2/telephony/providers/edges/didpools/{spec.id}",
                },
                "owner": {**owner, "selfUri": f"{_OWNER_URIS[owner_type]}/{owner['id']}"},
                "ownerType": owner_type,
                "selfUri": f"/api/v2/telephony/providers/edges/dids/{did_id}",
            }
        )
        cat.did_carrier[digits] = spec.carrier
        cat._did_cum.append((cat._did_cum[-1] if cat._did_cum else 0.0) + 1.0 / rank)
