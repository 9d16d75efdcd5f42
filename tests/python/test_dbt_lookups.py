"""Lookup seeds: a real build reads the org's own lookups and fails, saying which files to provide,
while they are empty; the demo var switches every `lookup()` to the demo's invented ones.

The org files ship header-only, so the repository itself is the "org without lookups". The cases
that need filled org files (or a model reading a lookup) run on a copy of the project.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

import raw_loader
from conftest import make_settings
from genesys_finance.dbt_runner import DbtResult, run_dbt
from genesys_finance.settings import PROJECT_ROOT, Settings

REAL = {"GENESYS_FINANCE_DEMO_LOOKUPS": "false"}
DEMO = {"GENESYS_FINANCE_DEMO_LOOKUPS": "true"}
# A real build fails on these while they are empty (`meta.lookup_required` in seeds/_seeds.yml).
REQUIRED = ("rate_cards", "client_contracts", "billing_periods")
PROBE = "select count(*) as row_count from {{ lookup('rate_cards') }}\n"


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh))


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))[1:]


def _tables(settings: Settings) -> set[str]:
    rows = raw_loader.fetch(settings, "select table_name from information_schema.tables")
    return {str(r[0]) for r in rows}


def test_real_build_without_org_lookups_fails_naming_the_files(
    warehouse: Settings, tmp_path: Path
) -> None:
    raw_loader.create_raw_tables(warehouse)
    result = run_dbt(
        warehouse, ["build"], target_path=tmp_path / "target", check=False, extra_env=REAL
    )
    assert not result.ok
    for name in REQUIRED:
        path = PROJECT_ROOT / "seeds" / f"{name}.csv"
        assert _rows(path) == [], f"{path} ships header-only"
        assert f"Lookup seed `{name}` is empty" in result.output
        assert f"seeds/{name}.csv with the header line" in result.output
        assert ",".join(_header(path)) in result.output
    assert "genesys_finance_use_demo_lookups: true" in result.output
    # the demo's invented lookups never reach a real warehouse
    assert not {t for t in _tables(warehouse) if t.startswith("demo_")}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the dbt project with one more model, reading a lookup."""
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("dbt_project.yml", "profiles", "macros", "models", "seeds"):
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name)
        else:
            shutil.copy(source, copy / name)
    (copy / "models" / "probe_rate_cards.sql").write_text(PROBE)
    return copy


def _build_probe(settings: Settings, project: Path, env: dict[str, str]) -> DbtResult:
    return run_dbt(
        settings,
        ["build", "--select", "resource_type:seed", "probe_rate_cards"],
        target_path=project / "target",
        project_dir=project,
        check=False,
        extra_env=env,
    )


def _probe_count(settings: Settings) -> int:
    schema = [
        r[0]
        for r in raw_loader.fetch(
            settings,
            "select table_schema from information_schema.tables "
            "where table_name = 'probe_rate_cards'",
        )
    ]
    assert len(schema) == 1, schema
    return int(
        raw_loader.fetch(settings, f"select row_count from {schema[0]}.probe_rate_cards")[0][0]
    )


def test_demo_var_makes_it_pass_on_the_demo_lookups(project: Path, tmp_path: Path) -> None:
    settings = make_settings("duckdb", tmp_path)
    assert not _build_probe(settings, project, REAL).ok
    result = _build_probe(settings, project, DEMO)
    assert result.ok, result.output[-3000:]
    demo_rows = _rows(project / "seeds" / "demo" / "demo_rate_cards.csv")
    assert len(demo_rows) > 3
    assert _probe_count(settings) == len(demo_rows)


def test_real_build_reads_the_org_lookups_once_provided(project: Path, tmp_path: Path) -> None:
    # one plausible row per required org file, by column name (empty = NULL)
    values = {
        "carrier": "genesys_cloud_voice", "direction": "inbound", "client": "acme",
        "effective_from": "2024-01-01", "rate_per_minute": "0.01", "price_per_minute": "0.02",
        "currency": "USD", "min_seconds": "6", "increment_seconds": "6", "connection_fee": "0",
        "queue_id": "q1", "timezone": "UTC", "day_start_local": "07:00:00",
    }  # fmt: skip
    for name in REQUIRED:
        path = project / "seeds" / f"{name}.csv"
        with path.open("a", newline="", encoding="utf-8") as fh:
            csv.writer(fh, lineterminator="\n").writerow([values.get(c, "") for c in _header(path)])
    settings = make_settings("duckdb", tmp_path)
    result = _build_probe(settings, project, REAL)
    assert result.ok, result.output[-3000:]
    assert _probe_count(settings) == 1  # the org's one row, not the demo's card


def test_org_lookup_without_a_documented_column_is_named(project: Path, tmp_path: Path) -> None:
    path = project / "seeds" / "time_bands.csv"
    header = _header(path)
    path.write_text(",".join(c for c in header if c != "timezone") + "\n")
    settings = make_settings("duckdb", tmp_path)
    result = _build_probe(settings, project, REAL)
    assert not result.ok
    assert "Lookup seed `time_bands` has no column timezone" in result.output


def test_run_without_loaded_lookups_stops_before_any_model(project: Path, tmp_path: Path) -> None:
    """`dbt run` loads no seed: on-run-start checks the lookups the selected models read."""
    settings = make_settings("duckdb", tmp_path)
    result = run_dbt(
        settings,
        ["run", "--select", "probe_rate_cards"],
        target_path=project / "target",
        project_dir=project,
        check=False,
        extra_env=REAL,
    )
    assert not result.ok
    assert "Lookup seed `rate_cards` is not loaded" in result.output
    assert "probe_rate_cards" not in _tables(settings)
