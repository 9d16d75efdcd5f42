"""Conversation shapes: inbound IVR/queue/agent voice, transfers, conferences, outbound, dialer,
callbacks, chat, email, messaging; rendering to the API's JSON (reference §7) and the PII inventory.

Times are epoch-ms ints while building. Metric identities (reference §7.8) hold by construction:
tHandle = tTalkComplete + tHeldComplete + tAcw; tAlert/tHeld/tAcw/tConnected equal their segments;
the answering agent's tAnswered equals the acd session's tAcd.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple, TypeVar

from genesys_sim import fake_pii
from genesys_sim.catalog import (
    EDGE_IDS,
    LOOKALIKE_RATE,
    ORG_DOMAIN,
    Catalog,
    _uuid,
    edges_of,
    in_org_pool,
)

Json = dict[str, Any]
T = TypeVar("T")

# Keys that exist only once a segment has ended (removed from a segment still open at `now`).
END_ONLY_KEYS = (
    "segmentEnd", "disconnectType", "q850ResponseCodes", "sipResponseCodes", "wrapUpCode",
    "wrapUpNote", "errorCode",
)  # fmt: skip

# -- time: epoch ms <-> ISO-8601 ---------------------------------------------------------------
MS_DAY = 86_400_000
_EPOCH_ORD = date(1970, 1, 1).toordinal()
_DAY_PREFIX: dict[int, str] = {}


def to_ms(dt: datetime) -> int:
    """Epoch ms of a datetime (naive = UTC)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def day_ms(day: date) -> int:
    return (day.toordinal() - _EPOCH_ORD) * MS_DAY


def ms_day(ms: int) -> date:
    return date.fromordinal(_EPOCH_ORD + ms // MS_DAY)


# "SS.mmmZ" for every ms of a minute (60,000 short strings, ~4 MB): rendering is the hot path.
_SEC_MS_SUFFIX = tuple(f"{i // 1000:02d}.{i % 1000:03d}Z" for i in range(60_000))
_MINUTE_PREFIX: dict[int, str] = {}


def iso_ms(ms: int) -> str:
    """Epoch ms -> `YYYY-MM-DDTHH:MM:SS.mmmZ` via a cached minute prefix and a suffix table."""
    minute, rest = divmod(ms, 60_000)
    prefix = _MINUTE_PREFIX.get(minute)
    if prefix is None:
        if len(_MINUTE_PREFIX) > 200_000:
            _MINUTE_PREFIX.clear()
        d, m = divmod(minute, 1440)
        day = _DAY_PREFIX.get(d)
        if day is None:
            day = _DAY_PREFIX[d] = date.fromordinal(_EPOCH_ORD + d).isoformat() + "T"
        prefix = _MINUTE_PREFIX[minute] = f"{day}{m // 60:02d}:{m % 60:02d}:"
    return prefix + _SEC_MS_SUFFIX[rest]


def parse_iso_ms(text: str) -> int:
    """ISO-8601 (Z or offset) -> epoch ms."""
    return to_ms(datetime.fromisoformat(text.replace("Z", "+00:00")))


MAX_SPAN = timedelta(days=7)
_MAX_EMAIL_MS = int((MAX_SPAN - timedelta(hours=6)).total_seconds() * 1000)

# Scenario weights (sum 100).
_SCENARIOS = (
    ("inbound_voice", 58),
    ("outbound_voice", 8),
    ("dialer", 8),
    ("callback", 4),
    ("chat", 9),
    ("email", 6),
    ("message", 7),
)
_SCEN_NAMES = [s for s, _ in _SCENARIOS]
_SCEN_CUM = [sum(w for _, w in _SCENARIOS[: i + 1]) for i in range(len(_SCENARIOS))]
# Inbound carrier edges favour the cloud-voice edges; outbound mostly the BYOC carriers.
_IN_EDGE_CUM = [40, 70, 80, 88, 95, 100]
_OUT_EDGE_CUM = [15, 30, 50, 65, 85, 100]
NOT_RESPONDING = "error.ininedgecontrol.session.inactive"
WRAPUP_TIMEOUT = "ININ-WRAP-UP-TIMEOUT"


def _ri(rng: random.Random, lo: int, hi: int) -> int:
    """Uniform int in [lo, hi]; random() is several times cheaper than randint()."""
    return lo + int(rng.random() * (hi - lo + 1))


def _pick(rng: random.Random, seq: Sequence[T]) -> T:
    return seq[int(rng.random() * len(seq))]


def _seg(kind: str, start: int, end: int, **extra: Any) -> Json:
    seg: Json = {"conference": False, "segmentStart": start, "segmentEnd": end, "segmentType": kind}
    if extra:
        seg.update(extra)
    return seg


def _m(name: str, emit: int, value: int) -> Json:
    return {"emitDate": emit, "name": name, "value": value}


class _Builder:
    """State of one conversation under construction."""

    def __init__(self, cat: Catalog, rng: random.Random, start: int) -> None:
        self.cat = cat
        self.rng = rng
        self.start = start
        self.participants: list[Json] = []
        self.divisions: list[str] = []
        self.mos: list[tuple[float, float]] = []
        self.extra: Json = {}

    def uuid(self) -> str:
        return _uuid(self.rng)

    def call_id(self) -> str:
        """SIP Call-ID: mostly a UUID, sometimes `id@host` with an IP (reference §9)."""
        rng = self.rng
        if rng.random() < 0.12:
            ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            return f"{rng.getrandbits(64):016x}@{ip}"
        return self.uuid()

    def edge(self, outbound: bool) -> str:
        cum = _OUT_EDGE_CUM if outbound else _IN_EDGE_CUM
        return EDGE_IDS[bisect(cum, self.rng.random() * cum[-1])]

    def org_did(self) -> str:
        return self.cat.busy_did(self.rng)

    def edge_for(self, org_number: str, outbound: bool) -> str:
        """The edge of a call on an org DID: one of its pool's carrier's edges."""
        carrier = self.cat.did_carrier.get(org_number)
        if carrier is None:
            return self.edge(outbound)
        return _pick(self.rng, edges_of(carrier))

    def queue(self, media: str) -> Json:
        q = _pick(self.rng, self.cat.queues_for(media))
        div = q["division"]["id"]
        if div not in self.divisions:
            self.divisions.append(div)
        return q

    def agent(self, queue: Json, exclude: tuple[str, ...] = ()) -> Json:
        agents = [a for a in self.cat.queue_agents[queue["id"]] if a["id"] not in exclude]
        return _pick(self.rng, agents or self.cat.queue_agents[queue["id"]])

    def wrapup_code(self) -> str:
        return str(_pick(self.rng, self.cat.wrapup_codes)["id"])

    def endpoint_stats(self, event: int, length_ms: int) -> list[Json]:
        rng = self.rng
        mos = round(rng.uniform(3.6, 4.9), 6)
        rf = round(mos * 18.9 + rng.uniform(0, 2), 5)
        self.mos.append((mos, rf))
        stat: Json = {
            "codecs": [_pick(rng, ("audio/opus", "audio/PCMU"))],
            "eventTime": event,
            "maxLatencyMs": _ri(rng, 20, 160),
            "minMos": mos,
            "minRFactor": rf,
            "receivedPackets": max(1, length_ms // 20),
        }
        if rng.random() < 0.2:
            stat["discardedPackets"] = _ri(rng, 1, 40)
        return [stat]

    def participant(self, purpose: str, name: str, sessions: list[Json], **extra: Any) -> Json:
        p: Json = {
            "participantId": self.uuid(),
            "participantName": name,
            "purpose": purpose,
            **extra,
            "sessions": sessions,
        }
        self.participants.append(p)
        return p

    def note(self, customer: _Customer) -> str:
        rng = self.rng
        if rng.random() < 0.5:
            invoice = rng.randrange(1000, 9999)
            return f"Customer asked about invoice {invoice}; resent to {customer.email}"
        return (
            f"Call back {customer.name} on {fake_pii.pretty_us(customer.number)} re account "
            f"{customer.account}"
        )


def _customer_number(rng: random.Random) -> str:
    """A person's number: never one of the org's own (fake US numbers share 555-01xx with them)."""
    while True:
        number = fake_pii.customer_number(rng)
        if not in_org_pool(number):
            return number


class _Customer:
    """The customer's PII for one conversation."""

    def __init__(self, rng: random.Random, cat: Catalog) -> None:
        self.name = fake_pii.person_name(rng)
        self.number = _customer_number(rng)
        if rng.random() < LOOKALIKE_RATE:
            self.number = cat.lookalike_number(rng)
        self.email = fake_pii.email_for(self.name, rng)
        self.account = fake_pii.account_number(rng)
        # Caller ID without a name: participantName and remote hold raw digits.
        self.display = self.name if rng.random() < 0.8 else self.number

    def attributes(self, rng: random.Random, menu: str) -> dict[str, str]:
        attrs = {"ivr.menuSelection": menu, "accountNumber": self.account}
        if rng.random() < 0.3:
            attrs["customerName"] = self.name
        if rng.random() < 0.2:
            attrs["customerEmail"] = self.email
        return attrs


def _pieces(rng: random.Random, talk_ms: int, holds: int) -> list[tuple[str, int]]:
    """Talk split by `holds` hold stretches: [interact, hold, interact, ...]."""
    if holds == 0:
        return [("interact", talk_ms)]
    cuts = sorted(rng.randrange(1000, max(1001, talk_ms - 1000)) for _ in range(holds))
    out: list[tuple[str, int]] = []
    prev = 0
    for cut in cuts:
        out.append(("interact", max(500, cut - prev)))
        out.append(("hold", _ri(rng, 8_000, 180_000)))
        prev = cut
    out.append(("interact", max(500, talk_ms - prev)))
    return out


def _agent_work(
    b: _Builder,
    session: Json,
    answer: int,
    pieces: list[tuple[str, int]],
    last_disconnect: str,
    queue_id: str | None,
    customer: _Customer,
    extra_counts: tuple[str, ...] = (),
    conference_from: int | None = None,
) -> tuple[int, int]:
    """Talk/hold stretches from `answer`, then wrap-up; appends segments and metrics.

    Returns (talk end, wrap-up end).
    """
    rng = b.rng
    segs: list[Json] = session["segments"]
    mets: list[Json] = session["metrics"]
    t = answer
    talk_total = held_total = 0
    q = {"queueId": queue_id} if queue_id else {}
    for i, (kind, length) in enumerate(pieces):
        seg = _seg(kind, t, t + length, **q)
        if conference_from is not None and t >= conference_from:
            seg["conference"] = True
        if i == len(pieces) - 1:
            seg["disconnectType"] = last_disconnect
        segs.append(seg)
        t += length
        if kind == "interact":
            talk_total += length
            mets.append(_m("tTalk", t, length))
        else:
            held_total += length
            mets.append(_m("tHeld", t, length))
    mets.append(_m("tTalkComplete", t, talk_total))
    if held_total:
        mets.append(_m("tHeldComplete", t, held_total))
    for name in extra_counts:
        mets.append(_m(name, t, 1))
    acw = _ri(rng, 5_000, 120_000)
    wrap = _seg("wrapup", t, t + acw, wrapUpCode=b.wrapup_code(), **q)
    if rng.random() < 0.45:
        wrap["wrapUpNote"] = b.note(customer)
    wrap["q850ResponseCodes"] = [16]
    segs.append(wrap)
    mets.append(_m("tAcw", t + acw, acw))
    mets.append(_m("tHandle", t + acw, talk_total + held_total + acw))
    if session.get("mediaType") == "voice":
        session["mediaEndpointStats"] = b.endpoint_stats(t, t - answer)
    return t, t + acw


def _voice_session(
    b: _Builder, direction: str, ani: str, dnis: str, edge: str, **extra: Any
) -> Json:
    s: Json = {
        "ani": fake_pii.tel(ani),
        "direction": direction,
        "dnis": fake_pii.tel(dnis),
        "edgeId": edge,
        "mediaType": "voice",
        "protocolCallId": b.call_id(),
        "provider": "Edge",
        "sessionId": b.uuid(),
        **extra,
        "segments": [],
        "metrics": [],
    }
    return s


def _fork(base: Json, b: _Builder, **extra: Any) -> Json:
    """A new session from shared fields: fresh lists (masking may edit in place), own ids."""
    s = {k: (list(v) if isinstance(v, list) else v) for k, v in base.items()}
    s["sessionId"] = b.uuid()
    if base.get("mediaType") == "voice":
        s["protocolCallId"] = b.call_id()
    s.update(extra)
    s["segments"] = []
    s["metrics"] = []
    return s


def _agent_participant(b: _Builder, user: Json, session: Json) -> Json:
    return b.participant("agent", user["name"], [session], userId=user["id"])


def _sip_agent(user: Json) -> str:
    return f"sip:{user['email'].replace('@', '%40')}@localhost"


def _not_responding(
    b: _Builder, user: Json, base: Json, start: int, alert: int, queue_id: str
) -> int:
    """An agent alerted who never answered: alert with errorCode, short wrap-up; returns end."""
    s = _fork(base, b)
    s["segments"] = [
        _seg(
            "alert",
            start,
            start + alert,
            queueId=queue_id,
            disconnectType="error",
            errorCode=NOT_RESPONDING,
        ),
        _seg(
            "wrapup",
            start + alert,
            start + alert + 2_000,
            queueId=queue_id,
            wrapUpCode=WRAPUP_TIMEOUT,
        ),
    ]
    s["metrics"] = [
        _m("nError", start + alert, 1),
        _m("tAlert", start + alert, alert),
        _m("tNotResponding", start + alert, alert),
        _m("tAcw", start + alert + 2_000, 2_000),
        _m("tHandle", start + alert + 2_000, 2_000),
    ]
    _agent_participant(b, user, s)
    return start + alert + 2_000


class Routed(NamedTuple):
    """An agent answered: when, who, and their session (alert segment and tAnswered already in)."""

    answer: int
    user: Json
    session: Json


def _queue_and_agents(
    b: _Builder,
    queue: Json,
    acd_start: int,
    base: Json,
    customer: _Customer,
    cust_sid: str,
    exclude: tuple[str, ...] = (),
    flow_in: str | None = "ivr",
) -> Routed | int:
    """acd participant plus not-responding agents; returns who answers and when, or the time the
    customer abandoned in queue (the acd segment then ends the call)."""
    rng = b.rng
    qid = queue["id"]
    misses = 0 if rng.random() > 0.07 else _pick(rng, (1, 1, 2))
    answer_alert = _ri(rng, 1_500, 9_000)
    wait = int(min(rng.expovariate(1 / 45_000), 900_000)) + misses * 10_000 + answer_alert + 500
    answer = acd_start + wait
    delay = _ri(rng, 50, 900) if rng.random() < 0.3 else 0
    acd = _fork(base, b, peerId=cust_sid, remote=customer.display)
    if flow_in:
        acd["flowInType"] = flow_in
    if delay:
        acd["segments"].append(_seg("delay", acd_start, acd_start + delay, queueId=qid))
    if rng.random() < 0.08:  # abandoned in queue
        end = acd_start + delay + _ri(rng, 2_000, 240_000)
        acd["segments"].append(
            _seg("interact", acd_start + delay, end, queueId=qid, disconnectType="peer")
        )
        acd["metrics"] = [_m("nOffered", acd_start, 1), _m("tAbandon", end, end - acd_start)]
        b.participant("acd", queue["name"], [acd])
        return end
    user = b.agent(queue, exclude)
    interact = _seg("interact", acd_start + delay, answer, queueId=qid, disconnectType="transfer")
    if rng.random() < 0.05:
        interact["sipResponseCodes"] = [410]
    acd["segments"].append(interact)
    acd["metrics"] = [_m("nOffered", acd_start, 1), _m("tAcd", answer, answer - acd_start)]
    acd["selectedAgentId"] = user["id"]
    acd["destinationAddresses"] = [_sip_agent(user)]
    acd["requestedRoutings"] = ["Standard"]
    acd["usedRouting"] = "Standard"
    b.participant("acd", queue["name"], [acd])
    t = acd_start + delay + 200
    tried = (*exclude, user["id"])
    for _ in range(misses):
        miss_user = b.agent(queue, tried)
        tried = (*tried, miss_user["id"])
        _not_responding(b, miss_user, base, t, 8_000, qid)
        t += 10_000
    session = _fork(base, b, peerId=cust_sid, remote=customer.display, selectedAgentId=user["id"])
    if base.get("mediaType") == "voice":
        session["sessionDnis"] = (
            f"sip:{b.rng.getrandbits(96):024x}+example.orgspan.com;tgrp={b.uuid()}"
        )
    session["segments"].append(_seg("alert", answer - answer_alert, answer, queueId=qid))
    session["metrics"] += [
        _m("tAlert", answer, answer_alert),
        _m("tAnswered", answer, answer - acd_start),
    ]
    return Routed(answer, user, session)


def _talk_ms(rng: random.Random) -> int:
    return int(min(rng.lognormvariate(12.0, 0.8), 3_600_000)) + 5_000


def _inbound_voice(b: _Builder) -> str:
    rng, t0 = b.rng, b.start
    cust = _Customer(rng, b.cat)
    dnis = b.org_did()
    edge = b.edge_for(dnis, False)
    cust_session = _voice_session(
        b,
        "inbound",
        cust.number,
        dnis,
        edge,
        remoteNameDisplayable=cust.display,
        sessionDnis=fake_pii.tel(dnis),
    )
    cust_sid = cust_session["sessionId"]
    base = {
        k: cust_session[k] for k in ("ani", "direction", "dnis", "edgeId", "mediaType", "provider")
    }
    base["sessionDnis"] = cust_session["sessionDnis"]
    sys_end = t0 + _ri(rng, 150, 400)
    ivr_start = t0 + _ri(rng, 20, 60)
    ivr_end = sys_end + _ri(rng, 8_000, 90_000)
    queue = b.queue("voice")
    abandoned_ivr = rng.random() < 0.05
    callback_offer = (not abandoned_ivr) and rng.random() < 0.02
    _ivr(b, base, cust, cust_sid, ivr_start, ivr_end, queue, abandoned_ivr or callback_offer)
    if callback_offer:  # the caller left a callback request in the IVR and hung up
        b.participants[-1]["sessions"][0]["flow"]["issuedCallback"] = True
    cust_participant = b.participant(
        "customer",
        cust.display,
        [cust_session],
        attributes=cust.attributes(rng, queue["name"].split(" ")[0].lower()),
    )
    if rng.random() < 0.4:
        cust_participant["externalContactId"] = b.uuid()
    if abandoned_ivr or callback_offer:
        call_end = ivr_end
    else:
        call_end = _route_voice(b, queue, ivr_end + _ri(rng, 3, 15), base, cust, cust_sid, dnis)
    cust_session["segments"] = [
        _seg("system", t0, sys_end),
        _seg(
            "interact",
            sys_end,
            call_end,
            disconnectType=_pick(rng, ("endpoint", "peer")),
            q850ResponseCodes=[16],
        ),
    ]
    cust_session["metrics"] = [
        _m("nConnected", sys_end, 1),
        _m("tConnected", call_end, call_end - sys_end),
    ]
    cust_session["mediaEndpointStats"] = b.endpoint_stats(call_end, call_end - sys_end)
    cust_session["requestedRoutings"] = ["Standard"]
    return "inbound"


def _ivr(
    b: _Builder,
    base: Json,
    cust: _Customer,
    cust_sid: str,
    start: int,
    end: int,
    queue: Json,
    disconnected: bool,
) -> None:
    flow_id, flow_name = b.cat.flows["ivr"]
    flow: Json = {
        "endingLanguage": "en-us",
        "entryReason": base["dnis"],
        "entryType": "dnis",
        "flowId": flow_id,
        "flowName": flow_name,
        "flowType": "INBOUNDCALL",
        "flowVersion": "5.0",
        "startingLanguage": "en-us",
    }
    length = end - start
    metrics = [_m("nFlow", start + 8, 1), _m("tIvr", end, length), _m("tFlow", end + 5, length)]
    if disconnected:
        flow["exitReason"] = "DISCONNECT"
        metrics.append(_m("tFlowDisconnect", end + 5, length))
    else:
        flow.update(
            exitReason="TRANSFER",
            transferTargetAddress=queue["id"],
            transferTargetName=queue["name"],
            transferType="ACD",
        )
        metrics.append(_m("tFlowExit", end + 5, length))
    session = _fork(
        base,
        b,
        peerId=cust_sid,
        remote=cust.number,
        remoteNameDisplayable=_pick(b.rng, fake_pii.CITIES),
    )
    session["flow"] = flow
    session["metrics"] = metrics
    session["segments"] = [
        _seg("system", b.start, start),
        _seg("ivr", start, end, disconnectType="peer" if disconnected else "transfer"),
    ]
    b.participant("ivr", flow_name, [session])


def _route_voice(
    b: _Builder, queue: Json, acd_start: int, base: Json, cust: _Customer, cust_sid: str, dnis: str
) -> int:
    """Queue -> agent, with holds, transfers, conferences; returns when the customer leg ends."""
    rng = b.rng
    routed = _queue_and_agents(b, queue, acd_start, base, cust, cust_sid)
    if isinstance(routed, int):
        return routed
    answer, user, session = routed
    holds = _pick(rng, (0, 0, 0, 0, 0, 0, 1, 1, 2))
    talk = _talk_ms(rng)
    pieces = _pieces(rng, talk, holds)
    r = rng.random()
    if r < 0.06:  # blind transfer to another queue
        tx, _ = _agent_work(
            b,
            session,
            answer,
            pieces,
            "transfer",
            queue["id"],
            cust,
            ("nTransferred", "nBlindTransferred"),
        )
        _agent_participant(b, user, session)
        return _second_queue(b, queue, tx, base, cust, cust_sid, user)
    if r < 0.10:
        return _consult_transfer(b, queue, answer, user, session, pieces, base, cust, cust_sid)
    if r < 0.13:  # blind transfer to an external number: a new carrier-facing outbound leg
        tx, _ = _agent_work(
            b,
            session,
            answer,
            pieces,
            "transfer",
            queue["id"],
            cust,
            ("nTransferred", "nBlindTransferred"),
        )
        _agent_participant(b, user, session)
        return _external_leg(b, tx, dnis, cust_sid, _ri(rng, 30_000, 600_000), user)
    if r < 0.15:  # conference an external party in
        conf_at = answer + pieces[0][1] // 2
        t_end, _ = _agent_work(
            b,
            session,
            answer,
            [("interact", conf_at - answer), ("interact", talk - (conf_at - answer))],
            "client",
            queue["id"],
            cust,
            conference_from=conf_at,
        )
        _agent_participant(b, user, session)
        ext_end = _external_leg(
            b, conf_at, dnis, cust_sid, max(1_000, t_end - conf_at - 4_000), user, conference=True
        )
        b.extra["conferenceStart"] = conf_at
        return max(t_end, ext_end)
    end, _ = _agent_work(
        b, session, answer, pieces, _pick(rng, ("peer", "client")), queue["id"], cust
    )
    _agent_participant(b, user, session)
    return end


def _consult_transfer(
    b: _Builder,
    queue: Json,
    answer: int,
    user: Json,
    session: Json,
    pieces: list[tuple[str, int]],
    base: Json,
    cust: _Customer,
    cust_sid: str,
) -> int:
    """Agent 1 holds the customer and consults queue 2; once agent 2 has answered and they have
    talked, agent 1 drops out (consultTransfer) and agent 2 keeps the customer."""
    rng = b.rng
    hold_start = answer + sum(length for _, length in pieces)
    slot = len(b.participants)  # agent 1 goes before the second queue's participants
    queue2 = _other_queue(b, queue)
    routed = _queue_and_agents(
        b, queue2, hold_start + 20, base, cust, cust_sid, (user["id"],), None
    )
    counts = ("nConsult", "nConsultTransferred", "nTransferred")
    if isinstance(routed, int):  # the customer hung up on hold while agent 1 waited
        end = routed
        pieces.append(("hold", end - hold_start))
        _agent_work(b, session, answer, pieces, "peer", queue["id"], cust, counts[:1])
        _agent_participant(b, user, session)
        b.participants.insert(slot, b.participants.pop())
        return end
    answer2, user2, session2 = routed
    consult = _ri(rng, 10_000, 60_000)
    pieces.append(("hold", answer2 + consult - hold_start))
    _agent_work(b, session, answer, pieces, "consultTransfer", queue["id"], cust, counts)
    _agent_participant(b, user, session)
    b.participants.insert(slot, b.participants.pop())
    talk2 = consult + _talk_ms(rng)
    end, _ = _agent_work(b, session2, answer2, [("interact", talk2)], "peer", queue2["id"], cust)
    _agent_participant(b, user2, session2)
    return end


def _other_queue(b: _Builder, first: Json) -> Json:
    queue = _pick(b.rng, [q for q in b.cat.queues_for("voice") if q["id"] != first["id"]])
    if queue["division"]["id"] not in b.divisions:
        b.divisions.append(queue["division"]["id"])
    return queue


def _second_queue(
    b: _Builder,
    first: Json,
    at: int,
    base: Json,
    cust: _Customer,
    cust_sid: str,
    user1: Json,
) -> int:
    queue = _other_queue(b, first)
    routed = _queue_and_agents(
        b, queue, at + 20, base, cust, cust_sid, (user1["id"],), flow_in=None
    )
    if isinstance(routed, int):
        return routed
    answer, user, session = routed
    talk = _talk_ms(b.rng)
    end, _ = _agent_work(b, session, answer, _pieces(b.rng, talk, 0), "peer", queue["id"], cust)
    _agent_participant(b, user, session)
    return end


def _external_leg(
    b: _Builder,
    at: int,
    company: str,
    cust_sid: str,
    talk: int,
    user: Json,
    conference: bool = False,
) -> int:
    """Outbound leg to an external number (purpose `external`); returns its end."""
    rng = b.rng
    number = _customer_number(rng)
    name = fake_pii.person_name(rng)
    session = _voice_session(
        b,
        "outbound",
        company,
        number,
        b.edge_for(company, True),
        peerId=cust_sid,
        remote=name,
        remoteNameDisplayable=name,
    )
    ring = _ri(rng, 2_000, 20_000)
    answered = at + 300 + ring
    end = answered + talk
    session["segments"] = [
        _seg("dialing", at, at + 300),
        _seg("contacting", at + 300, answered),
        _seg(
            "interact",
            answered,
            end,
            conference=conference,
            disconnectType="endpoint",
            q850ResponseCodes=[16],
        ),
    ]
    session["metrics"] = [_m("nConnected", answered, 1), _m("tConnected", end, talk)]
    session["mediaEndpointStats"] = b.endpoint_stats(end, talk)
    session["destinationAddresses"] = [fake_pii.tel(number)]
    b.participant("external", fake_pii.tel(number), [session])
    return end


def _outbound_voice(b: _Builder) -> str:
    """An agent dials a customer (agent participant first, then the customer leg)."""
    rng, t0 = b.rng, b.start
    cust = _Customer(rng, b.cat)
    queue = b.queue("outbound")
    user = b.agent(queue)
    company = b.org_did()
    edge = b.edge_for(company, True)
    agent_s = _voice_session(b, "outbound", company, cust.number, edge, remote=cust.display)
    dial = t0 + _ri(rng, 300, 1_500)
    ring = _ri(rng, 3_000, 25_000)
    answered = dial + ring
    agent_s["segments"] = [
        _seg("dialing", t0, dial, queueId=queue["id"]),
        _seg("contacting", dial, answered, queueId=queue["id"]),
    ]
    agent_s["metrics"] = [
        _m("nOutbound", t0, 1),
        _m("nOutboundAttempted", dial, 1),
        _m("tDialing", dial, dial - t0),
        _m("tContacting", answered, ring),
    ]
    cust_s = _voice_session(
        b,
        "outbound",
        company,
        cust.number,
        edge,
        peerId=agent_s["sessionId"],
        remoteNameDisplayable=cust.display,
    )
    _agent_participant(b, user, agent_s)  # first: the agent originated the call
    if rng.random() < 0.18:  # no answer / busy: never answered, no CDR
        code = _pick(rng, (480, 486, 487))
        cust_s["segments"] = [
            _seg("contacting", dial, answered, disconnectType="endpoint", sipResponseCodes=[code])
        ]
        cust_s["metrics"] = []
        acw = _ri(rng, 2_000, 20_000)
        agent_s["segments"][-1]["disconnectType"] = "peer"
        agent_s["segments"].append(
            _seg(
                "wrapup", answered, answered + acw, queueId=queue["id"], wrapUpCode=b.wrapup_code()
            )
        )
        agent_s["metrics"] += [_m("tAcw", answered + acw, acw), _m("tHandle", answered + acw, acw)]
    else:
        pieces = _pieces(rng, _talk_ms(rng), _pick(rng, (0, 0, 0, 1)))
        end, _ = _agent_work(
            b,
            agent_s,
            answered,
            pieces,
            _pick(rng, ("peer", "client")),
            queue["id"],
            cust,
            ("nOutboundConnected",),
        )
        cust_s["segments"] = [
            _seg("contacting", dial, answered),
            _seg("interact", answered, end, disconnectType="peer", q850ResponseCodes=[16]),
        ]
        cust_s["metrics"] = [_m("nConnected", answered, 1), _m("tConnected", end, end - answered)]
        cust_s["mediaEndpointStats"] = b.endpoint_stats(end, end - answered)
    b.participant(_pick(rng, ("customer", "customer", "external")), cust.display, [cust_s])
    return "outbound"


def _dialer(b: _Builder) -> str:
    """A campaign (predictive dialer) call: person -> queue/agent; machine; no answer."""
    rng, t0 = b.rng, b.start
    cust = _Customer(rng, b.cat)
    queue = b.queue("outbound")
    camp_id, camp_name, list_id = _pick(rng, b.cat.campaigns)
    company = b.org_did()
    edge = b.edge_for(company, True)
    dial_fields = {
        "outboundCampaignId": camp_id,
        "outboundContactListId": list_id,
        "outboundContactId": b.uuid(),
    }
    cust_s = _voice_session(
        b,
        "outbound",
        company,
        cust.number,
        edge,
        remoteNameDisplayable=cust.display,
        dispositionAnalyzer="speech.person",
        **dial_fields,
    )
    ring = _ri(rng, 3_000, 30_000)
    answered = t0 + ring
    camp_s: Json = {
        "direction": "outbound",
        "mediaType": "voice",
        "provider": "Edge",
        "sessionId": b.uuid(),
        "peerId": cust_s["sessionId"],
        **dial_fields,
    }
    r = rng.random()
    if r < 0.25:  # no answer or busy
        busy = r < 0.07
        cust_s["dispositionName"] = "disposition.classification.callable." + (
            "busy" if busy else "noanswer"
        )
        cust_s["segments"] = [
            _seg(
                "contacting",
                t0,
                answered,
                disconnectType="endpoint",
                sipResponseCodes=[486 if busy else 480],
            )
        ]
        cust_s["metrics"] = [_m("nOutboundAttempted", t0, 1)]
        camp_s["segments"] = [_seg("dialing", t0, answered, disconnectType="endpoint")]
        end = answered
    elif r < 0.40:  # answering machine: a short answered (billable) leg, no agent
        cust_s["dispositionName"] = "disposition.classification.callable.machine"
        cust_s["dispositionAnalyzer"] = "speech.machine"
        end = answered + _ri(rng, 2_500, 12_000)
        cust_s["segments"] = [
            _seg("contacting", t0, answered),
            _seg("interact", answered, end, disconnectType="system"),
        ]
        cust_s["metrics"] = [
            _m("nOutboundAttempted", t0, 1),
            _m("nConnected", answered, 1),
            _m("tConnected", end, end - answered),
        ]
        camp_s["segments"] = [
            _seg("dialing", t0, answered),
            _seg("interact", answered, end, disconnectType="system"),
        ]
    else:
        cust_s["dispositionName"] = "disposition.classification.callable.live"
        base = {
            k: cust_s[k] for k in ("ani", "direction", "dnis", "edgeId", "mediaType", "provider")
        }
        detect = answered + _ri(rng, 800, 3_000)
        camp_s["segments"] = [
            _seg("dialing", t0, answered),
            _seg("interact", answered, detect, disconnectType="transfer"),
        ]
        routed = _queue_and_agents(
            b, queue, detect + 10, base, cust, cust_s["sessionId"], flow_in=None
        )
        if isinstance(routed, int):
            end = routed
        else:
            answer, user, session = routed
            session.update(dial_fields)
            end, _ = _agent_work(
                b, session, answer, _pieces(rng, _talk_ms(rng), 0), "peer", queue["id"], cust
            )
            _agent_participant(b, user, session)
        cust_s["segments"] = [
            _seg("contacting", t0, answered),
            _seg("interact", answered, end, disconnectType="peer", q850ResponseCodes=[16]),
        ]
        cust_s["metrics"] = [
            _m("nOutboundAttempted", t0, 1),
            _m("nOutboundConnected", answered, 1),
            _m("nConnected", answered, 1),
            _m("tConnected", end, end - answered),
        ]
        cust_s["mediaEndpointStats"] = b.endpoint_stats(end, end - answered)
    camp_s["metrics"] = []
    internal = b.participants[:]
    b.participants.clear()
    b.participant("customer", cust.display, [cust_s])
    b.participant("campaign", camp_name, [camp_s])
    b.participants.extend(internal)
    return "outbound"


def _callback(b: _Builder) -> str:
    """A web callback request: queued callback, agent accepts, then dials the customer."""
    rng, t0 = b.rng, b.start
    cust = _Customer(rng, b.cat)
    queue = b.queue("voice")
    company = b.org_did()
    cb_fields: Json = {
        "callbackNumbers": [fake_pii.tel(cust.number)],
        "callbackUserName": cust.name,
    }
    if rng.random() < 0.4:
        cb_fields["callbackScheduledTime"] = t0 + _ri(rng, 60_000, 3_600_000)
    cust_cb: Json = {
        "direction": "inbound",
        "mediaType": "callback",
        "provider": "PureCloud Callback",
        "sessionId": b.uuid(),
        **cb_fields,
        "segments": [],
        "metrics": [],
    }
    base: Json = {
        "direction": "inbound",
        "mediaType": "callback",
        "provider": "PureCloud Callback",
        **cb_fields,
    }
    cust_p = b.participant("customer", cust.name, [cust_cb])
    routed = _queue_and_agents(b, queue, t0 + 200, base, cust, cust_cb["sessionId"], flow_in=None)
    if isinstance(routed, int):
        end = routed
        cust_cb["segments"] = [_seg("scheduled", t0, end, disconnectType="peer")]
        return "inbound"
    answer, user, cb_session = routed
    dial = answer + _ri(rng, 2_000, 15_000)
    cb_session["segments"].append(
        _seg("callback", answer, dial, queueId=queue["id"], disconnectType="transfer")
    )
    edge = b.edge_for(company, True)
    agent_v = _voice_session(
        b, "outbound", company, cust.number, edge, peerId=cb_session["sessionId"]
    )
    ring = _ri(rng, 3_000, 20_000)
    answered = dial + 500 + ring
    agent_v["segments"] = [
        _seg("dialing", dial, dial + 500, queueId=queue["id"]),
        _seg("contacting", dial + 500, answered, queueId=queue["id"]),
    ]
    agent_v["metrics"] = [_m("nOutbound", dial, 1)]
    end, _ = _agent_work(
        b, agent_v, answered, _pieces(rng, _talk_ms(rng), 0), "peer", queue["id"], cust
    )
    b.participant("agent", user["name"], [cb_session, agent_v], userId=user["id"])
    cust_v = _voice_session(
        b,
        "outbound",
        company,
        cust.number,
        edge,
        peerId=agent_v["sessionId"],
        remoteNameDisplayable=cust.name,
    )
    cust_v["segments"] = [
        _seg("contacting", dial + 500, answered),
        _seg("interact", answered, end, disconnectType="peer", q850ResponseCodes=[16]),
    ]
    cust_v["metrics"] = [_m("nConnected", answered, 1), _m("tConnected", end, end - answered)]
    cust_v["mediaEndpointStats"] = b.endpoint_stats(end, end - answered)
    cust_cb["segments"] = [_seg("scheduled", t0, dial, disconnectType="transfer")]
    cust_p["sessions"].append(cust_v)
    return "inbound"


def _digital(b: _Builder, media: str) -> str:
    """chat / email / message: no carrier leg, no protocolCallId; some emails last days."""
    rng, t0 = b.rng, b.start
    cust = _Customer(rng, b.cat)
    queue = b.queue(media)
    support = f"support@{ORG_DOMAIN}"
    cust_s: Json = {
        "direction": "inbound",
        "mediaType": media,
        "provider": "PureCloud " + media.title(),
        "sessionId": b.uuid(),
        "remote": cust.display,
    }
    if media == "email":
        cust_s.update(addressFrom=cust.email, addressTo=support)
        if rng.random() < 0.1:
            cust_s["cc"] = [fake_pii.email_for(fake_pii.person_name(rng), rng)]
    elif media == "message":
        sms_to = b.org_did()
        cust_s.update(
            addressFrom=fake_pii.tel(cust.number), addressTo=fake_pii.tel(sms_to), messageType="sms"
        )
    else:
        cust_s["roomId"] = b.uuid()
    base = {k: v for k, v in cust_s.items() if k not in ("sessionId", "remote", "cc", "roomId")}
    cust_p = b.participant("customer", cust.display, [cust_s])
    if media != "email" and rng.random() < 0.3:
        cust_p["attributes"] = cust.attributes(rng, media)
    routed = _queue_and_agents(
        b, queue, t0 + _ri(rng, 200, 2_000), base, cust, cust_s["sessionId"], flow_in=None
    )
    if isinstance(routed, int):
        end = routed
    else:
        answer, user, session = routed
        talk = min(int(rng.lognormvariate(12.5, 0.7)), 3_600_000) + 30_000
        end, _ = _agent_work(b, session, answer, [("interact", talk)], "client", queue["id"], cust)
        sessions = [session]
        if media == "email" and rng.random() < 0.15:  # a reply days later reopens the thread
            later = end + _ri(
                rng, 3_600_000, max(3_600_001, _MAX_EMAIL_MS - (end - t0) - 3_600_000)
            )
            second = _fork(base, b)
            second["segments"].append(_seg("alert", later - 5_000, later, queueId=queue["id"]))
            second["metrics"].append(_m("tAlert", later, 5_000))
            end, _ = _agent_work(
                b, second, later, [("interact", talk // 2 + 10_000)], "client", queue["id"], cust
            )
            sessions.append(second)
        b.participant("agent", user["name"], sessions, userId=user["id"])
    seg = _seg("interact", t0, end, disconnectType="client" if media == "email" else "peer")
    if media == "email":
        seg["subject"] = f"Invoice {rng.randrange(1000, 9999)} question - {cust.name}"
    cust_s["segments"] = [seg]
    cust_s["metrics"] = []
    return "inbound"


_BUILDERS = {
    "inbound_voice": _inbound_voice,
    "outbound_voice": _outbound_voice,
    "dialer": _dialer,
    "callback": _callback,
    "chat": lambda b: _digital(b, "chat"),
    "email": lambda b: _digital(b, "email"),
    "message": lambda b: _digital(b, "message"),
}


def _novelties(b: _Builder) -> None:
    """Rare unknown enum values and fields, as the live API adds them (reference §10.11)."""
    rng = b.rng
    end = max(
        s["segmentEnd"] for p in b.participants for ss in p["sessions"] for s in ss["segments"]
    )
    session: Json = {
        "direction": "inbound",
        "mediaType": "transcript",
        "sessionId": b.uuid(),
        "copilotVersion": "2.1",
        "segments": [_seg("summarizing", b.start, max(b.start + 1, end - _ri(rng, 0, 999)))],
        "metrics": [_m("oSummaryCount", end, 1)],
    }
    b.participant("agentassist", "Agent Copilot", [session])
    b.extra["conversationSummaryState"] = "complete"


def build_conversation(cat: Catalog, rng: random.Random, start_ms: int, now_ms: int) -> Json:
    """One conversation starting at `start_ms`, rendered as of `now_ms`."""
    b = _Builder(cat, rng, start_ms)
    conv_id = b.uuid()
    kind = _SCEN_NAMES[bisect(_SCEN_CUM, rng.random() * _SCEN_CUM[-1])]
    direction = _BUILDERS[kind](b)
    if rng.random() < 0.01:
        _novelties(b)
    end = max(
        s["segmentEnd"] for p in b.participants for ss in p["sessions"] for s in ss["segments"]
    )
    conv: Json = {
        "conversationEnd": end,
        "conversationId": conv_id,
        "conversationStart": start_ms,
        "divisionIds": b.divisions or [cat.divisions[0]["id"]],
        "originatingDirection": direction,
    }
    if b.mos:
        conv["mediaStatsMinConversationMos"] = min(m for m, _ in b.mos)
        conv["mediaStatsMinConversationRFactor"] = min(r for _, r in b.mos)
    for key, value in b.extra.items():
        conv[key] = value
    conv["participants"] = b.participants
    return _render(conv, now_ms)


def _render(conv: Json, now: int) -> Json:
    """ms ints -> ISO strings; a conversation still running at `now` is cut as the API shows it."""
    ongoing = conv["conversationEnd"] > now
    conv["conversationStart"] = iso_ms(conv["conversationStart"])
    if ongoing:
        del conv["conversationEnd"]
        conv["participants"] = [p for p in conv["participants"] if _cut_participant(p, now)]
    else:
        conv["conversationEnd"] = iso_ms(conv["conversationEnd"])
    if "conferenceStart" in conv:
        if conv["conferenceStart"] > now:
            del conv["conferenceStart"]
        else:
            conv["conferenceStart"] = iso_ms(conv["conferenceStart"])
    for p in conv["participants"]:
        for s in p["sessions"]:
            for seg in s["segments"]:
                seg["segmentStart"] = iso_ms(seg["segmentStart"])
                if "segmentEnd" in seg:
                    seg["segmentEnd"] = iso_ms(seg["segmentEnd"])
            for met in s["metrics"]:
                met["emitDate"] = iso_ms(met["emitDate"])
            if not s["metrics"]:
                del s["metrics"]
            for stat in s.get("mediaEndpointStats", ()):
                stat["eventTime"] = iso_ms(stat["eventTime"])
            if "callbackScheduledTime" in s:
                s["callbackScheduledTime"] = iso_ms(s["callbackScheduledTime"])
    return conv


def _cut_participant(p: Json, now: int) -> bool:
    """Drop what happens after `now`; returns False when nothing of the participant is left."""
    kept = []
    for s in p["sessions"]:
        segs = [seg for seg in s["segments"] if seg["segmentStart"] < now]
        if not segs:
            continue
        last = segs[-1]
        if last["segmentEnd"] > now:
            for key in END_ONLY_KEYS:
                last.pop(key, None)
            if "flow" in s:
                for key in (
                    "exitReason",
                    "transferTargetAddress",
                    "transferTargetName",
                    "transferType",
                ):
                    s["flow"].pop(key, None)
        s["segments"] = segs
        s["metrics"] = [m for m in s["metrics"] if m["emitDate"] <= now]
        stats = [st for st in s.get("mediaEndpointStats", ()) if st["eventTime"] <= now]
        if stats:
            s["mediaEndpointStats"] = stats
        else:
            s.pop("mediaEndpointStats", None)
        kept.append(s)
    p["sessions"] = kept
    return bool(kept)


# -- PII inventory --------------------------------------------------------------------------------
_PHONE_KEYS = ("ani", "dnis", "sessionDnis", "addressFrom", "addressTo")
_TEXT_KEYS = (
    "remote",
    "remoteNameDisplayable",
    "callbackUserName",
    "addressFrom",
    "addressTo",
    "addressSelf",
    "addressOther",
)
_LIST_KEYS = ("callbackNumbers", "cc", "bcc", "destinationAddresses")
_PERSON_PURPOSES = {"customer", "external", "agent"}
_PII_ATTRIBUTES = ("accountNumber", "customerName", "customerEmail")


def _add_value(out: set[str], value: str) -> None:
    if value.startswith("tel:+"):
        if in_org_pool(value[5:]):
            return  # the org's own number: not PII, kept in clear
        out.update(fake_pii.phone_forms(value[5:]))
    elif value.startswith("sip:") and "%40" in value:  # agent email inside a SIP URI
        out.add(value)
        out.add(value[4:].split("@", 1)[0])  # the escaped email, as it appears
    else:
        out.add(value)


def pii_values(conv: Json) -> set[str]:
    """Clear PII strings in a generated conversation: names, emails, numbers (every form that
    appears), account numbers, free-text notes and subjects, SIP Call-IDs."""
    out: set[str] = set()
    for p in conv.get("participants", ()):
        if p.get("purpose") in _PERSON_PURPOSES and p.get("participantName"):
            _add_value(out, p["participantName"])
        for key in _PII_ATTRIBUTES:
            if key in p.get("attributes", {}):
                out.add(p["attributes"][key])
        for s in p.get("sessions", ()):
            _session_pii(s, out)
    return {v for v in out if v}


def _session_pii(s: Json, out: set[str]) -> None:
    for key in (*_PHONE_KEYS, *_TEXT_KEYS):
        value = s.get(key)
        if isinstance(value, str) and (key != "sessionDnis" or value.startswith("tel:")):
            _add_value(out, value)
    for key in _LIST_KEYS:
        for value in s.get(key, ()):
            _add_value(out, value)
    if "protocolCallId" in s:
        out.add(s["protocolCallId"])
    flow = s.get("flow", {})
    if "entryReason" in flow:
        _add_value(out, flow["entryReason"])
    for seg in s.get("segments", ()):
        for key in ("wrapUpNote", "subject"):
            if key in seg:
                out.add(seg[key])
                out.update(_embedded(seg[key]))


def _embedded(text: str) -> set[str]:
    """Emails and numbers inside free text (notes, subjects)."""
    found: set[str] = set()
    for word in text.replace(";", " ").split():
        if "@" in word:
            found.add(word)
    if "(" in text and ") " in text:  # (212) 555-0123
        start = text.index("(")
        found.add(text[start : start + 14])
    for word in text.split():
        if word.startswith("AC-"):
            found.add(word)
        if word.startswith("+") and word[1:].isdigit():
            found.add(word)
    return found
