"""The query table shared by the query-layer tests: SQL, the route it must take and the
dimensions it must push down, over the simulator's default week (2024-05-01 .. 2024-05-08).

Every query is answered by the tests both online (fresh warehouse, the planned API calls) and on a
fully loaded warehouse, and the answers must be equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    name: str
    sql: str
    route: str  # "detail" | "aggregates"
    conversation_dims: frozenset[str] = field(default_factory=frozenset)
    segment_dims: frozenset[str] = field(default_factory=frozenset)
    spans: int = 1


def _dims(*names: str) -> frozenset[str]:
    return frozenset(names)


R = "conversation_start >= timestamp '2024-05-01' and conversation_start < timestamp '2024-05-04'"
R2 = "conversation_start >= timestamp '2024-05-02' and conversation_start < timestamp '2024-05-03'"

CASES: list[Case] = [
    # -------------------------------------------------------------- pushable filters first
    Case(
        "voice sessions by direction (segment filter)",
        f"select direction, count(*) as n from genesys.sessions where {R} "
        "and media_type = 'voice' group by direction order by direction",
        "detail",
        segment_dims=_dims("mediaType"),
    ),
    Case(
        "inbound conversations (conversation filter)",
        f"select count(*) as n, sum(conversation_duration_ms) as ms from genesys.conversations "
        f"where {R} and originating_direction = 'inbound'",
        "detail",
        conversation_dims=_dims("originatingDirection"),
    ),
    Case(
        "agent participants: IN list of purposes",
        f"select purpose, count(*) as n from genesys.participants where {R2} "
        "and purpose in ('agent', 'acd') group by purpose order by purpose",
        "detail",
        segment_dims=_dims("purpose"),
    ),
    Case(
        "join sessions and segments on conversation_id, queue pushed",
        "select s.media_type, count(*) as n from genesys.sessions s "
        "join genesys.segments g on g.conversation_id = s.conversation_id "
        "and g.session_id = s.session_id "
        f"where s.{R.replace('conversation_start <', 's.conversation_start <')} "
        "and g.queue_id is not null and g.segment_type = 'interact' "
        "group by s.media_type order by 1",
        "detail",
        segment_dims=_dims("queueId", "segmentType"),
    ),
    Case(
        "OR of equalities on one column",
        f"select segment_type, count(*) as n from genesys.segments where {R2} "
        "and (segment_type = 'wrapup' or segment_type = 'hold') group by 1 order by 1",
        "detail",
        segment_dims=_dims("segmentType"),
    ),
    # -------------------------------------------------------------- unfiltered detail
    Case(
        "plain range",
        f"select count(*) as n from genesys.conversations where {R}",
        "detail",
    ),
    Case(
        "BETWEEN (inclusive upper bound)",
        "select count(*) as n from genesys.conversations where conversation_start between "
        "timestamp '2024-05-01 06:00:00' and timestamp '2024-05-02 18:00:00'",
        "detail",
    ),
    Case(
        "OR of two ranges",
        "select count(*) as n from genesys.conversations where "
        "(conversation_start >= '2024-05-01' and conversation_start < '2024-05-02') or "
        "(conversation_start >= '2024-05-03' and conversation_start < '2024-05-04')",
        "detail",
        spans=2,
    ),
    Case(
        "IN list of days (cast to date)",
        "select cast(conversation_start as date) as day, count(*) as n "
        "from genesys.conversations where cast(conversation_start as date) in "
        "(date '2024-05-01', date '2024-05-03') group by 1 order by 1",
        "detail",
        spans=2,
    ),
    Case(
        "date functions on literals",
        "select count(*) as n from genesys.conversations where conversation_start >= "
        "date '2024-05-01' and conversation_start < date '2024-05-01' + interval 2 day",
        "detail",
    ),
    Case(
        "non-pushable predicate (duration) stays local",
        f"select count(*) as n from genesys.conversations where {R} "
        "and conversation_duration_ms > 60000",
        "detail",
    ),
    Case(
        "LIKE is not pushable",
        f"select count(*) as n from genesys.sessions where {R} and media_type like 'vo%'",
        "detail",
    ),
    Case(
        "OR across columns is not pushable",
        f"select count(*) as n from genesys.sessions where {R} "
        "and (media_type = 'voice' or direction = 'outbound')",
        "detail",
    ),
    Case(
        "join participants to conversations",
        "select p.purpose, count(distinct c.conversation_id) as n "
        "from genesys.conversations c join genesys.participants p "
        "on p.conversation_id = c.conversation_id "
        f"where c.{R.replace('and conversation_start', 'and c.conversation_start')} "
        "group by 1 order by 1",
        "detail",
    ),
    Case(
        "participants x sessions, the range on one side only",
        "select p.purpose, s.media_type, count(*) as n from genesys.participants p "
        "join genesys.sessions s on s.conversation_id = p.conversation_id "
        "and s.participant_id = p.participant_id "
        f"where p.{R.replace('and conversation_start', 'and p.conversation_start')} "
        "group by 1, 2 order by 1, 2",
        "detail",
    ),
    Case(
        "a filter inside a CTE is pushed (the only scope)",
        f"with q as (select * from genesys.segments where {R} and segment_type = 'interact') "
        "select count(*) as n from q",
        "detail",
        segment_dims=_dims("segmentType"),
    ),
    Case(
        "subquery in WHERE: two scopes, nothing pushed",
        f"select count(*) as n from genesys.conversations where {R} and conversation_id in "
        f"(select conversation_id from genesys.sessions where {R} and media_type = 'voice')",
        "detail",
    ),
    Case(
        "metrics of sessions with a non-pushable LIKE",
        "select m.metric_name, sum(m.metric_value) as total from genesys.session_metrics m "
        "join genesys.sessions s on s.session_id = m.session_id "
        f"where m.{R.replace('and conversation_start', 'and m.conversation_start')} "
        "and s.media_type like 'v%' and m.metric_name = 'tTalk' group by 1",
        "detail",
    ),
    Case(
        "group by a pushable column with HAVING",
        f"select media_type, count(*) as n from genesys.sessions where {R} "
        "group by media_type having count(*) > 1 order by 1",
        "detail",
    ),
    Case(
        "avg is not an aggregates roll-up",
        f"select metric_name, avg(metric_value) as mean from genesys.session_metrics "
        f"where {R} and metric_name = 'tHandle' group by 1",
        "detail",
    ),
    Case(
        "unaligned range with a day bucket",
        "select date_trunc('day', conversation_start) as day, sum(metric_value) as t "
        "from genesys.session_metrics where conversation_start >= '2024-05-01 12:00:00' "
        "and conversation_start < '2024-05-03' and metric_name = 'tTalk' group by 1 order by 1",
        "detail",
    ),
    Case(
        "queue grouping: attribution differs, detail jobs",
        "select g.queue_id, count(*) as n from genesys.segments g "
        f"where g.{R.replace('and conversation_start', 'and g.conversation_start')} "
        "and g.queue_id is not null group by 1 order by 1",
        "detail",
        segment_dims=_dims("queueId"),
    ),
    # -------------------------------------------------------------- aggregates route
    Case(
        "total handle time",
        f"select sum(metric_value) as t_handle from genesys.session_metrics "
        f"where {R} and metric_name = 'tHandle'",
        "aggregates",
    ),
    Case(
        "talk and handle per day",
        "select metric_name, date_trunc('day', conversation_start) as day, "
        "sum(metric_value) as total, count(*) as n, min(metric_value) as lo, "
        "max(metric_value) as hi from genesys.session_metrics "
        f"where {R} and metric_name in ('tTalk', 'tHandle') group by 1, 2 order by 1, 2",
        "aggregates",
    ),
    Case(
        "offered count by media type",
        "select s.media_type, sum(m.metric_value) as offered from genesys.session_metrics m "
        "join genesys.sessions s on s.session_id = m.session_id "
        f"where m.{R.replace('and conversation_start', 'and m.conversation_start')} "
        "and m.metric_name = 'nOffered' group by 1 order by 1",
        "aggregates",
    ),
    Case(
        "voice inbound talk time per hour, two ranges",
        "select date_trunc('hour', m.conversation_start) as hour, sum(m.metric_value) as talk "
        "from genesys.session_metrics m join genesys.sessions s using (session_id) "
        "where ((m.conversation_start >= '2024-05-01' and m.conversation_start < '2024-05-02') "
        "or (m.conversation_start >= '2024-05-03' and m.conversation_start < '2024-05-04')) "
        "and s.media_type = 'voice' and s.direction = 'inbound' and m.metric_name = 'tTalk' "
        "group by 1 order by 1",
        "aggregates",
        spans=2,
    ),
    Case(
        "per day by direction with HAVING",
        "select cast(m.conversation_start as date) as day, s.direction, "
        "count(m.metric_value) as n from genesys.session_metrics m "
        "join genesys.sessions s on m.session_id = s.session_id "
        f"where m.{R.replace('and conversation_start', 'and m.conversation_start')} "
        "and m.metric_name = 'tAcw' group by 1, 2 having count(m.metric_value) > 0 order by 1, 2",
        "aggregates",
    ),
]
