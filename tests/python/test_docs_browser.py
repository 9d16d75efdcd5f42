"""What a person sees, checked in a real browser (Debian's Chromium, headless, via playwright):
the dbt docs page (`make docs`) and the finance report the demo writes.

One module fixture runs `genesys-finance demo` (small: two months) into a temporary folder, then
`genesys-finance build --docs` on its warehouse. Screenshots land in target/test-artifacts/.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from conftest import HMAC_TEST_KEY
from genesys_finance import cli
from report_pages import artifacts_dir, browser_page, data_elements, figures

# The lineage a reviewer follows: the leg costs mart back to the raw tables it is built from.
LINEAGE_MODEL = "fct_voice_leg_costs"
RAW_SOURCES = {
    "source.genesys_finance.genesys.conversations",
    "source.genesys_finance.carrier.cdrs",
}
MARTS_PATH = "marts/finance/"
CHARTS = {
    "monthly_cost_vs_billed",
    "discrepancies_by_month",
    "cost_per_minute_by_queue",
    "margin_by_client",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("demo")
    duckdb_path = work / "demo.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENESYS_FINANCE_HMAC_KEY", HMAC_TEST_KEY)
        mp.setenv("GENESYS_FINANCE_DUCKDB", str(duckdb_path))
        mp.setenv("GENESYS_FINANCE_TARGET", "duckdb")
        mp.setenv("GENESYS_FINANCE_DEMO_LOOKUPS", "true")
        status = cli.main(
            ["demo", "--months", "2", "--conversations-per-day", "15", "--duckdb", str(duckdb_path)]
        )
        assert status == 0, "genesys-finance demo failed"
        status = cli.main(["build", "--docs", "--target-path", str(work / "target")])
        assert status == 0, "genesys-finance build --docs failed"
    yield {
        "report": work / "finance-report.html",
        "docs": work / "target" / "static_index.html",
    }


def embedded_manifest(page_html: str) -> dict[str, Any]:
    """The manifest the static docs page carries inline (`manifest:{...}`), as JSON."""
    start = page_html.index("manifest:{") + len("manifest:")
    manifest, _ = json.JSONDecoder().raw_decode(page_html, start)
    return dict(manifest)


def embedded_catalog(page_html: str) -> dict[str, Any]:
    start = page_html.index("catalog:{") + len("catalog:")
    catalog, _ = json.JSONDecoder().raw_decode(page_html, start)
    return dict(catalog)


def ancestors(parent_map: dict[str, list[str]], node: str) -> set[str]:
    seen: set[str] = set()
    todo = [node]
    while todo:
        for parent in parent_map.get(todo.pop(), []):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def test_docs_lineage_reaches_the_raw_sources(demo: dict[str, Any]) -> None:
    html = demo["docs"].read_text(encoding="utf-8")
    manifest = embedded_manifest(html)
    node_id = f"model.genesys_finance.{LINEAGE_MODEL}"
    upstream = ancestors(manifest["parent_map"], node_id)
    assert upstream >= RAW_SOURCES, f"{LINEAGE_MODEL} does not reach {RAW_SOURCES - upstream}"

    selector = quote(f"+{LINEAGE_MODEL}")
    url = f"{demo['docs'].as_uri()}#!/model/{node_id}?g_v=1&g_i={selector}"
    with browser_page() as page:
        page.goto(url)
        page.wait_for_selector(f"text={LINEAGE_MODEL}", timeout=30_000)
        # The full-screen lineage view: the app's graph holds the selected nodes once laid out.
        page.wait_for_function(
            "() => { const g = angular.element(document.body).injector().get('graph');"
            " return g.graph.elements && g.graph.elements.some(e => e.group === 'nodes'"
            f" && e.data.unique_id === '{node_id}'); }}",
            timeout=30_000,
        )
        shown = set(
            page.evaluate(
                "angular.element(document.body).injector().get('graph').graph.elements"
                ".filter(e => e.group === 'nodes').map(e => e.data.unique_id)"
            )
        )
        canvases = page.evaluate(
            "Array.from(document.querySelectorAll('canvas'))"
            ".filter(c => c.width > 0 && c.height > 0).length"
        )
        page.wait_for_timeout(1_000)  # let the graph finish its layout animation
        page.screenshot(path=str(artifacts_dir() / "docs-lineage.png"))
        # (the docs app logs console errors for its own unbound icon templates: not checked)
        assert not page.errors, page.errors
        assert not [u for u in page.requests if not u.startswith(("file:", "data:"))]
    graph_upstream = {n for n in upstream if not n.startswith("test.")}
    assert shown == graph_upstream | {node_id}, "the lineage view shows other nodes than the DAG"
    assert shown >= RAW_SOURCES
    assert canvases > 0, "the lineage graph drew no canvas"


def test_every_mart_column_has_a_description(demo: dict[str, Any]) -> None:
    html = demo["docs"].read_text(encoding="utf-8")
    manifest = embedded_manifest(html)
    catalog = embedded_catalog(html)
    marts = {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["path"].startswith(MARTS_PATH)
    }
    assert marts, f"no models under models/{MARTS_PATH} in the docs"
    undocumented = []
    for uid, node in marts.items():
        built = catalog["nodes"].get(uid, {}).get("columns", {})
        assert built, f"{node['name']} is not in the docs' catalog (was it built?)"
        for column in built:
            documented = node["columns"].get(column.lower()) or node["columns"].get(column)
            if not documented or not documented.get("description", "").strip():
                undocumented.append(f"{node['name']}.{column}")
    assert not undocumented

    first = sorted(marts)[0]
    with browser_page() as page:
        page.goto(f"{demo['docs'].as_uri()}#!/model/{first}")
        page.wait_for_selector(f"text={marts[first]['name']}", timeout=30_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifacts_dir() / "docs-mart.png"), full_page=True)
        assert not page.errors, page.errors


def test_report_renders_every_chart(demo: dict[str, Any]) -> None:
    html = demo["report"].read_text(encoding="utf-8")
    shown = {a["data-chart"] for _, a in data_elements(html) if "data-chart" in a}
    assert shown == CHARTS
    assert figures(html)["true_cost"] > 0
    with browser_page(width=1200) as page:
        page.goto(demo["report"].as_uri())
        page.wait_for_selector("#charts")
        charts = page.evaluate(
            """() => Array.from(document.querySelectorAll('figure.chart')).map(f => {
                 const svg = f.querySelector('svg');
                 const box = svg ? svg.getBoundingClientRect() : null;
                 return {
                   name: f.dataset.chart,
                   width: box ? box.width : 0,
                   height: box ? box.height : 0,
                   marks: svg ? svg.querySelectorAll('path, rect, line, circle').length : 0,
                   text: f.innerText,
                 };
               })"""
        )
        page.screenshot(path=str(artifacts_dir() / "report.png"), full_page=True)
        assert not page.errors and not page.console_errors, page.errors + page.console_errors
        assert not [u for u in page.requests if not u.startswith(("file:", "data:"))]
    assert {c["name"] for c in charts} == CHARTS
    for chart in charts:
        assert chart["width"] > 50 and chart["height"] > 50, chart["name"]
        assert chart["marks"] > 5, f"{chart['name']} drew nothing"
        assert not re.search(r"\b(error|no rows|nan|undefined|infinity)\b", chart["text"], re.I), (
            chart
        )
