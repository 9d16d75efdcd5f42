"""Plans of the query table: route, pushed-down dimensions, and every generated request body
checked against the API reference (shared/reference/genesys-analytics-api.md §3.1, §5, §7.8)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from conftest import make_settings
from genesys_finance.query.engine import QueryPlan, explain, plan_query
from query_cases import CASES, Case

# Restated from the reference, not from the product.
JOB_FIELDS = {
    "interval",
    "conversationFilters",
    "segmentFilters",
    "evaluationFilters",
    "surveyFilters",
    "resolutionFilters",
    "order",
    "orderBy",
    "limit",
    "startOfDayIntervalMatching",
}
AGGREGATE_FIELDS = {
    "interval",
    "granularity",
    "timeZone",
    "groupBy",
    "filter",
    "metrics",
    "flattenMultivaluedDimensions",
    "views",
    "alternateTimeDimension",
    "queryType",
    "sortMetric",
    "limit",
}
CONVERSATION_DIMENSIONS = set(
    [
        "accessAttribute",
        "conversationEnd",
        "conversationId",
        "conversationInitiator",
        "conversationStart",
        "customerParticipation",
        "divisionId",
        "externalTag",
        "mediaStatsMinConversationMos",
        "originatingDirection",
        "originatingSocialMediaPublic",
    ]
)
SEGMENT_DIMENSIONS = set(
    [
        "addressFrom",
        "addressTo",
        "agentAssistantId",
        "agentOwned",
        "ani",
        "authenticated",
        "bargedParticipantId",
        "callbackNumber",
        "callbackScheduledTime",
        "canonicalExternalContactId",
        "cleared",
        "coachedParticipantId",
        "conference",
        "deliveryPushed",
        "deliveryStatus",
        "destinationAddress",
        "destinationConversationId",
        "detectedSpeechEnd",
        "detectedSpeechStart",
        "direction",
        "disconnectType",
        "dnis",
        "edgeId",
        "engagementSource",
        "errorCode",
        "exitReason",
        "extendedDeliveryStatus",
        "externalContactId",
        "externalOrganizationId",
        "flaggedReason",
        "flowId",
        "flowName",
        "flowOutType",
        "flowOutcome",
        "flowOutcomeId",
        "flowOutcomeValue",
        "flowVersion",
        "groupId",
        "journeyActionId",
        "journeyActionMapId",
        "journeyCustomerId",
        "journeyCustomerIdType",
        "journeyCustomerSessionId",
        "mediaCount",
        "mediaType",
        "messageType",
        "monitoredParticipantId",
        "outboundCampaignId",
        "outboundContactId",
        "outboundContactListId",
        "participantName",
        "protocolCallId",
        "provider",
        "purpose",
        "queueId",
        "recording",
        "remote",
        "remoteNameDisplayable",
        "requestedLanguageId",
        "requestedRouting",
        "requestedRoutingSkillId",
        "scoredAgentId",
        "screenMonitoredUserId",
        "screenRecording",
        "scriptId",
        "segmentEnd",
        "segmentType",
        "sessionDnis",
        "sipResponseCode",
        "skillExpressionId",
        "snippetRecording",
        "subject",
        "teamId",
        "transferTargetAddress",
        "transferTargetName",
        "transferType",
        "usedRouting",
        "userId",
        "wrapUpCode",
        "wrapUpNote",
    ]
)
AGGREGATE_GROUP_BY = {"queueId", "mediaType", "userId", "wrapUpCode", "direction"}
INSTANT = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
INTERVAL = re.compile(f"^{INSTANT}/{INSTANT}$")


def _check_interval(value: Any) -> None:
    assert isinstance(value, str) and INTERVAL.match(value), value
    start, end = value.split("/")
    assert start < end


def _check_filter(spec: dict[str, Any], dimensions: set[str]) -> None:
    assert set(spec) <= {"type", "clauses", "predicates"}
    assert spec["type"] in ("and", "or")
    for clause in spec.get("clauses") or ():
        _check_filter(clause, dimensions)
    for predicate in spec.get("predicates") or ():
        assert set(predicate) <= {
            "type",
            "dimension",
            "metric",
            "property",
            "propertyType",
            "operator",
            "value",
            "range",
        }
        assert predicate.get("type", "dimension") == "dimension"
        assert predicate["dimension"] in dimensions, predicate
        operator = predicate.get("operator", "matches")
        assert operator in ("matches", "exists", "notExists")
        assert ("value" in predicate) == (operator == "matches")


def check_job_body(body: dict[str, Any]) -> None:
    assert set(body) <= JOB_FIELDS
    _check_interval(body["interval"])
    assert body.get("order", "asc") in ("asc", "desc", "unordered")
    for spec in body.get("conversationFilters") or ():
        _check_filter(spec, CONVERSATION_DIMENSIONS)
    for spec in body.get("segmentFilters") or ():
        _check_filter(spec, SEGMENT_DIMENSIONS)


def check_aggregate_body(body: dict[str, Any]) -> None:
    assert set(body) <= AGGREGATE_FIELDS
    _check_interval(body["interval"])
    assert body["metrics"] and all(re.fullmatch(r"[tno][A-Z]\w+", m) for m in body["metrics"])
    assert set(body.get("groupBy") or ()) <= AGGREGATE_GROUP_BY
    if "granularity" in body:
        assert re.fullmatch(r"P(T\d+[HMS]|\d+[DW])", body["granularity"])
    if "filter" in body:
        _check_filter(body["filter"], AGGREGATE_GROUP_BY)


def _dims(plan: QueryPlan, key: str) -> set[str]:
    specs = plan.pushdown.filters.body().get(key) or []
    return {p["dimension"] for spec in specs for p in spec["predicates"]}


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 25
    assert {c.route for c in CASES} == {"detail", "aggregates"}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_plan(case: Case, tmp_path: Path) -> None:
    settings = make_settings("duckdb", tmp_path)
    plan = plan_query(settings, case.sql)
    assert plan.route == case.route, plan.aggregate_reason
    assert len(plan.time_range.spans) == case.spans
    if plan.aggregate is not None:
        bodies = plan.aggregate.bodies()
        assert len(bodies) == case.spans
        for body in bodies:
            check_aggregate_body(body)
    else:
        assert _dims(plan, "conversationFilters") == case.conversation_dims
        assert _dims(plan, "segmentFilters") == case.segment_dims
        bodies = plan.detail_bodies()
        assert bodies, "an empty warehouse holds no chunk complete"
        for body in bodies:
            check_job_body(body)
        # Chunks cover every span, in whole UTC days.
        for start, end in plan.time_range.spans:
            assert any(c.start <= start and end <= c.end for c in plan.chunks)
    text = explain(settings, plan)
    assert "estimated API calls" in text
    for body in bodies:
        assert body["interval"] in text


def test_explain_names_pushed_and_local_predicates(tmp_path: Path) -> None:
    settings = make_settings("duckdb", tmp_path)
    sql = (
        "select count(*) from genesys.sessions where conversation_start >= '2024-05-01' "
        "and conversation_start < '2024-05-02' and media_type = 'voice' and edge_id like 'e%'"
    )
    text = explain(settings, plan_query(settings, sql))
    pushed = next(line for line in text.splitlines() if line.startswith("pushed down"))
    local = next(line for line in text.splitlines() if line.startswith("evaluated locally"))
    assert "media_type = 'voice'" in pushed and "edge_id" not in pushed
    assert "edge_id LIKE 'e%'" in local
    assert '"segmentFilters": [{"type": "and", "predicates": [{"type": "dimension", ' in text


def test_explain_of_a_mart_query_says_it_is_read_as_built(tmp_path: Path) -> None:
    settings = make_settings("duckdb", tmp_path)
    sql = (
        "select f.carrier, count(*) from finance.fct_voice_leg_costs f "
        "join genesys.sessions s on s.conversation_id = f.conversation_id "
        "where s.conversation_start >= '2024-05-01' and s.conversation_start < '2024-05-03' "
        "and s.media_type = 'voice' group by 1"
    )
    plan = plan_query(settings, sql)
    assert plan.parsed.marts == {"fct_voice_leg_costs"}
    assert not plan.pushdown.filters, "a SELECT reading a mart pushes nothing down"
    assert [c.label for c in plan.mart_missing] == ["2024-05-01/2024-05-03"]
    text = explain(settings, plan)
    assert "read as `genesys-finance build` last built them" in text
    assert "never extracted, so not in the marts: 2024-05-01/2024-05-03" in text


def test_every_pushable_column_is_a_filter_dimension_of_the_reference() -> None:
    from genesys_finance.query.catalog import PUSHABLE

    for column, pushable in PUSHABLE.items():
        allowed = (
            CONVERSATION_DIMENSIONS if pushable.filter == "conversation" else SEGMENT_DIMENSIONS
        )
        assert pushable.dimension in allowed, column
