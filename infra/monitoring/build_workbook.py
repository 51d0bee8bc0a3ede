"""Build workbook.json, the Azure Monitor workbook for on-call staff, from the queries/ files.

    python infra/monitoring/build_workbook.py           # (re)write workbook.json
    python infra/monitoring/build_workbook.py --check   # exit 1 if workbook.json is stale

Each query lives once, in its own file; this script places it in the workbook (a time range
parameter, then one section per concern) and workbook.bicep deploys the result with
loadTextContent. Standard library only, so it runs wherever Python does.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUERIES = HERE / "queries"
OUTPUT = HERE / "workbook.json"

# Replaced by workbook.bicep with the Application Insights resource id, so that the workbook
# opened outside its resource (from the gallery) still knows where to query.
FALLBACK_RESOURCE = "__APPLICATION_INSIGHTS_ID__"
RESOURCE_TYPE = "microsoft.insights/components"
TIME_RANGE = "TimeRange"
LOGS_QUERY = 0  # queryType 0: Azure Monitor Logs (KQL)
ONE_DAY_MS = 86_400_000
SCHEMA = (
    "https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json"
)


@dataclass(frozen=True, slots=True)
class Tile:
    query: str  # file stem in queries/
    title: str
    visualization: str  # timechart, table, barchart...
    width: int = 50  # percent of the row


@dataclass(frozen=True, slots=True)
class Section:
    heading: str
    text: str
    tiles: tuple[Tile, ...]


SECTIONS = (
    Section(
        "Requests",
        "The HTTP API: volume by route and outcome, the failed share and latency percentiles "
        "(the two figures the error-rate and p99 alerts watch), errors by class.",
        (
            Tile("requests-by-route", "Requests by route and outcome", "timechart"),
            Tile("http-error-rate", "Failed requests, % (alert above 5%)", "timechart"),
            Tile("latency-percentiles", "Request duration p50 / p95 / p99, ms", "timechart"),
            Tile("request-duration-by-route", "Request duration by route, ms", "table"),
            Tile("errors-by-type", "Errors by agent and class", "table", 100),
        ),
    ),
    Section(
        "Model calls, tokens and cost",
        "Calls, tokens and spend by agent and model deployment; the response cache's hit rate "
        "and what it saved; Agent Framework's own GenAI duration metric.",
        (
            Tile("llm-calls", "Model calls by deployment and outcome", "timechart"),
            Tile("model-call-duration", "Model call duration (Agent Framework), s", "table"),
            Tile("tokens-by-agent", "Tokens by agent and deployment", "table"),
            Tile("cost-by-agent", "Cost by agent and deployment, USD", "table"),
            Tile("cache-hit-rate", "Response cache hit rate and saved cost", "table"),
            Tile("limiter-wait", "Rate-limit waits by deployment, ms", "table"),
        ),
    ),
    Section(
        "Resilience",
        "Circuit breaker state per deployment (0 closed, 1 half open, 2 open) and its changes; "
        "work refused by a spent budget.",
        (
            Tile("breaker-state", "Breaker state by deployment", "timechart"),
            Tile("breaker-transitions", "Breaker transitions", "table"),
            Tile("budget-refusals", "Budget refusals by tenant, agent and scope", "table", 100),
        ),
    ),
    Section(
        "Runs and items",
        "Batch runs by final status, items finished and failed by reason, retries and deferrals.",
        (
            Tile("runs-finished", "Runs finished by agent and status", "table"),
            Tile("items-finished", "Items finished by outcome", "timechart"),
            Tile("items-failed-by-reason", "Failed items by reason", "table"),
            Tile("retries-and-deferrals", "Retries and deferrals by reason", "table"),
        ),
    ),
    Section(
        "Maintenance",
        "Hourly backups, restores and the daily cost and compliance reports, by outcome.",
        (Tile("maintenance-runs", "Backups, restores and reports", "table", 100),),
    ),
)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def _time_range_parameter() -> dict[str, object]:
    hour = 3_600_000
    durations = (hour, 4 * hour, 12 * hour, ONE_DAY_MS, 3 * ONE_DAY_MS, 7 * ONE_DAY_MS)
    return {
        "type": 9,
        "name": "parameters",
        "content": {
            "version": "KqlParameterItem/1.0",
            "parameters": [
                {
                    "id": "b9c2c1de-6f1a-4a7e-9d52-7f3f7a1e0c01",
                    "version": "KqlParameterItem/1.0",
                    "name": TIME_RANGE,
                    "label": "Time range",
                    "type": 4,
                    "isRequired": True,
                    "value": {"durationMs": ONE_DAY_MS},
                    "typeSettings": {
                        "selectableValues": [{"durationMs": ms} for ms in durations],
                        "allowCustom": True,
                    },
                }
            ],
            "style": "pills",
            "queryType": LOGS_QUERY,
            "resourceType": RESOURCE_TYPE,
        },
    }


def _query_item(tile: Tile) -> dict[str, object]:
    text = (QUERIES / f"{tile.query}.kql").read_text(encoding="utf-8")
    return {
        "type": 3,
        "name": tile.query,
        "customWidth": str(tile.width),
        "content": {
            "version": "KqlItem/1.0",
            "query": text,
            "size": 0,
            "title": tile.title,
            "timeContextFromParameter": TIME_RANGE,
            "queryType": LOGS_QUERY,
            "resourceType": RESOURCE_TYPE,
            "visualization": tile.visualization,
        },
    }


def workbook() -> dict[str, object]:
    items: list[dict[str, object]] = [
        {
            "type": 1,
            "name": "title",
            "content": {
                "json": "# agentops: batch runs in production\n"
                "The production guide's metrics and what an operator of batch runs needs beyond "
                "them, from Application Insights. Queries live in infra/monitoring/queries/."
            },
        },
        _time_range_parameter(),
    ]
    for section in SECTIONS:
        items.append(
            {
                "type": 1,
                "name": f"heading-{_slug(section.heading)}",
                "content": {"json": f"## {section.heading}\n{section.text}"},
            }
        )
        items.extend(_query_item(tile) for tile in section.tiles)
    return {
        "version": "Notebook/1.0",
        "items": items,
        "fallbackResourceIds": [FALLBACK_RESOURCE],
        "$schema": SCHEMA,
    }


def render() -> str:
    return json.dumps(workbook(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="fail if workbook.json differs from the queries"
    )
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(
                f"{OUTPUT.relative_to(HERE.parent.parent)} is stale: "
                "run python infra/monitoring/build_workbook.py",
                file=sys.stderr,
            )
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(HERE.parent.parent)} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
