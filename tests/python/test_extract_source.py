"""The extraction as a dlt source: into dlt's filesystem destination as parquet, against the
simulator, with the same rows as the CLI's path into a warehouse."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import dlt
import pyarrow.dataset as ds

from genesys_finance import warehouse as wh
from genesys_finance.dimensions import DIMENSIONS
from genesys_finance.extraction import ExtractSummary
from genesys_finance.runner import ExtractOptions, run_extract
from genesys_finance.settings import Settings
from genesys_finance.source import genesys_cloud
from sim_fixtures import StartSimulator

FAST = ExtractOptions(poll_initial_s=0.1, requests_per_minute=3000, quiet=True, chunk_days=3)
START, END = date(2024, 5, 1), date(2024, 5, 8)


def test_source_into_parquet_files_matches_a_warehouse_run(
    simulator: StartSimulator, warehouse: Settings, tmp_path: Path
) -> None:
    sim = simulator(conversations_per_day=30)
    settings = Settings(
        **{**warehouse.__dict__, "api_url": sim.base_url, "login_url": sim.base_url}
    )
    run_extract(settings, START, END, FAST)

    lake = tmp_path / "lake"
    pipeline = dlt.pipeline(
        pipeline_name="test_genesys_cloud_source",
        destination=dlt.destinations.filesystem(bucket_url=lake.as_uri()),
        dataset_name="genesys_raw",
        pipelines_dir=str(tmp_path / "dlt"),
    )
    summaries: list[ExtractSummary] = []
    pipeline.run(
        genesys_cloud(settings, START, END, FAST, summaries=summaries),
        loader_file_format="parquet",
    )
    assert len(summaries) == 1 and summaries[0].jobs_submitted == 3  # 7 days in 3-day chunks

    def files(table: str) -> ds.Dataset:
        return ds.dataset(str(lake / "genesys_raw" / table), format="parquet")

    conversations = files("conversations").to_table(columns=["conversation_id", "payload"])
    in_warehouse = wh.query(settings, "select conversation_id from genesys_raw.conversations")
    assert sorted(conversations.column("conversation_id").to_pylist()) == sorted(
        r[0] for r in in_warehouse
    )
    assert len(in_warehouse) > 100
    for dimension in DIMENSIONS:
        counted = wh.query(settings, f"select count(*) from genesys_raw.{dimension.table}")
        assert files(dimension.table).count_rows() == counted[0][0] > 0, dimension.table
    # The same masking: no customer number in clear in the files either.
    customer = next(
        s["ani"]
        for conv in sim.generator.iter_conversations(
            datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 8, tzinfo=UTC)
        )
        for p in conv["participants"]
        if p.get("purpose") == "customer"
        for s in p.get("sessions", ())
        if s.get("direction") == "inbound" and s.get("mediaType") == "voice"
    )
    assert not any(customer in str(text) for text in conversations.column("payload").to_pylist())
