"""The finance marts through the query layer, on both targets: read as `build` left them (never
fetched, never rebuilt by a query), alone and joined with a virtual table, with answers equal to
the same SQL written by hand on the warehouse; an unbuilt mart, a stale mart and a range never
extracted are each said."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from genesys_finance import cli
from genesys_finance import warehouse as wh
from genesys_finance.query.engine import QueryError, QueryOptions, QueryResult, run_query
from genesys_finance.settings import Settings
from genesys_sim.carrier import write_cdr_files
from sim_fixtures import StartSimulator, accepted_jobs, request_log
from test_extract_support import cli_env
from test_query_answers import rows

START, BUILT_END, END = date(2024, 5, 1), date(2024, 5, 3), date(2024, 5, 5)

LEG_COSTS = (
    "select carrier, rating_status, count(*) as legs, sum(expected_cost) as cost, "
    "sum(billed_amount) as billed from finance.fct_voice_leg_costs group by 1, 2 order by 1, 2"
)
RECONCILIATION = (
    "select record_type, discrepancy_type, count(*) as n, sum(variance_amount) as variance "
    "from finance.fct_billing_reconciliation group by 1, 2 order by 1, 2"
)
JOINED = (
    "select s.media_type, f.rating_status, count(*) as legs, sum(f.expected_cost) as cost "
    "from finance.fct_voice_leg_costs f join genesys.sessions s "
    "on s.conversation_id = f.conversation_id and s.participant_id = f.participant_id "
    "where s.conversation_start >= '{start}' and s.conversation_start < '{end}' "
    "group by 1, 2 order by 1, 2"
)
# The same answer written by hand on the warehouse's own tables.
JOINED_BY_HAND = (
    "select s.media_type, f.rating_status, count(*) as legs, sum(f.expected_cost) as cost "
    "from finance.fct_voice_leg_costs f join staging.stg_genesys__sessions s "
    "on s.conversation_id = f.conversation_id and s.participant_id = f.participant_id "
    "join staging.stg_genesys__conversations c on c.conversation_id = s.conversation_id "
    "where c.conversation_start >= '{start}' and c.conversation_start < '{end}' "
    "group by 1, 2 order by 1, 2"
)
NOT_IN_MARTS = (
    "select count(*) from genesys_raw.conversations r where not exists (select 1 from "
    "finance.fct_conversation_costs m where m.conversation_id = r.conversation_id)"
)


def _query(settings: Settings, sql: str, tmp_path: Path) -> QueryResult:
    return run_query(
        settings, sql, QueryOptions(poll_initial_s=0.1, dbt_target_path=str(tmp_path / "dbt"))
    )


def _by_hand(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    import pyarrow as pa

    found = wh.query(settings, sql)
    columns = list(zip(*found, strict=True)) if found else []
    names = [f"c{i}" for i in range(len(columns))]
    return rows(pa.Table.from_arrays([pa.array(list(c)) for c in columns], names=names))


def _notes(result: QueryResult, word: str) -> list[str]:
    return [n for n in result.notes if word in n]


def test_marts_alone_and_joined_read_as_built(
    simulator: StartSimulator,
    warehouse: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = simulator(start=START, end=END, conversations_per_day=12)
    settings = replace(warehouse, api_url=sim.base_url, login_url=sim.base_url)
    for name, value in cli_env(settings).items():
        monkeypatch.setenv(name, value)

    # Before any build: a clear error naming the command that builds the marts, no API call.
    with pytest.raises(QueryError, match=r"not built.*genesys-finance build"):
        _query(settings, LEG_COSTS, tmp_path)
    assert request_log(sim) == []

    files = write_cdr_files(sim.generator, START, END, tmp_path / "cdrs", seed=3)
    status = cli.main(
        [
            "run",
            "--start", START.isoformat(),
            "--end", BUILT_END.isoformat(),
            "--quiet",
            "--poll-interval", "0.1",
            "--cdrs", *map(str, files.cdr_paths),
            "--dbt-target-path", str(tmp_path / "dbt-run"),
        ]
    )  # fmt: skip
    assert status == 0
    calls, jobs = len(request_log(sim)), accepted_jobs(sim)

    # A mart alone: the warehouse's answer, no API call, said to be read as built.
    for sql in (LEG_COSTS, RECONCILIATION):
        result = _query(settings, sql, tmp_path)
        assert rows(result.table) == _by_hand(settings, sql) and result.table.num_rows > 0
        assert _notes(result, "last built") and not _notes(result, "stale")
    assert len(request_log(sim)) == calls

    # Joined with a virtual table over the loaded range: no job, the hand-written answer.
    loaded = {"start": START.isoformat(), "end": BUILT_END.isoformat()}
    result = _query(settings, JOINED.format(**loaded), tmp_path)
    assert result.jobs_submitted == 0 and accepted_jobs(sim) == jobs
    expected = _by_hand(settings, JOINED_BY_HAND.format(**loaded))
    assert rows(result.table) == expected and expected

    # A range never extracted, asked of a mart alone: nothing fetched, and said.
    june = (
        "select count(*) as n from finance.fct_conversation_costs "
        "where conversation_start >= '2024-06-01' and conversation_start < '2024-06-03'"
    )
    result = _query(settings, june, tmp_path)
    assert result.table.to_pylist() == [{"n": 0}] and accepted_jobs(sim) == jobs
    (never,) = _notes(result, "never extracted")
    assert "2024-06-01/2024-06-03" in never

    # The range grows past the build: the virtual table's part is fetched (one job) and
    # flattened, the marts are not rebuilt: the answer is the warehouse's as it stands, and
    # the marts are said to be stale, with the number of conversations they lack.
    wider = {"start": START.isoformat(), "end": END.isoformat()}
    stale = _query(settings, JOINED.format(**wider), tmp_path)
    assert stale.jobs_submitted == 1
    assert rows(stale.table) == _by_hand(settings, JOINED_BY_HAND.format(**wider))
    assert rows(stale.table) == expected  # the new days are not in the marts yet
    (missing,) = wh.query(settings, NOT_IN_MARTS)
    assert missing[0] > 0
    (note,) = _notes(stale, "stale")
    assert f"{missing[0]} conversation(s)" in note and "genesys-finance build" in note
    assert not _notes(stale, "never extracted")  # this query extracted the range

    # After `build`, the same query: no job, no stale note, and the new days are in.
    assert cli.main(["build", "--target-path", str(tmp_path / "dbt-build")]) == 0
    fresh = _query(settings, JOINED.format(**wider), tmp_path)
    assert fresh.jobs_submitted == 0 and len(accepted_jobs(sim)) == len(jobs) + 1
    assert not _notes(fresh, "stale")
    assert rows(fresh.table) == _by_hand(settings, JOINED_BY_HAND.format(**wider))
    assert sum(r[2] for r in rows(fresh.table)) > sum(r[2] for r in expected)
